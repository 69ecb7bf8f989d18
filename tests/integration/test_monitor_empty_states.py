"""The transfer monitor on a warehouse where nothing has happened yet: every page explains what is
missing and what to do, instead of failing or showing empty tables."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
import yaml
from fastapi.testclient import TestClient

from leadflow.ui.app import create_app, require_login, warehouse
from tests.fixtures import ROOT

pytestmark = pytest.mark.integration


@pytest.fixture
def client(fresh_database, tmp_path, monkeypatch) -> Iterator[TestClient]:
    monkeypatch.setenv("LEADFLOW_TRANSFERS_DIR", str(tmp_path / "transfers"))
    (tmp_path / "transfers").mkdir()
    app = create_app()

    def test_warehouse() -> Iterator[psycopg.Connection]:
        with psycopg.connect(fresh_database.url()) as conn:
            yield conn

    # the login itself is proven against a real api-server (test_transfer_monitor)
    app.dependency_overrides[require_login] = lambda: None
    app.dependency_overrides[warehouse] = test_warehouse
    with TestClient(app, root_path="/leadflow") as client:
        client.headers["Accept"] = "text/html"
        yield client


def test_nothing_defined_nothing_run_nothing_checked_each_page_says_so(client, tmp_path):
    overview = client.get("/")
    assert overview.status_code == 200 and "No transfer is defined yet" in overview.text
    assert client.get("/api/v1/transfers").json() == {
        "items": [], "total": 0, "limit": 50, "offset": 0, "next_offset": None
    }  # fmt: skip

    quality = client.get("/quality")
    assert quality.status_code == 200 and "No quality check has run yet" in quality.text

    contact = client.get("/contacts/ctc_0000000000000000")
    assert contact.status_code == 404 and "run the pipeline first" in contact.text

    run = client.get("/runs/00000000-0000-0000-0000-000000000000")
    assert run.status_code == 404 and "no transfer run with the id" in run.text

    # a defined transfer that never ran: its status comes from the definition, its history explains
    definition = yaml.safe_load((ROOT / "config" / "transfers" / "emea_sales_ready.yml").read_text())
    del definition["initial_status"]
    (tmp_path / "transfers" / "draft.yml").write_text(yaml.safe_dump({**definition, "name": "draft_one"}))
    overview = client.get("/", params={"status": "draft"})
    assert "draft_one" in overview.text and "never run" in overview.text
    assert "No transfer matches" in client.get("/", params={"tag": "nope"}).text
    page = client.get("/transfers/draft_one")
    assert page.status_code == 200
    assert "has not run yet" in page.text and "leadflow transfer activate draft_one" in page.text
    assert client.get("/transfers/unknown").status_code == 404
    assert client.get("/api/v1/transfers/unknown", headers={"Accept": "application/json"}).json() == {
        "detail": "no transfer named 'unknown': it is neither defined in config/transfers nor in the ledger"
    }
    assert client.get("/contacts", params={"q": " "}).status_code == 400
