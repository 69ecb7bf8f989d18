"""The transfer monitor (Airflow UI plugin) in a real `airflow api-server`: it serves nothing without
an Airflow login, its JSON API is paginated and agrees with the ledger, and in Chromium a user logs
in, opens the plugin entry, a transfer, a bar of its chart, that run's contacts and a contact."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests

from tests.fixtures import ROOT
from tests.integration.monitor_server import Monitor, serve_monitor

pytestmark = pytest.mark.integration
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # the machine has no internet: no background calls to Google's services
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def monitor(pg_server, airflow_db, tmp_path_factory) -> Iterator[Monitor]:
    yield from serve_monitor(pg_server, tmp_path_factory.mktemp("monitor"))


def _ledger(monitor: Monitor) -> dict:
    with psycopg.connect(monitor.database.url()) as conn:
        runs = conn.execute(
            "select run_id::text, selected, succeeded, failed, dead_letter, invalid from ops.transfer_runs"
            " order by started_at"
        ).fetchall()
        items = {
            run_id: conn.execute(
                "select contact_id, status from ops.transfer_items where run_id = %s::uuid", (run_id,)
            ).fetchall()
            for run_id, *_ in runs
        }
        delivered = conn.execute(
            "select i.contact_id, concat_ws(' ', c.first_name, c.last_name), c.email from ops.transfer_items i"
            " join marts.dim_contacts c using (contact_id) where i.status = 'succeeded'"
            " and c.first_name is not null and c.last_name is not null order by i.contact_id limit 1"
        ).fetchone()
    return {"runs": runs, "items": items, "delivered": delivered}


def test_without_an_airflow_login_the_monitor_serves_no_data(monitor):
    ledger = _ledger(monitor)
    run_id = ledger["runs"][1][0]
    contact_id = ledger["delivered"][0]
    paths = [
        "/leadflow/api/v1/transfers",
        f"/leadflow/api/v1/transfers/{monitor.transfer}/runs",
        f"/leadflow/api/v1/runs/{run_id}/contacts",
        f"/leadflow/api/v1/contacts/{contact_id}",
        "/leadflow/api/v1/quality/results",
        "/leadflow/openapi.json",
        "/leadflow/",
        f"/leadflow/runs/{run_id}",
        f"/leadflow/contacts/{contact_id}",
        "/leadflow/quality/docs/index.html",
    ]
    forged = "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJl"
    for path in paths:
        for headers, cookies in (({}, {}), ({"Authorization": f"Bearer {forged}"}, {}), ({}, {"_token": forged})):
            response = requests.get(
                monitor.base + path, headers=headers, cookies=cookies, allow_redirects=False, timeout=30
            )
            assert response.status_code in (401, 403), (path, headers, cookies, response.status_code)
            assert contact_id not in response.text and run_id not in response.text
    # a browser asking for a page is sent to Airflow's login, and back afterwards
    page = requests.get(
        f"{monitor.base}/leadflow/runs/{run_id}", headers={"Accept": "text/html"}, allow_redirects=False, timeout=30
    )
    assert page.status_code == 303
    assert (
        page.headers["location"].startswith("/auth/login") and "next=%2Fleadflow%2Fruns%2F" in page.headers["location"]
    )
    # with a login, the same request answers
    token = monitor.token()
    assert requests.get(f"{monitor.base}{paths[0]}", headers={"Authorization": f"Bearer {token}"}, timeout=30).ok


def test_the_json_api_is_paginated_documented_and_agrees_with_the_ledger(monitor):
    ledger = _ledger(monitor)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {monitor.token()}"
    api = f"{monitor.base}/leadflow/api/v1"

    transfers = session.get(f"{api}/transfers", timeout=30).json()
    assert [t["name"] for t in transfers["items"]] == [monitor.transfer]
    summary = transfers["items"][0]
    assert (summary["status"], summary["marketing_area"], summary["tags"]) == (
        "active",
        "EMEA",
        ["emea", "weekday", "demo"],
    )
    assert summary["totals"]["runs"] == 3
    assert summary["totals"]["succeeded"] == sum(r[2] for r in ledger["runs"])
    assert summary["totals"]["dead_letter"] == sum(r[4] for r in ledger["runs"]) > 0
    assert session.get(f"{api}/transfers", params={"tag": "apac"}, timeout=30).json()["total"] == 0
    assert session.get(f"{api}/transfers", params={"status": "paused"}, timeout=30).json()["total"] == 0

    first, rest = (
        session.get(f"{api}/transfers/{monitor.transfer}/runs", params=p, timeout=30).json()
        for p in ({"limit": 1}, {"limit": 5, "offset": 1})
    )
    assert (first["total"], first["next_offset"], rest["next_offset"]) == (3, 1, None)
    newest_first = [r["run_id"] for r in first["items"] + rest["items"]]
    assert newest_first == [r[0] for r in reversed(ledger["runs"])]

    # the run with dead letters: every contact once across pages, dead letters first
    run_id, selected, *_ = next(r for r in ledger["runs"] if r[4] > 0)
    seen: list[dict] = []
    offset: int | None = 0
    while offset is not None:
        page = session.get(f"{api}/runs/{run_id}/contacts", params={"limit": 7, "offset": offset}, timeout=30).json()
        seen += page["items"]
        offset = page["next_offset"]
    assert sorted((c["contact_id"], c["status"]) for c in seen) == sorted(ledger["items"][run_id])
    statuses = [c["status"] for c in seen]
    assert statuses[0] == "dead_letter" and statuses == sorted(statuses, key=lambda s: s != "dead_letter")
    dead = session.get(f"{api}/runs/{run_id}/contacts", params={"status": "dead_letter"}, timeout=30).json()
    assert dead["total"] == statuses.count("dead_letter") and all(c["error_code"] for c in dead["items"])
    assert session.get(f"{api}/runs/{run_id}/contacts", params={"status": "lost"}, timeout=30).status_code == 422
    assert session.get(f"{api}/runs/{run_id}/contacts", params={"limit": 501}, timeout=30).status_code == 422
    assert session.get(f"{api}/runs/00000000-0000-0000-0000-000000000000", timeout=30).status_code == 404

    contact_id, name, email = ledger["delivered"]
    story = session.get(f"{api}/contacts/{contact_id}", timeout=30).json()
    assert story["contact"]["email"] == email and story["origins"]
    assert isinstance(story["scores"]["lead_score"], int | float)
    assert any(t["status"] == "succeeded" and t["transfer_name"] == monitor.transfer for t in story["transfers"])
    assert session.get(f"{api}/contacts/{email.upper()}", timeout=30).json()["contact"]["contact_id"] == contact_id
    assert session.get(f"{api}/contacts/nobody@example.invalid", timeout=30).status_code == 404

    quality = session.get(f"{api}/quality/results", timeout=30).json()
    assert {r["layer"] for r in quality["items"]} == {"marts", "candidates"}
    page = quality["items"][0]["docs_page"]
    assert session.get(f"{monitor.base}/leadflow/quality/docs/{page}", timeout=30).text.lstrip().startswith("<")
    outside = session.get(f"{monitor.base}/leadflow/quality/docs/..%2F..%2Fpasswords.json", timeout=30)
    assert outside.status_code == 404

    spec = session.get(f"{monitor.base}/leadflow/openapi.json", timeout=30).json()
    assert {"/api/v1/transfers", "/api/v1/runs/{run_id}/contacts", "/api/v1/contacts/{identifier}"} <= set(
        spec["paths"]
    )
    runs_params = {p["name"] for p in spec["paths"]["/api/v1/transfers/{name}/runs"]["get"]["parameters"]}
    assert {"limit", "offset"} <= runs_params
    assert "next_offset" in spec["components"]["schemas"]["Page_RunSummary_"]["properties"]


def _chromium() -> str:
    path = os.environ.get("LEADFLOW_CHROMIUM", "/usr/bin/chromium")
    if not Path(path).exists():
        pytest.fail(
            f"Chromium not found at {path}: the browser tests drive the system Chromium. Install it with "
            "`apt-get install chromium` (.ci/run does when CI=true) or point LEADFLOW_CHROMIUM at one."
        )
    return path


def test_in_chromium_log_in_open_a_transfer_click_a_bar_see_its_contacts_and_open_a_contact(monitor):
    from playwright.sync_api import expect, sync_playwright

    ledger = _ledger(monitor)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    dead_run = next(r for r in ledger["runs"] if r[4] > 0)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 860})
            page.goto(monitor.base + "/")
            page.get_by_label("Username").fill(monitor.user)
            page.get_by_label("Password").fill(monitor.password)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(monitor.base + "/")

            # the plugin's entry in Airflow's navigation opens the overview inside the UI
            page.get_by_role("link", name="Lead transfers").click()
            frame = page.frame_locator("iframe")
            expect(frame.get_by_role("heading", name="Lead transfers")).to_be_visible(timeout=30_000)
            expect(frame.get_by_role("row").filter(has_text=monitor.transfer)).to_contain_text("active")
            page.screenshot(path=ARTIFACTS / "1-overview.png", full_page=True)

            frame.get_by_role("link", name=monitor.transfer, exact=True).click()
            expect(frame.get_by_role("heading", name=monitor.transfer)).to_be_visible()
            bars = frame.locator("svg.chart a")
            expect(bars).to_have_count(3)
            page.screenshot(path=ARTIFACTS / "2-transfer.png", full_page=True)

            # a bar is a link: reach it with the keyboard and open the run with dead letters
            bar = frame.locator(f'svg.chart a[data-run="{dead_run[0]}"]')
            bar.focus()
            page.keyboard.press("Enter")
            expect(frame.get_by_role("heading", name="Run of")).to_be_visible()
            rows = frame.locator("table tbody tr")
            expect(rows).to_have_count(min(len(ledger["items"][dead_run[0]]), 100))
            expect(rows.first).to_have_class("dead")
            expect(rows.first).to_contain_text("dead letter")
            page.screenshot(path=ARTIFACTS / "3-run-with-dead-letters.png", full_page=True)

            # back to the chart, click the newest bar (a clean run) with the mouse
            page.go_back()
            expect(bars).to_have_count(3)
            bars.last.click()
            expect(frame.get_by_role("heading", name="Run of")).to_be_visible()
            page.screenshot(path=ARTIFACTS / "4-run.png", full_page=True)

            contact_id, name, email = ledger["delivered"]
            frame.get_by_placeholder("Contact id or email").fill(email)
            frame.get_by_role("button", name="Find contact").click()
            expect(frame.get_by_role("heading", level=1)).to_contain_text(name)
            expect(frame.get_by_role("heading", level=1)).to_contain_text(contact_id)
            history = frame.locator("table").filter(has_text=monitor.transfer)
            expect(history.first).to_contain_text("succeeded")
            page.screenshot(path=ARTIFACTS / "5-contact.png", full_page=True)

            # and from a run's contact list: the first contact of the clean run
            page.go_back()
            frame.locator("table tbody tr th a").first.click()
            expect(frame.get_by_role("heading", name="Best record", exact=True)).to_be_visible()
        finally:
            browser.close()
