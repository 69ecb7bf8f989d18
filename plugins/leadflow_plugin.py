"""Registers leadflow with Airflow (plugins folder): the "Lead transfers" monitor in the Airflow UI.

Every Airflow process imports this module (scheduler, task runners, `dags test`), so it stays cheap:
the FastAPI app (leadflow.ui.app) is imported on the first request to /leadflow, in the api-server.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin


class _MonitorApp:
    """An ASGI app that builds the monitor on first use."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            from leadflow.ui.app import create_app

            self._app = create_app()
        await self._app(scope, receive, send)

    def __repr__(self) -> str:
        return "leadflow.ui.app:create_app()"


class LeadflowPlugin(AirflowPlugin):
    name = "leadflow"
    fastapi_apps = [{"app": _MonitorApp(), "url_prefix": "/leadflow", "name": "leadflow transfer monitor"}]
    # a top-level entry in the Airflow UI's navigation; the pages render inside the UI (url_route)
    external_views = [
        {
            "name": "Lead transfers",
            "href": "leadflow/",
            "url_route": "lead-transfers",
            "destination": "nav",
            "nav_top_level": True,
            "icon": "leadflow/icon.svg",
        }
    ]
