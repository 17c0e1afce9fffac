"""Gunicorn reads this file from its working directory: the settings shipped in the
package (api/gunicorn_conf.py). From anywhere else, name them:
`gunicorn -c python:api.gunicorn_conf 'api:create_app()'`."""

from api.gunicorn_conf import *  # noqa: F403
from api.gunicorn_conf import on_starting  # noqa: F401 - a hook gunicorn looks up by name
