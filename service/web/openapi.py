"""The API description (OpenAPI 3.1), generated from the routes and the marshmallow schemas.

:func:`build_spec` walks ``app.url_map``: every rule and method (Flask's
static files excepted) becomes an operation whose summary and description are
the view's docstring, whose role is the one it declared
(:func:`service.access.requires`, as ``x-required-role`` and a security
requirement), and whose arguments, bodies and answers are those it declared
with :func:`service.web.apidoc.documented`, converted by apispec's marshmallow
plugin. Errors the service answers on every route are added here, all in the
one error shape (:class:`schemas.api.Error`): 400 (a malformed or repeated
argument, :mod:`service.web.arguments`), 401 and 403 (sign-in, on routes that
need a role), 413 (a body over the upload limit), 500, and 503 (the database
does not answer).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from importlib import metadata
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask
from marshmallow import Schema, fields
from werkzeug.routing import BaseConverter, Rule
from werkzeug.routing.converters import AnyConverter, FloatConverter, IntegerConverter, PathConverter, UUIDConverter

from schemas.api import Error
from schemas.study import Number, When
from service.access import ROLES, SIGNED_IN, argument_roles, declared_role
from service.access.redact import PID_ARGUMENTS
from service.web.apidoc import JSON, Operation, operation_of

OPENAPI_VERSION = "3.1.0"
#: endpoints that are files, not operations
STATIC = frozenset({"static", "pages.static"})
#: methods Flask answers itself for every route
AUTOMATIC = frozenset({"HEAD", "OPTIONS"})
SECURITY = [{"bearerToken": []}, {"sessionCookie": []}]
#: methods whose requests carry a body
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

INTRODUCTION = """\
DoseLedger keeps each study's radiation-dose reports as one document and answers
searches, exports and dose audits. Every error has one JSON shape,
`{"code", "status", "message", "errors"}` (browsers get an HTML page instead). Each
operation names the role it needs (`x-required-role`): send an API token as
`Authorization: Bearer <token>`, or sign in from a browser (session cookie)."""

#: the groups of operations, in the order the reference page shows them
TAGS: dict[str, str] = {
    "imports": "Dose objects in: DICOM over HTTP (the Storage SCP takes them over DICOM)",
    "studies": "Search studies, read or delete one",
    "exports": "CSV and XLSX of a list's studies",
    "audits": "Dose audits, standard names, reference levels",
    "alerts": "High-dose alerts, their rules, and their answers",
    "patient sizes": "Heights and weights from the RIS",
    "pacs": "Remote PACS nodes, and the query/retrieve runs that fetch their dose objects",
    "event log": "Everything that happened, in order",
    "operations": "Health and metrics",
    "reference": "This description",
    "pages": "The web pages (HTML)",
    "account": "Signing in and out, one's own password",
    "administration": "Users and API tokens",
}

COMMON_ERRORS: dict[int, str] = {
    400: "An argument is malformed, unknown, or given more than once, or the query string is not UTF-8.",
    401: "No credentials, or credentials that are not valid.",
    403: "The credentials lack the role the operation needs.",
    404: "No such path: a path argument the route does not take.",
    413: "The request body is larger than DOSELEDGER_MAX_UPLOAD_BYTES.",
    429: "Too many failed sign-ins or unknown tokens from this address: wait as long as Retry-After says.",
    500: "An unexpected error, logged with its traceback.",
    503: "The database does not answer.",
}

#: a date-time as stored, without a UTC offset (ISO 8601; DICOM's are the modality's local time, DoseLedger's UTC)
LOCAL_DATE_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?$"
#: a path argument in a Werkzeug rule: ``<name>``, ``<converter:name>``, ``<converter(args):name>``
_ARGUMENT = re.compile(r"<(?:[A-Za-z_]\w*(?:\([^)]*\))?:)?(?P<name>[A-Za-z_]\w*)>")


def build_spec(app: Flask) -> dict[str, Any]:
    """Return the OpenAPI description of every route of ``app``."""
    plugin = MarshmallowPlugin(schema_name_resolver=schema_name)
    spec = APISpec(
        title="DoseLedger API",
        version=_version(),
        openapi_version=OPENAPI_VERSION,
        plugins=[plugin],
        info={"description": INTRODUCTION, "license": {"name": "GPL-3.0-or-later", "identifier": "GPL-3.0-or-later"}},
    )
    _teach(plugin)
    for name, description in TAGS.items():
        spec.tag({"name": name, "description": description})
    spec.components.schema("Error", schema=Error)
    spec.components.security_scheme(
        "bearerToken", {"type": "http", "scheme": "bearer", "description": "An API token of a DoseLedger user."}
    )
    cookie = str(app.config.get("SESSION_COOKIE_NAME") or "session")
    spec.components.security_scheme(
        "sessionCookie", {"type": "apiKey", "in": "cookie", "name": cookie, "description": "A browser's sign-in."}
    )
    for path, operations in _paths(app):
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def schema_name(schema: type[Schema] | Schema) -> str | None:
    """Name a schema's component (``StudyQuerySchema`` -> ``StudyQuery``); inline a schema cut with only/exclude."""
    if isinstance(schema, Schema) and (schema.only or schema.exclude):
        return None
    cls = schema if isinstance(schema, type) else type(schema)
    return cls.__name__.removesuffix("Schema") or cls.__name__


def openapi_path(rule: Rule) -> str:
    """Return a rule's path in OpenAPI's templating: ``/api/exports/<modality>.<any(csv, xlsx):fmt>`` -> ``{...}``."""
    return _ARGUMENT.sub(lambda m: "{" + m["name"] + "}", rule.rule)


def described_rules(app: Flask) -> Iterator[tuple[Rule, str]]:
    """Yield every rule and method the description covers (not static files, not HEAD or OPTIONS)."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint in STATIC:
            continue
        for method in sorted((rule.methods or set()) - AUTOMATIC):
            yield rule, method


def _version() -> str:
    try:
        return metadata.version("doseledger")
    except metadata.PackageNotFoundError:  # running from a checkout that was never installed
        return "0"


def _teach(plugin: MarshmallowPlugin) -> None:
    """Map the study schema's own fields, and turn field labels and units into descriptions."""
    plugin.map_to_openapi_type(Number, "number", None)
    plugin.map_to_openapi_type(When, "string", None)
    assert plugin.converter is not None
    plugin.converter.add_attribute_function(_labels)
    plugin.converter.add_parameter_attribute_function(_empty_allowed)


def _labels(self: object, field: fields.Field, ret: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Describe a field with its label and unit (schemas.study metadata); give a Number its minimum."""
    extra: dict[str, Any] = {}
    if isinstance(field, Number) and field.minimum is not None:
        extra["minimum"] = field.minimum
    if isinstance(field, When):
        extra["pattern"] = LOCAL_DATE_TIME
    label, unit = field.metadata.get("label"), field.metadata.get("unit")
    if label and "description" not in ret:
        extra["description"] = f"{label} ({unit})" if unit else label
    if unit:
        extra["x-unit"] = unit
    return extra


def _empty_allowed(self: object, field: fields.Field, **kwargs: Any) -> dict[str, Any]:
    """Say that an empty argument is accepted (as no argument) where the schema says so."""
    return {"allowEmptyValue": True} if getattr(field.parent, "EMPTY_MEANS_ABSENT", False) else {}


def _paths(app: Flask) -> Iterator[tuple[str, dict[str, Any]]]:
    paths: dict[str, dict[str, Any]] = {}
    for rule, method in described_rules(app):
        operations = paths.setdefault(openapi_path(rule), {})
        operations[method.lower()] = _operation(app.view_functions[rule.endpoint], rule, method)
    yield from paths.items()


def _operation(view: Callable[..., object], rule: Rule, method: str) -> dict[str, Any]:
    """Describe one method of one rule."""
    declared = operation_of(view) or Operation(tag="undescribed")
    # docstrings are reStructuredText: ``literal`` is Markdown's `literal`
    summary, _, rest = (view.__doc__ or rule.endpoint).replace("``", "`").strip().partition("\n")
    role = _role(view)
    conditions = _argument_roles(view, declared)
    body = declared.body if method in BODY_METHODS else {}  # a view of GET and POST takes its form on POST
    operation: dict[str, Any] = {
        "operationId": rule.endpoint if len(set(rule.methods or ()) - AUTOMATIC) == 1 else f"{rule.endpoint}_{method}",
        "tags": [declared.tag],
        "summary": summary.strip(),
        "description": _description(rest, role, conditions),
        "parameters": [*_path_parameters(rule, declared), *_query(declared), *fresh(declared.headers)],
        "responses": _responses(declared, role is not None, bool(body), bool(rule.arguments)),
        "security": SECURITY if role is not None else [],
    }
    if role is not None:
        operation["x-required-role"] = role
    if conditions:
        operation["x-argument-roles"] = conditions
    if body:
        operation["requestBody"] = {"required": True, "content": _content(body)}
    return operation


def _role(view: Callable[..., object]) -> str | None:
    """Return the role a view declared (a view that declared none is refused: it needs one it can never have)."""
    try:
        return declared_role(view)
    except LookupError:
        return "undeclared"


def _argument_roles(view: Callable[..., object], declared: Operation) -> dict[str, str]:
    """Return the further roles some arguments need: ``{"format=csv": "exporter", "patient_key": "pid"}``."""
    conditions = argument_roles(view)
    names = {name for item in declared.query for name in _argument_names(item)}
    conditions.update({name: "pid" for name in PID_ARGUMENTS if name in names})
    return conditions


def _argument_names(item: Any) -> list[str]:
    if isinstance(item, Mapping):
        return [item["name"]]
    schema = item() if isinstance(item, type) else item
    return [field.data_key or name for name, field in schema.fields.items()]


def _description(rest: str, role: str | None, conditions: Mapping[str, str]) -> str:
    text = "\n".join(line.strip() for line in rest.strip().splitlines())
    if role is None:
        needs = "Open to anyone."
    elif role == SIGNED_IN:
        needs = "Needs a signed-in user or an API token, whatever its roles."
    elif role in ROLES:
        needs = f"Needs the role `{role}` ({ROLES[role]})."
    else:
        needs = f"Needs credentials ({role})."
    for condition, extra in conditions.items():
        needs += f" With `{condition}`{'' if '=' in condition else ' given'}, also `{extra}`."
    return f"{text}\n\n{needs}".strip()


def _path_parameters(rule: Rule, declared: Operation) -> Iterator[dict[str, Any]]:
    for name, converter in rule._converters.items():
        schema = {**converter_schema(converter), **declared.path.get(name, {})}
        description = schema.pop("description", None)
        parameter = {"in": "path", "name": name, "required": True, "schema": schema}
        if description:
            parameter["description"] = description
        yield parameter


def converter_schema(converter: BaseConverter) -> dict[str, Any]:
    """Return the schema of the values a Werkzeug converter accepts."""
    if isinstance(converter, AnyConverter):
        return {"type": "string", "enum": sorted(converter.items)}
    if isinstance(converter, IntegerConverter):
        return {"type": "integer", "minimum": 0}
    if isinstance(converter, FloatConverter):
        return {"type": "number", "minimum": 0}
    if isinstance(converter, UUIDConverter):
        return {"type": "string", "format": "uuid"}
    if isinstance(converter, PathConverter):
        return {"type": "string", "pattern": "^[^/].*$"}
    return {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}


def _query(declared: Operation) -> Iterator[Any]:
    for item in declared.query:
        if isinstance(item, Mapping):
            yield {"in": "query", "required": False, **fresh(item)}
        else:
            yield {"in": "query", "schema": item}


def _content(media: Mapping[str, Any]) -> dict[str, Any]:
    return {kind: {"schema": fresh(schema)} for kind, schema in media.items()}


def fresh(value: Any) -> Any:
    """Copy the dicts and lists of a declared schema (apispec resolves them in place), not the schemas in them."""
    if isinstance(value, Mapping):
        return {key: fresh(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [fresh(item) for item in value]
    return value


def _responses(declared: Operation, needs_role: bool, has_body: bool, has_path: bool) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    html = False
    for status, (description, body) in declared.answers.items():
        response: dict[str, Any] = {"description": description}
        if body is not None:
            media = body if isinstance(body, Mapping) and not _is_schema_object(body) else {JSON: body}
            html = html or "text/html" in media
            response["content"] = _content(media)
        responses[str(status)] = response
    for status, description in _errors(declared, needs_role, has_body, has_path).items():
        error = {JSON: {"$ref": "#/components/schemas/Error"}}
        if html:
            error["text/html"] = {"type": "string"}
        answered = responses.get(str(status))  # a page may answer this status itself (the form again)
        if answered:
            description = f"{answered['description']} {description}"
            error = {**error, **{kind: item["schema"] for kind, item in answered.get("content", {}).items()}}
        responses[str(status)] = {"description": description, "content": _content(error)}
    return dict(sorted(responses.items()))


def _is_schema_object(body: Mapping[str, Any]) -> bool:
    """Tell an OpenAPI schema object (``{"type": ...}``) from a media-type map."""
    return bool({"type", "$ref", "items", "oneOf", "anyOf", "allOf"} & set(body))


def _errors(declared: Operation, needs_role: bool, has_body: bool, has_path: bool) -> dict[int, str]:
    wanted = {400, 500}
    wanted |= {404} if has_path else set()
    wanted |= {401, 403, 429} if needs_role else set()
    wanted |= {413} if has_body else set()
    wanted |= {503} if declared.database or needs_role else set()  # sign-in reads the database too
    errors = {status: COMMON_ERRORS[status] for status in wanted}
    for status, description in declared.errors.items():
        errors[status] = f"{description} {errors[status]}" if status in errors else description
    return dict(sorted(errors.items()))
