"""The sales sandbox speaks the documented Salesforce/HubSpot subset over real HTTP on 127.0.0.1, and
the Salesforce adapter gets every lead there exactly once through faults, expired tokens and limits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import requests

from leadflow.demo.sales_sandbox import CLIENT_ID, CLIENT_SECRET, HUBSPOT_TOKEN, SalesSandbox, SandboxFaults
from leadflow.transfer.adapters.base import ApiLimitReached, OutboundRecord
from leadflow.transfer.adapters.salesforce import SalesforceAdapter

pytestmark = pytest.mark.integration

UPSERT = "/services/data/v62.0/composite/sobjects/Lead/LeadflowId__c"


@pytest.fixture
def sandbox() -> Iterator[SalesSandbox]:
    app = SalesSandbox(seed=3).start()
    try:
        yield app
    finally:
        app.stop()


def _token(sandbox: SalesSandbox) -> str:
    response = requests.post(
        sandbox.url + "/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        timeout=5,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["instance_url"] == sandbox.url
    return body["access_token"]


def _lead(external_id: str, **fields: str) -> dict:
    return {
        "attributes": {"type": "Lead"},
        "LeadflowId__c": external_id,
        "LastName": "Berg",
        "Company": "Nordlicht",
    } | fields


def _upsert(sandbox: SalesSandbox, token: str, records: list, all_or_none: bool = False) -> requests.Response:
    return requests.patch(
        sandbox.url + UPSERT,
        json={"allOrNone": all_or_none, "records": records},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )


def test_the_token_endpoint_follows_oauth_client_credentials(sandbox):
    wrong = requests.post(
        sandbox.url + "/services/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": "nope"},
        timeout=5,
    )
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_client")
    grant = requests.post(sandbox.url + "/services/oauth2/token", data={"grant_type": "password"}, timeout=5)
    assert grant.json()["error"] == "unsupported_grant_type"
    basic = requests.post(
        sandbox.url + "/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=5,
    )
    assert basic.status_code == 200
    assert _token(sandbox)


def test_collections_upsert_creates_then_updates_by_external_id_with_per_record_results(sandbox):
    token = _token(sandbox)

    first = _upsert(sandbox, token, [_lead("ctc_1"), _lead("ctc_2", Email="anna@example.com")])
    assert first.status_code == 200
    assert first.headers["Sforce-Limit-Info"].startswith("api-usage=1/")
    results = first.json()
    assert [(r["success"], r["created"], r["errors"]) for r in results] == [(True, True, []), (True, True, [])]
    assert all(r["id"].startswith("00Q") and len(r["id"]) == 18 for r in results)

    again = _upsert(sandbox, token, [_lead("ctc_2", Title="CTO")]).json()
    assert again == [{"id": results[1]["id"], "success": True, "errors": [], "created": False}]
    (stored,) = sandbox.leads("ctc_2")
    assert stored["fields"]["Title"] == "CTO" and stored["fields"]["Email"] == "anna@example.com"
    assert stored["writes"] == 2


def test_per_record_errors_take_the_documented_shapes_and_the_rest_of_the_batch_goes_through(sandbox):
    token = _token(sandbox)
    records = [
        _lead("ctc_ok"),
        {"attributes": {"type": "Lead"}, "LeadflowId__c": "ctc_new", "FirstName": "Ann"},
        _lead("ctc_twice"),
        _lead("ctc_twice"),
        _lead("", LastName="x"),
        {"LeadflowId__c": "ctc_untyped", "LastName": "x", "Company": "y"},
        _lead("ctc_mail", Email="not an address"),
    ]
    results = _upsert(sandbox, token, records).json()

    codes = [r["errors"][0]["statusCode"] if r["errors"] else "ok" for r in results]
    assert codes == [
        "ok",
        "REQUIRED_FIELD_MISSING",
        "DUPLICATE_EXTERNAL_ID",
        "DUPLICATE_EXTERNAL_ID",
        "MISSING_ARGUMENT",
        "INVALID_TYPE",
        "INVALID_EMAIL_ADDRESS",
    ]
    assert results[1]["errors"][0]["fields"] == ["LastName", "Company"]
    assert [lead["external_id"] for lead in sandbox.leads()] == ["ctc_ok"]

    rolled_back = _upsert(sandbox, token, [_lead("ctc_a"), {"attributes": {"type": "Lead"}}], all_or_none=True)
    assert [r["success"] for r in rolled_back.json()] == [False, False]
    assert rolled_back.json()[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert sandbox.leads("ctc_a") == []


def test_request_level_errors_limits_and_expired_sessions(sandbox):
    token = _token(sandbox)
    too_many = _upsert(sandbox, token, [_lead(f"ctc_{i}") for i in range(201)])
    assert (too_many.status_code, too_many.json()[0]["errorCode"]) == (400, "EXCEEDED_ID_LIMIT")
    unknown = _upsert(sandbox, token, [_lead("ctc_1", Shoe_Size="44")])
    assert (unknown.status_code, unknown.json()[0]["errorCode"]) == (400, "INVALID_FIELD")
    old_version = requests.patch(
        sandbox.url + UPSERT.replace("v62.0", "v45.0"), json={}, headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert old_version.status_code == 404

    sandbox.expire_tokens()
    expired = _upsert(sandbox, token, [_lead("ctc_1")])
    assert (expired.status_code, expired.json()[0]["errorCode"]) == (401, "INVALID_SESSION_ID")

    sandbox.daily_limit = sandbox.stats["api_requests"] + 1
    token = _token(sandbox)
    assert _upsert(sandbox, token, [_lead("ctc_1")]).status_code == 200
    spent = _upsert(sandbox, token, [_lead("ctc_2")])
    assert (spent.status_code, spent.json()[0]["errorCode"]) == (403, "REQUEST_LIMIT_EXCEEDED")
    assert spent.headers["Sforce-Limit-Info"] == f"api-usage={sandbox.daily_limit}/{sandbox.daily_limit}"


def test_soql_reads_leads_by_external_id(sandbox):
    token = _token(sandbox)
    _upsert(sandbox, token, [_lead("ctc_1"), _lead("ctc_2", Title="CTO"), _lead("ctc_3")])
    response = requests.get(
        sandbox.url + "/services/data/v62.0/query",
        params={"q": "SELECT Id, Title, LeadflowId__c FROM Lead WHERE LeadflowId__c IN ('ctc_2', 'ctc_3')"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    body = response.json()
    assert body["totalSize"] == 2 and body["done"]
    assert [(r["LeadflowId__c"], r["Title"]) for r in body["records"]] == [("ctc_2", "CTO"), ("ctc_3", None)]
    assert body["records"][0]["attributes"]["type"] == "Lead"


def test_hubspot_batch_upsert_by_a_unique_property(sandbox):
    headers = {"Authorization": f"Bearer {HUBSPOT_TOKEN}"}
    url = sandbox.url + "/crm/v3/objects/contacts/batch/upsert"
    inputs = [{"idProperty": "leadflow_id", "id": "ctc_1", "properties": {"email": "anna@example.com"}}]

    first = requests.post(url, json={"inputs": inputs}, headers=headers, timeout=5).json()
    second = requests.post(url, json={"inputs": inputs}, headers=headers, timeout=5).json()

    assert first["status"] == "COMPLETE" and first["results"][0]["new"] is True
    assert second["results"][0]["new"] is False and second["results"][0]["id"] == first["results"][0]["id"]
    too_many = requests.post(url, json={"inputs": inputs * 101}, headers=headers, timeout=5)
    assert too_many.status_code == 400 and too_many.json()["category"] == "VALIDATION_ERROR"
    assert requests.post(url, json={"inputs": inputs}, timeout=5).status_code == 401


def _adapter(sandbox: SalesSandbox, **options) -> SalesforceAdapter:
    conn = SimpleNamespace(**json.loads(sandbox.connections()["AIRFLOW_CONN_LEADFLOW_SALES"]))
    conn.extra_dejson = conn.extra
    return SalesforceAdapter.from_connection(conn, backoff_s=0.01, **options)


def _records(n: int) -> list[OutboundRecord]:
    return [OutboundRecord(f"ctc_{i:05d}", {"LastName": f"Name{i}", "Company": "Acme"}) for i in range(n)]


def test_the_adapter_upserts_in_batches_and_a_resend_updates_instead_of_creating(sandbox):
    adapter = _adapter(sandbox)
    records = _records(450)

    outcomes = [o for start in range(0, 450, 200) for o in adapter.push(records[start : start + 200])]
    resent = adapter.push(records[:200])

    assert all(o.success and o.created for o in outcomes)
    assert all(o.success and o.created is False for o in resent)
    assert len(sandbox.leads()) == 450
    assert adapter.api_usage is not None and adapter.api_usage[0] == 4
    found = adapter.query_by_external_id(["ctc_00001", "ctc_00002"])
    assert sorted(r["LeadflowId__c"] for r in found) == ["ctc_00001", "ctc_00002"]


def test_through_rate_limits_server_errors_dropped_answers_and_locks_every_lead_arrives_once(sandbox):
    sandbox.faults = SandboxFaults(rate_429=0.15, rate_503=0.05, rate_500=0.05, drop_rate=0.1, lock_rate=0.05)
    adapter = _adapter(sandbox, attempts=10)
    pending = _records(1000)

    for _ in range(20):  # what the runner does: push, then re-queue the retryable failures
        if not pending:
            break
        outcomes = [o for start in range(0, len(pending), 200) for o in adapter.push(pending[start : start + 200])]
        assert all(o.success or o.retryable for o in outcomes), {o.error_code for o in outcomes}
        retry = {o.external_id for o in outcomes if not o.success}
        pending = [r for r in pending if r.external_id in retry]

    assert pending == []
    leads = sandbox.leads()
    assert len(leads) == 1000 and len({lead["external_id"] for lead in leads}) == 1000
    assert sandbox.stats["faults"] > 0 and sandbox.stats["dropped"] > 0


def test_an_expired_session_is_renewed_and_the_api_allocation_stops_the_adapter_cleanly(sandbox):
    adapter = _adapter(sandbox, max_api_share=0.5)
    assert all(o.success for o in adapter.push(_records(10)))
    sandbox.expire_tokens()
    assert all(o.success for o in adapter.push(_records(20)))  # a new token, transparently

    sandbox.daily_limit = 6
    adapter.push(_records(5))
    with pytest.raises(ApiLimitReached, match="usage 3/6"):
        adapter.push(_records(5))


def test_record_errors_carry_codes_and_field_names_never_the_values(sandbox):
    adapter = _adapter(sandbox)
    (outcome,) = adapter.push(
        [OutboundRecord("ctc_1", {"LastName": "Berg", "Company": "X", "Email": "anna at example"})]
    )

    assert not outcome.success and not outcome.retryable
    assert (outcome.error_code, outcome.error_message) == ("INVALID_EMAIL_ADDRESS", "INVALID_EMAIL_ADDRESS on Email")


def test_the_hubspot_adapter_upserts_by_its_id_property(sandbox):
    from leadflow.transfer.adapters.hubspot import HubSpotAdapter

    conn = SimpleNamespace(**json.loads(sandbox.connections()["AIRFLOW_CONN_LEADFLOW_HUBSPOT"]), extra_dejson={})
    adapter = HubSpotAdapter.from_connection(conn, backoff_s=0.01)
    records = [OutboundRecord(f"ctc_{i}", {"email": f"p{i}@example.com", "lastname": f"L{i}"}) for i in range(150)]

    first = adapter.push(records[:100]) + adapter.push(records[100:])
    again = adapter.push(records[:10])

    assert all(o.success and o.created for o in first)
    assert all(o.success and o.created is False for o in again)
    assert len(sandbox.hubspot_contacts()) == 150
    assert [o.sales_record_id for o in again] == [o.sales_record_id for o in first[:10]]


def test_the_webhook_adapter_signs_each_batch_and_repeats_its_idempotency_key():
    import hashlib
    import hmac
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from leadflow.transfer.adapters.webhook import WebhookAdapter

    received: list[tuple[dict, dict]] = []

    class Receiver(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
            ok = hmac.compare_digest(expected, self.headers["X-Leadflow-Signature"])
            received.append((dict(self.headers), json.loads(body)))
            records = json.loads(body)["records"]
            results = [
                {"external_id": r["external_id"], "success": r["external_id"] != "ctc_2", "error_code": "DUPLICATE"}
                for r in records
            ]
            answer = json.dumps({"results": results}).encode()
            self.send_response(200 if ok else 401)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        conn = SimpleNamespace(host=f"http://127.0.0.1:{server.server_address[1]}/hooks/leads", password="s3cret")
        adapter = WebhookAdapter.from_connection(conn)
        records = [OutboundRecord(f"ctc_{i}", {"email": f"p{i}@example.com"}) for i in range(3)]
        outcomes = adapter.push(records)
        adapter.push(records)
    finally:
        server.shutdown()

    assert [(o.external_id, o.success, o.error_code) for o in outcomes] == [
        ("ctc_0", True, None),
        ("ctc_1", True, None),
        ("ctc_2", False, "DUPLICATE"),
    ]
    assert received[0][0]["Idempotency-Key"] == received[1][0]["Idempotency-Key"]
    assert received[0][1]["records"][0] == {"external_id": "ctc_0", "fields": {"email": "p0@example.com"}}
