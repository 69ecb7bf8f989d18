"""The transfer monitor app: every route it serves sits behind Airflow's login, and lists are paged."""

from __future__ import annotations

from fastapi.routing import APIRoute

from leadflow.ui.app import create_app, require_login
from leadflow.ui.queries import Page


def test_every_route_requires_an_airflow_login():
    app = create_app()
    routes = [r for r in app.routes if isinstance(r, APIRoute)]
    assert len(routes) >= 15
    unguarded = [r.path for r in routes if require_login not in [d.call for d in r.dependant.dependencies]]
    assert unguarded == []
    # nothing mounted beside the routes (a mount would skip the app's dependencies), no CDN docs
    assert [type(r).__name__ for r in app.routes if not isinstance(r, APIRoute)] == []
    assert app.docs_url is None and app.redoc_url is None and app.openapi_url is None


def test_a_page_says_where_the_next_one_starts():
    assert Page.of([1, 2], total=5, limit=2, offset=0).next_offset == 2
    assert Page.of([5], total=5, limit=2, offset=4).next_offset is None
    assert Page.of([], total=0, limit=50, offset=0).model_dump() == {
        "items": [],
        "total": 0,
        "limit": 50,
        "offset": 0,
        "next_offset": None,
    }
