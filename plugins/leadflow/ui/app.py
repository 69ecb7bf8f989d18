"""The transfer monitor: a FastAPI app the Airflow plugin mounts at ``/leadflow`` in the api-server.

HTML pages (rendered on the server, inline SVG chart, no script and no CDN) and a paginated JSON
API under ``/leadflow/api/v1`` (OpenAPI at ``/leadflow/openapi.json``, described on ``/leadflow/api``).
Airflow mounts plugin apps without authentication, so every route here depends on Airflow's own
login and the "Plugins" view permission (a JWT from ``/auth/token`` as Bearer, or the UI's cookie);
a page asked for without a login redirects to Airflow's login page.
"""

from __future__ import annotations

import atexit
import functools
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import psycopg
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from psycopg_pool import ConnectionPool

from leadflow import __version__
from leadflow.settings import load_config
from leadflow.transform.explain import when
from leadflow.ui import queries
from leadflow.ui.chart import run_chart

log = logging.getLogger(__name__)

MOUNT = "/leadflow"
TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
RUNS_PER_PAGE = 50  # the chart and the runs table show the same page of runs
CONTACTS_PER_PAGE = 100


def _num(value: float | Decimal | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, int) or value == int(value):
        return f"{int(value):,}"
    return f"{value:,.2f}"


TEMPLATES.env.filters.update(when=when, num=_num)
Limit = Annotated[int, Query(ge=1, le=500, description="page size (1–500)")]
Offset = Annotated[int, Query(ge=0, description="rows to skip; a page's `next_offset` gives the next page")]


def _require_login() -> Any:
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from airflow.api_fastapi.core_api.security import requires_access_view

    return requires_access_view(AccessView.PLUGINS)


require_login = _require_login()


@functools.cache
def warehouse_pool() -> ConnectionPool:
    """Connections to the warehouse the DAGs write to (the Airflow connection of config/leadflow.yml).

    A small pool per api-server worker: a new PostgreSQL connection costs ~20 ms (authentication and
    a backend process), more than most pages' queries; idle connections close after five minutes.
    """
    from leadflow.warehouse import airflow_database_url

    url = airflow_database_url(load_config().warehouse.conn_id).url()
    pool = ConnectionPool(
        url,
        min_size=0,
        max_size=4,
        max_idle=300,
        timeout=30,
        kwargs={"connect_timeout": 10, "options": "-c statement_timeout=30000"},
        name="leadflow-ui",
        open=True,
    )
    atexit.register(pool.close)
    return pool


def warehouse() -> Iterator[psycopg.Connection]:
    with warehouse_pool().connection() as conn:
        yield conn


Warehouse = Annotated[psycopg.Connection, Depends(warehouse)]


# ---- JSON API

api = APIRouter(prefix="/api/v1", tags=["transfer monitor"])


@api.get("/transfers", summary="Transfers with status, schedule, tags, last run and totals")
def api_transfers(
    conn: Warehouse,
    limit: Limit = 50,
    offset: Offset = 0,
    tag: Annotated[str | None, Query(description="only transfers with this tag")] = None,
    status: Annotated[str | None, Query(description="draft, active, paused or stopped")] = None,
) -> queries.Page[queries.TransferSummary]:
    found = queries.transfers(conn, tag=tag, status=status)
    return queries.Page[queries.TransferSummary].of(found[offset : offset + limit], len(found), limit, offset)


@api.get("/transfers/{name}", summary="One transfer: definition, totals, runs in progress")
def api_transfer(conn: Warehouse, name: str) -> queries.TransferDetail:
    return queries.transfer(conn, name)


@api.get("/transfers/{name}/runs", summary="A transfer's runs, newest first")
def api_runs(conn: Warehouse, name: str, limit: Limit = 50, offset: Offset = 0) -> queries.Page[queries.RunSummary]:
    queries.transfer(conn, name)
    return queries.runs(conn, name, limit, offset)


@api.get("/runs/{run_id}", summary="One run with its counts")
def api_run(conn: Warehouse, run_id: str) -> queries.RunSummary:
    return queries.run(conn, run_id)


@api.get("/runs/{run_id}/contacts", summary="A run's contacts with outcome, attempts and error code")
def api_run_contacts(
    conn: Warehouse,
    run_id: str,
    limit: Limit = 100,
    offset: Offset = 0,
    status: Annotated[str | None, Query(description=f"one of {', '.join(queries.ITEM_STATUSES)}")] = None,
) -> queries.Page[queries.RunContact]:
    queries.run(conn, run_id)  # 404 for an unknown run
    return queries.run_contacts(conn, run_id, limit, offset, _item_status(status))


@api.get("/contacts/{identifier}", summary="Contact 360 by contact id or email")
def api_contact(conn: Warehouse, identifier: str) -> queries.Contact360:
    return queries.contact(conn, identifier)


@api.get("/quality/results", summary="Latest data-quality result per suite and checked table")
def api_quality(conn: Warehouse, limit: Limit = 100, offset: Offset = 0) -> queries.Page[queries.QualityResult]:
    found = queries.quality(conn)
    return queries.Page[queries.QualityResult].of(found[offset : offset + limit], len(found), limit, offset)


def _item_status(status: str | None) -> str | None:
    if status and status not in queries.ITEM_STATUSES:
        raise HTTPException(422, f"status must be one of {', '.join(queries.ITEM_STATUSES)}")
    return status or None


# ---- pages

pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)


def _render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    base = request.scope.get("root_path", "")
    context.update(base=base, airflow=base.removesuffix(MOUNT), version=__version__, now=datetime.now(UTC))
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status_code)


@pages.get("/")
def overview(request: Request, conn: Warehouse, tag: str | None = None, status: str | None = None) -> HTMLResponse:
    everything = queries.transfers(conn)
    shown = queries.only(everything, tag=tag or None, status=status or None)
    return _render(
        request,
        "overview.html",
        transfers=shown,
        total=len(everything),
        tags=queries.all_tags(everything),
        statuses=("draft", "active", "paused", "stopped"),
        tag=tag or "",
        status=status or "",
    )


@pages.get("/transfers/{name}")
def transfer_page(request: Request, conn: Warehouse, name: str, offset: Offset = 0) -> HTMLResponse:
    detail = queries.transfer(conn, name)
    page = queries.runs(conn, name, RUNS_PER_PAGE, offset)
    return _render(request, "transfer.html", transfer=detail, runs=page, chart=run_chart(page.items))


@pages.get("/runs/{run_id}")
def run_page(
    request: Request, conn: Warehouse, run_id: str, offset: Offset = 0, status: str | None = None
) -> HTMLResponse:
    run = queries.run(conn, run_id)
    contacts = queries.run_contacts(conn, run_id, CONTACTS_PER_PAGE, offset, _item_status(status))
    return _render(request, "run.html", run=run, contacts=contacts, status=status or "", statuses=queries.ITEM_STATUSES)


@pages.get("/contacts")
def find_contact(request: Request, q: str = "") -> Response:
    if not q.strip():
        return _render(request, "error.html", 400, title="Find a contact", message="Enter a contact id or an email.")
    return RedirectResponse(f"{request.scope.get('root_path', '')}/contacts/{quote(q.strip(), safe='')}", 303)


@pages.get("/contacts/{identifier}")
def contact_page(request: Request, conn: Warehouse, identifier: str) -> HTMLResponse:
    return _render(request, "contact.html", c=queries.contact(conn, identifier))


@pages.get("/quality")
def quality_page(request: Request, conn: Warehouse) -> HTMLResponse:
    return _render(request, "quality.html", results=queries.quality(conn), docs=_docs_root().exists())


def _docs_root() -> Path:
    from leadflow.quality.checkpoints import data_docs_index

    return data_docs_index().parent


@pages.get("/quality/docs/{path:path}", response_model=None)
def data_docs(path: str) -> FileResponse:
    """GX Data Docs (a static site the quality tasks write), served behind the same login."""
    root = _docs_root().resolve()
    target = (root / (path or "index.html")).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise queries.NotFoundError(f"no Data Docs page {path!r}: run the quality checks first")
    return FileResponse(target)


@pages.get("/api")
def api_page(request: Request) -> HTMLResponse:
    spec = request.app.openapi()
    endpoints = [
        (method.upper(), path, operation)
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    ]
    return _render(request, "api.html", endpoints=endpoints, spec=spec)


ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2">'
    '<path d="M4 20V10M10 20V4M16 20v-7M22 20H2"/></svg>'
)


@pages.get("/icon.svg")
def icon() -> Response:
    return Response(ICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


@pages.get("/openapi.json", response_class=JSONResponse)
def openapi(request: Request) -> dict[str, Any]:
    return request.app.openapi()


# ---- the app


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith(f"{request.scope.get('root_path', '')}/api/v1") and (
        "text/html" in request.headers.get("accept", "")
    )


def create_app() -> FastAPI:
    app = FastAPI(
        title="leadflow transfer monitor",
        version=__version__,
        description=(
            "Transfers, their runs and contacts, contact 360 and data-quality results, read from the "
            "leadflow warehouse. Authenticate like the Airflow REST API: a JWT from `POST /auth/token` "
            "as `Authorization: Bearer …` (or the Airflow UI's session cookie). Lists are paginated "
            "with `limit` and `offset`; a page's `next_offset` is null on the last page."
        ),
        # Swagger UI and ReDoc load their scripts from a CDN; the spec is served behind the login
        # instead, and /leadflow/api describes it without any script
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(require_login)],
    )
    app.include_router(api)
    app.include_router(pages)

    @app.exception_handler(queries.NotFoundError)
    def not_found(request: Request, error: queries.NotFoundError) -> Response:
        if _wants_html(request):
            return _render(request, "error.html", 404, title="Not found", message=str(error))
        return JSONResponse({"detail": str(error)}, status_code=404)

    @app.exception_handler(HTTPException)
    def http_error(request: Request, error: HTTPException) -> Response:
        if error.status_code == 401 and _wants_html(request):
            # not logged in to Airflow: its login page, then back here
            from airflow.api_fastapi.app import get_auth_manager

            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(get_auth_manager().get_url_login(next_url=target), 303)
        if _wants_html(request):
            return _render(request, "error.html", error.status_code, title="Not allowed", message=str(error.detail))
        return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(psycopg.OperationalError)
    def warehouse_down(request: Request, error: psycopg.OperationalError) -> Response:
        log.warning("transfer monitor: the warehouse is not reachable (%s)", type(error).__name__)
        message = "The warehouse is not reachable: is PostgreSQL running (`leadflow db start`)?"
        if _wants_html(request):
            return _render(request, "error.html", 503, title="Warehouse unavailable", message=message)
        return JSONResponse({"detail": message}, status_code=503)

    return app
