"""What a route says of itself in the API description: arguments, request bodies, answers.

A view declares its role with :func:`service.access.requires` and its contract
with :func:`documented`, both where the route is written::

    @bp.get("/api/studies")
    @requires("viewer")
    @documented("studies", query=StudyQuerySchema, answers={200: ("One page of studies.", StudyPage)})
    def list_studies() -> Response:
        \"\"\"Return one page of studies.\"\"\"

The summary is the docstring's first line, the description the rest of it.
:mod:`service.web.openapi` reads the declarations off ``app.url_map``, so a new
route is described where it is written, and tests/test_openapi.py fails for a
route that declares nothing. Schemas are marshmallow schemas (classes or
instances), or OpenAPI schema objects as dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
HTML = {"text/html": {"type": "string"}}
#: a form's answer that sends the browser on (to the page named in Location)
SEE_OTHER = ("Done: go to the page named in `Location`.", None)
#: the CSRF token of a form, which a browser session must send (a request with an API token need not)
CSRF_FIELD = {"csrf_token": {"type": "string", "description": "The form's CSRF token (not with an API token)"}}
CSV = {"text/csv": {"type": "string"}}
XLSX = {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"type": "string", "format": "binary"}}

#: the attribute of a view function holding its :class:`Operation`
ATTRIBUTE = "api_operation"

View = TypeVar("View", bound=Callable[..., object])
#: a schema: a marshmallow Schema class or instance, or an OpenAPI schema object
SchemaLike = Any
#: an answer: (description, schema of its JSON body) or (description, {media type: schema}) or (description, None)
Answer = tuple[str, SchemaLike | Mapping[str, SchemaLike] | None]


@dataclass(frozen=True)
class Operation:
    """The contract of one view (for every method of its rule)."""

    tag: str
    query: tuple[SchemaLike, ...] = ()
    path: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    headers: tuple[Mapping[str, Any], ...] = ()
    body: Mapping[str, SchemaLike] = field(default_factory=dict)
    answers: Mapping[int, Answer] = field(default_factory=dict)
    errors: Mapping[int, str] = field(default_factory=dict)
    database: bool = True


def documented(
    tag: str,
    *,
    query: SchemaLike | tuple[SchemaLike, ...] = (),
    path: Mapping[str, Mapping[str, Any]] | None = None,
    headers: tuple[Mapping[str, Any], ...] = (),
    body: Mapping[str, SchemaLike] | None = None,
    answers: Mapping[int, Answer],
    errors: Mapping[int, str] | None = None,
    database: bool = True,
) -> Callable[[View], View]:
    """Declare a view's contract for the API description.

    ``query``: a schema whose fields are the query arguments (or several, and
    OpenAPI parameter objects); ``path``: per path argument, a schema object
    refining the one its converter gives; ``body``: media type -> schema;
    ``answers``: status -> (description, JSON schema or {media type: schema});
    ``errors``: status -> when it is answered (the error shape); ``database``:
    whether the view needs the database (503 when it does not answer).
    """
    operation = Operation(
        tag=tag,
        query=query if isinstance(query, tuple) else (query,),
        path=dict(path or {}),
        headers=headers,
        body=dict(body or {}),
        answers=dict(answers),
        errors=dict(errors or {}),
        database=database,
    )

    def declare(view: View) -> View:
        setattr(view, ATTRIBUTE, operation)
        return view

    return declare


def form(*required: str, **fields: Mapping[str, Any]) -> dict[str, Any]:
    """Return the schema of an HTML form's body: ``fields`` (name -> schema), the ``required`` ones, a CSRF token."""
    return {"type": "object", "properties": {**fields, **CSRF_FIELD}, "required": list(required)}


def operation_of(view: Callable[..., object]) -> Operation | None:
    """Return the contract a view declared, or ``None``."""
    found: Operation | None = getattr(view, ATTRIBUTE, None)
    return found
