"""The web pages medical physicists read: home, one list per modality, study detail.

Server-rendered (Jinja, autoescaped: every string from a DICOM object reaches
the page as text); reading needs no JavaScript. The list pages take the same
arguments as ``GET /api/studies`` (:mod:`schemas.query`), so a filtered list
is a URL that can be bookmarked, shared and exported.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, render_template, request, url_for

from schemas.query import DEFAULT_PAGE_SIZE, StudyQuerySchema, parse_study_query
from service.access import requires
from service.access.redact import redact
from service.errors import NotFound
from service.modalities import MODALITIES
from service.reading.listing import decode_cursor, list_studies
from service.reading.previous import previous_token
from service.web import present
from service.web.apidoc import HTML, documented
from service.web.auth import may_see_patient_key
from service.web.context import get_store
from service.web.study_view import study_view

bp = Blueprint("pages", __name__, template_folder="templates", static_folder="static", static_url_path="/static")


@bp.app_context_processor
def _navigation() -> dict[str, Any]:
    """Give every template the modality titles for the navigation bar."""
    return {"titles": present.titles()}


bp.add_app_template_filter(present.when, "when")
bp.add_app_template_filter(present.text, "text")


@bp.get("/")
@requires("viewer")
@documented("pages", answers={200: ("The page.", HTML)})
def home() -> str:
    """Show counts per modality and per station, each linking into its list."""
    return render_template("home.html", groups=present.home_groups(get_store().tallies()))


@bp.get("/<modality>")
@requires("viewer")
@documented(
    "pages",
    path={"modality": {"enum": [key.lower() for key in MODALITIES], "description": "The list modality"}},
    query=StudyQuerySchema(exclude=("modality",)),
    answers={200: ("The page.", HTML)},
    errors={404: "There is no such list."},
)
def study_list(modality: str) -> str:
    """Show one modality's studies with the filter form, ordering and paging."""
    if modality != modality.lower() or modality.upper() not in MODALITIES:
        raise NotFound(f"Not found: there is no study list at /{modality}; the lists are {list_paths()}.")
    query = parse_study_query(request.args, modality=modality.upper())
    now = datetime.now()
    page = list_studies(get_store(), query, now=now)
    cursor = decode_cursor(query)
    back = previous_token(get_store(), query, cursor, now=now) if cursor else None
    arguments = {k: v for k, v in query.arguments().items() if k != "modality"}  # what exports take
    links = {**arguments, **({"page_size": str(query.page_size)} if query.page_size != DEFAULT_PAGE_SIZE else {})}
    return render_template(
        "list.html",
        modality=query.modality,
        query=query,
        page=page,
        arguments=arguments,
        links=links,
        columns=present.list_columns(modality.upper()),
        form=present.filter_form(modality.upper()),
        orders=present.ORDER_LABELS.items(),
        test_patient_choices=present.LIST_TEST_PATIENTS.items(),
        next_url=page.next and url_for(".study_list", modality=modality, **links, after=page.next),
        previous_url=cursor and url_for(".study_list", modality=modality, **links, **({"after": back} if back else {})),
        charts=present.charts(modality.upper(), arguments),
    )


@bp.get("/studies/<study_instance_uid>")
@requires("viewer")
@documented(
    "pages",
    path={"study_instance_uid": {"description": "The Study Instance UID"}},
    answers={200: ("The page.", HTML)},
    errors={404: "There is no study with this UID."},
)
def study_detail(study_instance_uid: str) -> str:
    """Show one study: header, totals, its events by modality, then every other stored value."""
    document = get_store().get_study(study_instance_uid)
    if not may_see_patient_key():
        redact(document)  # before the page's view is built from it
    return render_template("study.html", study=document, view=study_view(document, request.args))


def list_paths() -> str:
    """Return the paths of the study lists, for messages."""
    return ", ".join(f"/{key.lower()}" for key in MODALITIES)
