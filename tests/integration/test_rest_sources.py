"""REST sources against the demo source systems on 127.0.0.1: every pagination style and auth kind,
faults that lose or duplicate nothing, a failed extraction that resumes exactly, exact watermarks."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import requests

from leadflow.demo.generator import Generator
from leadflow.demo.sources_server import DemoSources, Faults
from leadflow.sources.config import load_sources
from leadflow.sources.feed import ENTITIES
from leadflow.sources.rest import RestClient, land_rest_entity

pytestmark = pytest.mark.integration

END = datetime(2030, 1, 1, tzinfo=UTC)
DEMO_SOURCES = {s.name: s for s in load_sources() if s.kind == "rest"}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo-data")
    Generator(300, seed=3, bad_share=0).write(folder, progress=False)
    return folder


@pytest.fixture
def server(data, monkeypatch):
    app = DemoSources(data).start()
    for key, value in app.connections().items():
        monkeypatch.setenv(key, value)
    yield app
    app.stop()


def source_ids(data: Path, system: str, entity: str) -> Counter:
    with open(data / f"{system}__{entity}.csv", newline="") as handle:
        return Counter(row[ENTITIES[entity].id_field] for row in csv.DictReader(handle))


def landed_ids(conn: psycopg.Connection, system: str, entity: str, load_id: str | None = None) -> Counter:
    column = ENTITIES[entity].id_field
    where = "where load_id = %s" if load_id else ""
    rows = conn.execute(f"select {column} from raw.{system}__{entity} {where}", (load_id,) if load_id else ())
    return Counter(r[0] for r in rows)


def client(system: str, **options) -> RestClient:
    return RestClient.from_airflow(DEMO_SOURCES[system].conn_id, **options)


@pytest.mark.parametrize(
    ("system", "entity", "style"),
    [
        ("email", "contacts", "cursor"),
        ("web", "interactions", "offset"),
        ("events", "contacts", "page"),
        ("crm", "contacts", "next_link"),
        ("crm", "campaigns", "next_link"),
    ],
)
def test_every_pagination_style_lands_every_record_once(server, data, fresh_database, system, entity, style):
    assert DEMO_SOURCES[system].entities[entity].pagination.style == style

    with psycopg.connect(fresh_database.url()) as conn:
        result = land_rest_entity(conn, client(system), DEMO_SOURCES[system], entity, END)
        landed = landed_ids(conn, system, entity)

    assert landed == source_ids(data, system, entity)
    assert result.fetched == result.landed == sum(landed.values())


def small_pages(system: str, entity: str, page_size: int = 50):
    """The demo definition of a source with small pages, so a test makes many requests."""
    source = DEMO_SOURCES[system]
    settings = source.entities[entity]
    paging = settings.pagination.model_copy(update={"page_size": page_size})
    return source.model_copy(update={"entities": {entity: settings.model_copy(update={"pagination": paging})}})


def test_rate_limits_and_server_errors_lose_and_duplicate_nothing(server, data, fresh_database):
    server.faults = Faults(rate_429=0.3, rate_500=0.15, retry_after_s=0)

    with psycopg.connect(fresh_database.url()) as conn:
        land_rest_entity(conn, client("email", backoff=0.01), small_pages("email", "interactions"), "interactions", END)
        landed = landed_ids(conn, "email", "interactions")

    assert landed == source_ids(data, "email", "interactions")
    assert server.faults_served >= 5  # the faults were really hit, and retried


def test_a_failed_extraction_lands_nothing_and_the_rerun_lands_everything_once(server, data, fresh_database):
    server.faults = Faults(slow_ms=300)
    slow = client("web", retries=1, backoff=0.01, timeout=(1, 0.1))  # every page times out

    with psycopg.connect(fresh_database.url()) as conn:
        with pytest.raises(requests.RequestException):
            land_rest_entity(conn, slow, DEMO_SOURCES["web"], "interactions", END)
        server.faults = Faults()
        result = land_rest_entity(conn, client("web"), DEMO_SOURCES["web"], "interactions", END)
        statuses = [r[0] for r in conn.execute("select status from ops.loads order by started_at")]
        landed = landed_ids(conn, "web", "interactions")

    assert statuses == ["failed", "succeeded"]
    assert result.watermark_from is None  # the failed load moved no watermark
    assert landed == source_ids(data, "web", "interactions")


def test_watermarks_split_the_history_exactly_across_runs(server, data, fresh_database):
    june = datetime(2026, 6, 1, tzinfo=UTC)
    source = DEMO_SOURCES["events"]  # no upper bound in this API: the window is cut on our side

    with psycopg.connect(fresh_database.url()) as conn:
        first = land_rest_entity(conn, client("events"), source, "interactions", june)
        second = land_rest_entity(conn, client("events"), source, "interactions", END)
        third = land_rest_entity(conn, client("events"), source, "interactions", END)  # a rerun of that window
        early = conn.execute(
            "select count(*) from raw.events__interactions where load_id = %s and occurred_at::timestamptz >= %s",
            (first.load_id, june),
        ).fetchone()[0]
        total = landed_ids(conn, "events", "interactions", first.load_id) + landed_ids(
            conn, "events", "interactions", second.load_id
        )

    assert (first.watermark_from, first.watermark_to) == (None, june)
    assert (second.watermark_from, second.watermark_to) == (june, END)
    assert early == 0
    assert total == source_ids(data, "events", "interactions")
    assert (third.watermark_from, third.landed, third.duplicates) == (june, second.landed, second.landed)


def test_an_expired_oauth_token_is_refreshed(server, data, fresh_database):
    crm = client("crm")
    crm.get("/crm/data/campaigns")  # gets a token
    server.tokens.clear()  # the server forgets every token

    with psycopg.connect(fresh_database.url()) as conn:
        result = land_rest_entity(conn, crm, DEMO_SOURCES["crm"], "campaigns", END)

    assert result.landed == sum(source_ids(data, "crm", "campaigns").values())


def test_wrong_credentials_fail_without_echoing_the_response(server, monkeypatch):
    wrong = {"conn_type": "http", "host": server.url, "password": "wrong", "extra": {"auth": "bearer"}}
    monkeypatch.setenv("AIRFLOW_CONN_LEADFLOW_DEMO_EMAIL", json.dumps(wrong))

    with pytest.raises(requests.HTTPError, match="401 from /email/v3/subscribers"):
        client("email").get("/email/v3/subscribers")


def test_broken_records_are_quarantined_with_their_reason(server, fresh_database):
    server.faults = Faults(malformed_rate=0.2)

    with psycopg.connect(fresh_database.url()) as conn:
        result = land_rest_entity(conn, client("email"), small_pages("email", "contacts"), "contacts", END)
        reasons = dict(conn.execute("select reason, count(*) from raw.quarantine group by 1").fetchall())

    assert result.quarantined > 0
    assert set(reasons) <= {"unparseable record", "unparseable timestamp"}
    assert sum(reasons.values()) == result.quarantined
    assert result.fetched == result.landed + result.quarantined
