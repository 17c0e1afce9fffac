"""docs/api.md, the API reference, rendered from the OpenAPI document.

    python -m api.reference > docs/api.md

tests/api/test_docs.py fails when the committed file differs from this output,
so the reference cannot drift from the routes and models it describes.
"""

from __future__ import annotations

import json
from typing import Any

Schema = dict[str, Any]
INTRO = """# Coffer API reference

Generated from the OpenAPI document (`GET /api/v1/openapi.json`, rendered
interactively at `GET /docs`) by `python -m api.reference > docs/api.md`; the
response shapes are the pydantic models in `core/schemas/`, the request bodies
those in `core/inputs.py`. CONTRACT.md is the specification behind both.

- **Keys.** `Authorization: Bearer ck_live_...` (or `ck_test_...`). A server key
  may read the catalog, claim, read claims and participants, and credit points;
  admin endpoints need an admin key (a server key gets `403 forbidden`).
  Another tenant's or mode's object is `404`, never `403`.
- **Errors.** Every error is `application/problem+json`, the [Problem](#problem)
  shape, with `type` and `code` holding the same stable code; a
  `validation_error` lists each refused field in `errors`.
- **Query parameters.** An endpoint accepts only those listed for it: any
  other one is `400 validation_error` naming it, on every endpoint. The query
  string is checked before the key, so such a request is 400 even without one.
- **Idempotency.** A claim and a points credit need an `Idempotency-Key`; the
  same key with the same request returns the original answer with
  `Idempotent-Replayed: true`, with another request `422 idempotency_key_reused`.
- **Request ids.** Every endpoint takes an optional `X-Request-ID` (1-64 of
  `A-Za-z0-9._:-`) to log under, else makes one, and answers it in `X-Request-ID`.
- **Timestamps** are RFC 3339 in UTC to the second (`2026-11-25T22:20:18Z`).
- **`GET /docs`** renders this API interactively (Swagger UI, its files served
  by Coffer from the `flask-swagger-ui` package, so it works offline); it and
  the OpenAPI document need no key.
"""


def _name(reference: str) -> str:
    return reference.rsplit("/", 1)[-1]


def _link(name: str) -> str:
    return f"[{name}](#{name.lower()})"


def type_of(schema: Schema) -> str:
    """A JSON Schema in a few words: `integer 1..200`, `RewardEntry[]`, `string | null`."""
    if "$ref" in schema:
        return _link(_name(schema["$ref"]))
    variants = schema.get("anyOf", schema.get("oneOf"))
    if variants:
        return " | ".join(type_of(s) for s in variants)
    if "const" in schema:
        return f'`"{schema["const"]}"`'
    if "enum" in schema:
        return "one of " + ", ".join(f"`{value}`" for value in schema["enum"])
    if schema.get("type") == "array":
        items = type_of(schema["items"])
        return f"{items}[]" if " " not in items else f"array of ({items})"
    return _scalar(schema)


def _scalar(schema: Schema) -> str:
    kind = str(schema.get("type", "any"))
    if schema.get("format") == "date-time":
        return "timestamp"
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None or high is not None:
        kind += f" {'' if low is None else low}..{'' if high is None else high}"
    low, high = schema.get("minLength"), schema.get("maxLength")
    if low is not None or high is not None:
        kind += f", {low or 0}..{high} characters" if high else f", at least {low} character"
    if "pattern" in schema:
        kind += f" matching `{schema['pattern']}`"
    return kind


def _cell(text: str) -> str:
    return text.replace("\n", " ").replace("|", "\\|") if text else ""


def shape(name: str, schema: Schema) -> list[str]:
    """One component: its description and a table of its members, in wire order."""
    lines = [f"### {name}", ""]
    if schema.get("description"):
        lines += [schema["description"], ""]
    if "oneOf" in schema:
        lines += ["One of " + ", ".join(type_of(s) for s in schema["oneOf"]) + ", told apart by "
                  f"`{schema['discriminator']['propertyName']}`.", ""]  # fmt: skip
    properties: dict[str, Schema] = schema.get("properties", {})
    if properties:
        required = set(schema.get("required", ()))
        lines += ["| member | type | required | meaning |", "|---|---|---|---|"]
        for member, prop in properties.items():
            shown = prop.get("default") is not None and "const" not in prop
            default = f" (default `{json.dumps(prop['default'])}`)" if shown else ""
            lines.append(
                f"| `{member}` | {_cell(type_of(prop))} | {'yes' if member in required else 'no'} "
                f"| {_cell(prop.get('description', ''))}{default} |"
            )
        lines.append("")
    return lines


def _parameter(spec: Schema, parameter: Schema) -> str:
    if "$ref" in parameter:
        parameter = spec["components"]["parameters"][_name(parameter["$ref"])]
    return (
        f"| `{parameter['name']}` | {parameter['in']} | {_cell(type_of(parameter['schema']))} "
        f"| {'yes' if parameter.get('required') else 'no'} "
        f"| {_cell(parameter.get('description', ''))} |"
    )


_REQUEST_ID = {"$ref": "#/components/parameters/RequestId"}  # on every endpoint: in the intro


def operation(spec: Schema, method: str, path: str, op: Schema) -> list[str]:
    """One endpoint: what it does, its parameters, body, answers and errors."""
    lines = [f"### `{method.upper()} {path}`: {op['summary']}", "", op["description"], ""]
    lines += ["| parameter | in | type | required | meaning |", "|---|---|---|---|---|"]
    lines += [_parameter(spec, p) for p in op["parameters"] if p != _REQUEST_ID]
    lines.append("")
    if "requestBody" in op:
        bodies = [f"`{media}` {type_of(body['schema'])}"
                  for media, body in op["requestBody"]["content"].items()]  # fmt: skip
        lines += ["Body: " + " or ".join(bodies) + ".", ""]
    lines += ["| status | answer |", "|---|---|"]
    for status, response in op["responses"].items():
        content = response.get("content", {})
        if "application/problem+json" in content:
            codes = content["application/problem+json"]["schema"]["properties"]["code"]["enum"]
            answer = _link("Problem") + ": " + ", ".join(f"`{code}`" for code in codes) + "."
        elif content:
            media, body = next(iter(content.items()))
            answer = f"{type_of(body['schema'])} (`{media}`). {response['description']}"
        else:
            answer = response["description"]
        headers = [h for h in response.get("headers", {}) if h != "X-Request-ID"]
        if headers:
            answer += " Headers: " + ", ".join(f"`{h}`" for h in headers) + "."
        lines.append(f"| {status} | {_cell(answer)} |")
    return [*lines, ""]


def render(spec: Schema) -> str:
    """The whole reference: endpoints by tag, then every shape."""
    lines = [INTRO]
    for tag in (t["name"] for t in spec["tags"]):
        lines += [f"## {tag}", ""]
        for path, item in spec["paths"].items():
            for method, op in item.items():
                if tag in op["tags"]:
                    lines += operation(spec, method, path, op)
    lines += ["## Shapes", "", "Members appear on the wire in the order listed.", ""]
    for name, schema in spec["components"]["schemas"].items():
        lines += shape(name, schema)
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:  # pragma: no cover - run by hand
    from api.app import create_app  # noqa: PLC0415
    from api.openapi import document  # noqa: PLC0415
    from core.runtime import build_runtime  # noqa: PLC0415
    from core.settings import Settings  # noqa: PLC0415

    settings = Settings(database_url="sqlite://", _env_file=None)  # type: ignore[call-arg]
    print(render(document(create_app(build_runtime(settings), check_schema=False))), end="")


if __name__ == "__main__":
    main()
