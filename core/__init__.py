"""Coffer's core: the rules of rewards, points and claims, free of HTTP and Celery."""
