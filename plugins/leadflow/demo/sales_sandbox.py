"""`leadflow sandbox`: a local sales system on 127.0.0.1 that speaks the Salesforce and HubSpot
subsets leadflow's adapters use, as documented, so the same adapter works against the real service.

Salesforce (REST API, v46.0 and later):
- ``POST /services/oauth2/token`` — OAuth 2.0 client credentials (form fields or HTTP Basic);
  ``invalid_client`` / ``unsupported_grant_type`` errors; tokens expire (``INVALID_SESSION_ID``, 401).
- ``PATCH /services/data/vXX.X/composite/sobjects/Lead/<ExternalIdField>`` — sObject Collections
  upsert, at most 200 records (else 400 ``EXCEEDED_ID_LIMIT``), each with ``attributes.type``; one
  UpsertResult per record in request order (``id``, ``success``, ``errors``, ``created``); 0 matches
  creates, 1 updates; per-record errors ``REQUIRED_FIELD_MISSING`` (LastName, Company on create),
  ``DUPLICATE_EXTERNAL_ID``, ``MISSING_ARGUMENT``, ``INVALID_TYPE``, ``INVALID_EMAIL_ADDRESS``;
  an unknown field fails the request (400 ``INVALID_FIELD``); ``allOrNone: true`` rolls back all.
- ``GET /services/data/vXX.X/query?q=SELECT … FROM Lead [WHERE f = '…' | f IN ('…')] [LIMIT n]``.
- Every API answer carries ``Sforce-Limit-Info: api-usage=used/limit``; past the daily allocation
  requests get 403 ``REQUEST_LIMIT_EXCEEDED``. (Real Salesforce sends no Retry-After.)

HubSpot (CRM v3): ``POST /crm/v3/objects/contacts/batch/upsert`` with a private-app bearer token, at
most 100 inputs ``{idProperty, id, properties}``; ``{status: COMPLETE, results: [{id, properties,
new, …}]}``; 429 ``RATE_LIMIT`` errors.

Switchable faults (flags, or ``POST /sandbox/faults``): a share of 429 with Retry-After, 500, 503,
slow answers, dropped connections (the upsert is applied, then the connection closes without an
answer — what a crash between sending and recording looks like), per-record validation errors and
``UNABLE_TO_LOCK_ROW``. What it received is kept in its own SQLite database; ``GET /sandbox/leads``,
``/sandbox/contacts`` and ``/sandbox/stats`` expose it for inspection.

Written here rather than taken from a library: no package serves these APIs locally (simple-mockforce
patches simple-salesforce in-process, no HTTP), and the adapters must be tested over real HTTP.
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
import re
import secrets
import sqlite3
import string
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from leadflow.demo.loopback import JsonHandler, LoopbackServer

CLIENT_ID = "leadflow-sandbox"
CLIENT_SECRET = "sandbox-client-secret"  # a local test server's credential, not a secret
HUBSPOT_TOKEN = "pat-sandbox-hubspot"
MAX_COLLECTION = 200
MAX_HUBSPOT_BATCH = 100
MIN_API_VERSION = 46.0
LEAD_FIELDS = {
    "Salutation", "FirstName", "LastName", "Title", "Company", "Email", "Phone", "MobilePhone",
    "Street", "City", "State", "PostalCode", "Country", "CountryCode", "Industry", "NumberOfEmployees",
    "LeadSource", "Status", "Rating", "Description", "Website", "HasOptedOutOfEmail", "OwnerId",
}  # fmt: skip
REQUIRED_ON_CREATE = ("LastName", "Company")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
API_PATH = re.compile(r"^/services/data/v(\d+\.\d)/(.*)$")
SOQL = re.compile(
    r"^\s*select\s+(?P<fields>[\w\s,]+?)\s+from\s+lead"
    r"(?:\s+where\s+(?P<field>\w+)\s*(?:=\s*'(?P<value>[^']*)'|\s+in\s*\((?P<values>[^)]*)\)))?"
    r"(?:\s+limit\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE,
)

SCHEMA = """
create table if not exists leads (
    id text primary key,
    external_field text not null,
    external_id text not null,
    fields text not null,
    created_at text not null,
    updated_at text not null,
    writes integer not null default 1,
    unique (external_field, external_id)
);
create table if not exists hubspot_contacts (
    id text primary key,
    id_property text not null,
    id_value text not null,
    properties text not null,
    created_at text not null,
    updated_at text not null,
    writes integer not null default 1,
    unique (id_property, id_value)
);
"""


@dataclass
class SandboxFaults:
    rate_429: float = 0.0
    retry_after_s: int = 1
    rate_500: float = 0.0
    rate_503: float = 0.0
    slow_ms: int = 0
    drop_rate: float = 0.0
    # the next N upserts do their work and lose their answer, whatever the order requests arrive in
    # (the rates above draw from one seeded generator, in arrival order)
    drop_next: int = 0
    record_error_rate: float = 0.0
    lock_rate: float = 0.0


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class SalesSandbox(LoopbackServer):
    """The server and its state; ``start()`` runs it in a thread (tests, the demo), ``serve()`` in front."""

    def __init__(
        self,
        database: Path | str = ":memory:",
        port: int = 0,
        faults: SandboxFaults | None = None,
        seed: int = 1,
        token_ttl_s: int = 7200,
        daily_limit: int = 100_000,
    ):
        self.faults = faults or SandboxFaults()
        self.rng = random.Random(seed)
        self.lock = threading.RLock()
        self.db = sqlite3.connect(str(database), check_same_thread=False)
        self.db.executescript(SCHEMA)
        self.tokens: dict[str, float] = {}
        self.token_ttl_s = token_ttl_s
        self.daily_limit = daily_limit
        self.stats = {
            "api_requests": 0, "created": 0, "updated": 0, "record_errors": 0, "faults": 0, "dropped": 0,
            "most_upserts_at_once": 0,  # Salesforce upsert requests in progress at the same time, at most
        }  # fmt: skip
        self.upserts_in_progress = 0
        self._listen(_Handler, port)

    def answer_lost(self) -> bool:
        """Whether a served upsert's answer is dropped: one of the next ``drop_next``, else by chance."""
        with self.lock:
            if self.faults.drop_next > 0:
                self.faults.drop_next -= 1
                return True
        return self.roll(self.faults.drop_rate)

    @contextlib.contextmanager
    def upsert_in_progress(self) -> Iterator[None]:
        """Count a Salesforce upsert request while it is served (stats: most_upserts_at_once)."""
        with self.lock:
            self.upserts_in_progress += 1
            self.stats["most_upserts_at_once"] = max(self.stats["most_upserts_at_once"], self.upserts_in_progress)
        try:
            yield
        finally:
            with self.lock:
                self.upserts_in_progress -= 1

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def connections(self, api_version: str = "62.0") -> dict[str, str]:
        """AIRFLOW_CONN_* for the demo's transfers, pointing at this server."""
        return sandbox_connections(self.url, api_version)

    # --- inspection -------------------------------------------------------------------------

    def leads(self, external_id: str | None = None) -> list[dict[str, Any]]:
        """What the sandbox holds as Leads (oldest first), optionally one external id's."""
        with self.lock:
            rows = self.db.execute(
                "select id, external_field, external_id, fields, created_at, updated_at, writes from leads"
                " where ? is null or external_id = ? order by created_at, id",
                (external_id, external_id),
            ).fetchall()
        return [
            {"Id": r[0], "external_field": r[1], "external_id": r[2], "fields": json.loads(r[3]),
             "created_at": r[4], "updated_at": r[5], "writes": r[6]}
            for r in rows
        ]  # fmt: skip

    def hubspot_contacts(self) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.db.execute(
                "select id, id_property, id_value, properties, writes from hubspot_contacts order by created_at, id"
            ).fetchall()
        return [
            {"id": r[0], "id_property": r[1], "id_value": r[2], "properties": json.loads(r[3]), "writes": r[4]}
            for r in rows
        ]

    def reset(self) -> None:
        with self.lock:
            self.db.execute("delete from leads")
            self.db.execute("delete from hubspot_contacts")
            self.db.commit()
            self.stats = dict.fromkeys(self.stats, 0)

    # --- Salesforce -------------------------------------------------------------------------

    def issue_token(self) -> str:
        token = "00D" + secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = time.monotonic() + self.token_ttl_s
        return token

    def token_valid(self, header: str) -> bool:
        if not header.startswith("Bearer "):
            return False
        with self.lock:
            expiry = self.tokens.get(header[7:])
        return expiry is not None and expiry > time.monotonic()

    def _new_id(self) -> str:
        alphabet = string.ascii_letters + string.digits
        with self.lock:
            return "00Q" + "".join(self.rng.choice(alphabet) for _ in range(15))

    def upsert(self, external_field: str, records: list[Any], all_or_none: bool) -> tuple[int, Any]:
        """sObject Collections upsert: (HTTP status, body). One request at a time, like a row lock."""
        if len(records) > MAX_COLLECTION:
            message = f"record limit reached. cannot submit more than {MAX_COLLECTION} records into this call"
            return 400, [{"message": message, "errorCode": "EXCEEDED_ID_LIMIT"}]
        for record in records:
            for name in record if isinstance(record, dict) else []:
                if name not in LEAD_FIELDS and name != "attributes" and not name.endswith("__c"):
                    message = f"No such column '{name}' on sobject of type Lead"
                    return 400, [{"message": message, "errorCode": "INVALID_FIELD"}]
        ids = [str(r.get(external_field) or "") if isinstance(r, dict) else "" for r in records]
        results: list[dict[str, Any]] = []
        with self.lock:
            for record, external_id in zip(records, ids, strict=True):
                error = self._record_error(record, external_field, external_id, ids)
                existing = merged = None
                if error is None:
                    existing = self.db.execute(
                        "select id, fields from leads where external_field = ? and external_id = ?",
                        (external_field, external_id),
                    ).fetchone()
                    fields = {k: v for k, v in record.items() if k != "attributes"}
                    merged = {**(json.loads(existing[1]) if existing else {}), **fields}
                    missing = [f for f in REQUIRED_ON_CREATE if not str(merged.get(f) or "").strip()]
                    if missing:
                        message = f"Required fields are missing: [{', '.join(missing)}]"
                        error = {"statusCode": "REQUIRED_FIELD_MISSING", "message": message, "fields": missing}
                if error is None and self.rng.random() < self.faults.lock_rate:
                    message = "unable to obtain exclusive access to this record or 1 records"
                    error = {"statusCode": "UNABLE_TO_LOCK_ROW", "message": message, "fields": []}
                if error is None and self.rng.random() < self.faults.record_error_rate:
                    message = "Lead rejected by a validation rule (sandbox fault)"
                    error = {"statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "message": message, "fields": []}
                if error is not None:
                    results.append({"success": False, "errors": [error]})
                else:
                    results.append({"write": (existing, external_id, merged)})
            failed = sum("write" not in r for r in results)
            if all_or_none and failed:
                message = (
                    "Record rolled back because not all records were valid and the request was using AllOrNone header"
                )
                rolled = {"statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "message": message, "fields": []}
                return 200, [r if "write" not in r else {"success": False, "errors": [rolled]} for r in results]
            now = _now()
            for index, result in enumerate(results):
                if "write" not in result:
                    continue
                existing, external_id, merged = result["write"]
                if existing is None:
                    record_id = self._new_id()
                    self.db.execute(
                        "insert into leads (id, external_field, external_id, fields, created_at, updated_at)"
                        " values (?, ?, ?, ?, ?, ?)",
                        (record_id, external_field, external_id, json.dumps(merged), now, now),
                    )
                else:
                    record_id = existing[0]
                    self.db.execute(
                        "update leads set fields = ?, updated_at = ?, writes = writes + 1 where id = ?",
                        (json.dumps(merged), now, record_id),
                    )
                self.stats["created" if existing is None else "updated"] += 1
                results[index] = {"id": record_id, "success": True, "errors": [], "created": existing is None}
            self.db.commit()
            self.stats["record_errors"] += failed
        return 200, results

    @staticmethod
    def _record_error(record: Any, external_field: str, external_id: str, ids: list[str]) -> dict[str, Any] | None:
        if not isinstance(record, dict) or (record.get("attributes") or {}).get("type") != "Lead":
            return {"statusCode": "INVALID_TYPE", "message": "Must send a concrete entity type.", "fields": []}
        if not external_id:
            return {"statusCode": "MISSING_ARGUMENT", "message": f"{external_field} not specified", "fields": []}
        if ids.count(external_id) > 1:
            message = f"Duplicate external id specified: {external_id}"
            return {"statusCode": "DUPLICATE_EXTERNAL_ID", "message": message, "fields": [external_field]}
        email = record.get("Email")
        if email and not EMAIL.match(str(email)):
            message = f"Email: invalid email address: {email}"
            return {"statusCode": "INVALID_EMAIL_ADDRESS", "message": message, "fields": ["Email"]}
        return None

    def query(self, soql: str) -> tuple[int, Any]:
        match = SOQL.match(soql)
        if not match:
            return 400, [
                {"message": "unexpected token in the query (sandbox SOQL subset)", "errorCode": "MALFORMED_QUERY"}
            ]
        fields = [f.strip() for f in match["fields"].split(",") if f.strip()]
        with self.lock:
            rows = self.db.execute(
                "select id, external_field, external_id, fields from leads order by created_at, id"
            ).fetchall()
        records = []
        for record_id, external_field, external_id, stored in rows:
            values = {"Id": record_id, **json.loads(stored), external_field: external_id}
            if match["field"]:
                wanted = [match["value"]] if match["value"] is not None else re.findall(r"'([^']*)'", match["values"])
                if str(values.get(match["field"])) not in wanted:
                    continue
            records.append(
                {"attributes": {"type": "Lead", "url": f"/services/data/v62.0/sobjects/Lead/{record_id}"}}
                | {name: values.get(name) for name in fields}
            )
        if match["limit"]:
            records = records[: int(match["limit"])]
        return 200, {"totalSize": len(records), "done": True, "records": records}

    # --- HubSpot ----------------------------------------------------------------------------

    def hubspot_upsert(self, inputs: list[dict[str, Any]]) -> tuple[int, Any]:
        if len(inputs) > MAX_HUBSPOT_BATCH:
            return 400, {
                "status": "error",
                "message": f"Batch input limit exceeded: {MAX_HUBSPOT_BATCH}",
                "category": "VALIDATION_ERROR",
            }
        started, results = _now(), []
        with self.lock:
            for item in inputs:
                id_property, id_value = item.get("idProperty"), str(item.get("id") or "")
                if not id_property or not id_value:
                    return 400, {
                        "status": "error",
                        "message": "idProperty and id are required",
                        "category": "VALIDATION_ERROR",
                    }
                existing = self.db.execute(
                    "select id, properties, created_at from hubspot_contacts where id_property = ? and id_value = ?",
                    (id_property, id_value),
                ).fetchone()
                now = _now()
                properties = {**(json.loads(existing[1]) if existing else {}), **(item.get("properties") or {})}
                if existing:
                    self.db.execute(
                        "update hubspot_contacts set properties = ?, updated_at = ?, writes = writes + 1 where id = ?",
                        (json.dumps(properties), now, existing[0]),
                    )
                    hs_id, created_at = existing[0], existing[2]
                    self.stats["updated"] += 1
                else:
                    hs_id, created_at = str(self.rng.randrange(10**10, 10**11)), now
                    self.db.execute(
                        "insert into hubspot_contacts (id, id_property, id_value, properties, created_at, updated_at)"
                        " values (?, ?, ?, ?, ?, ?)",
                        (hs_id, id_property, id_value, json.dumps(properties), now, now),
                    )
                    self.stats["created"] += 1
                results.append(
                    {
                        "id": hs_id,
                        "properties": {**properties, id_property: id_value},
                        "createdAt": created_at,
                        "updatedAt": now,
                        "archived": False,
                        "new": existing is None,
                    }
                )
            self.db.commit()
        return 200, {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": _now()}


class _Handler(JsonHandler):
    app: SalesSandbox
    content_type = "application/json;charset=UTF-8"  # as Salesforce answers

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _fault(self, hubspot: bool = False) -> bool:
        """Answer with a switched-on fault; True when one was sent."""
        app, faults = self.app, self.app.faults
        if faults.slow_ms:
            time.sleep(faults.slow_ms / 1000)
        if app.roll(faults.rate_429):
            app.stats["faults"] += 1
            body: Any = (
                {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                 "errorType": "RATE_LIMIT", "category": "RATE_LIMITS"}
                if hubspot
                else [{"message": "Too many requests, retry later", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
            )  # fmt: skip
            self._send(429, body, {"Retry-After": str(faults.retry_after_s)})
            return True
        for rate, status in ((faults.rate_503, 503), (faults.rate_500, 500)):
            if app.roll(rate):
                app.stats["faults"] += 1
                message = "Service Unavailable" if status == 503 else "An unexpected error occurred"
                self._send(
                    status,
                    [{"message": message, "errorCode": "SERVER_UNAVAILABLE" if status == 503 else "UNKNOWN_EXCEPTION"}],
                )
                return True
        return False

    def _drop(self) -> None:
        """The work is done but the answer never arrives: close the connection without one."""
        self.app.stats["dropped"] += 1
        self.close_connection = True

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        path = urlsplit(self.path).path
        body = self._body()
        app = self.app
        if path == "/sandbox/faults":
            updates = json.loads(body or b"{}")
            app.faults = SandboxFaults(**{**asdict(app.faults), **updates})
            return self._send(200, asdict(app.faults))
        if path == "/sandbox/reset":
            app.reset()
            return self._send(200, {"reset": True})
        if path == "/services/oauth2/token":
            form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
            basic = self.headers.get("Authorization", "")
            if basic.startswith("Basic "):
                client_id, _, client_secret = base64.b64decode(basic[6:]).decode().partition(":")
                form.setdefault("client_id", client_id)
                form.setdefault("client_secret", client_secret)
            if form.get("grant_type") != "client_credentials":
                return self._send(
                    400, {"error": "unsupported_grant_type", "error_description": "grant type not supported"}
                )
            if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
                return self._send(400, {"error": "invalid_client", "error_description": "invalid client credentials"})
            token = app.issue_token()
            return self._send(
                200,
                {
                    "access_token": token,
                    "signature": base64.b64encode(secrets.token_bytes(32)).decode(),
                    "scope": "api",
                    "instance_url": app.url,
                    "id": f"{app.url}/id/00DSANDBOX000001/005SANDBOX000001",
                    "token_type": "Bearer",
                    "issued_at": str(int(time.time() * 1000)),
                },
            )
        if path == "/crm/v3/objects/contacts/batch/upsert":
            if self.headers.get("Authorization") != f"Bearer {HUBSPOT_TOKEN}":
                return self._send(
                    401,
                    {
                        "status": "error",
                        "message": "Authentication credentials not found.",
                        "category": "INVALID_AUTHENTICATION",
                    },
                )
            if self._fault(hubspot=True):
                return None
            try:
                inputs = json.loads(body)["inputs"]
            except (ValueError, KeyError, TypeError):
                return self._send(
                    400, {"status": "error", "message": "Invalid input JSON", "category": "VALIDATION_ERROR"}
                )
            status, answer = app.hubspot_upsert(inputs)
            if status == 200 and app.answer_lost():
                return self._drop()
            return self._send(status, answer)
        return self._send(404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])

    def _api(self) -> tuple[str, str] | None:
        """(version, rest) of an authorised, counted Salesforce API request; None when answered."""
        app = self.app
        match = API_PATH.match(urlsplit(self.path).path)
        if not match or float(match[1]) < MIN_API_VERSION:
            self._send(404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
            return None
        if not app.token_valid(self.headers.get("Authorization", "")):
            self._send(401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
            return None
        with app.lock:
            app.stats["api_requests"] += 1
            used = app.stats["api_requests"]
        self._limit_header = f"api-usage={min(used, app.daily_limit)}/{app.daily_limit}"
        if used > app.daily_limit:
            self._send(
                403,
                [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
                self._limits(),
            )
            return None
        return match[1], match[2]

    def _limits(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": self._limit_header}

    def do_PATCH(self) -> None:  # noqa: N802
        with self.app.upsert_in_progress():
            self._patch()

    def _patch(self) -> None:
        body = self._body()
        api = self._api()
        if api is None:
            return None
        _, rest = api
        match = re.fullmatch(r"composite/sobjects/(\w+)/(\w+)", rest)
        if not match:
            return self._send(404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
        if match[1] != "Lead":
            return self._send(
                400,
                [
                    {
                        "message": f"sObject type '{match[1]}' is not supported by the sandbox",
                        "errorCode": "INVALID_TYPE",
                    }
                ],
            )
        if self._fault():
            return None
        try:
            request = json.loads(body)
            records = request["records"]
            if not isinstance(records, list):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return self._send(
                400,
                [
                    {
                        "message": "Unexpected body: expected {allOrNone, records: [...]}",
                        "errorCode": "JSON_PARSER_ERROR",
                    }
                ],
            )
        status, answer = self.app.upsert(match[2], records, bool(request.get("allOrNone", False)))
        if status == 200 and self.app.answer_lost():
            return self._drop()
        return self._send(status, answer, self._limits())

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if parts.path == "/sandbox/leads":
            return self._send(200, self.app.leads(query.get("external_id")))
        if parts.path == "/sandbox/contacts":
            return self._send(200, self.app.hubspot_contacts())
        if parts.path == "/sandbox/stats":
            with self.app.lock:
                held = self.app.db.execute(
                    "select count(*), count(*) filter (where external_id like ?) from leads",
                    (query.get("prefix", "") + "%",),
                ).fetchone()
            return self._send(
                200,
                {
                    **self.app.stats,
                    "leads": held[0],
                    "leads_with_prefix": held[1],
                    "faults_switched_on": asdict(self.app.faults),
                },
            )
        api = self._api()
        if api is None:
            return None
        if api[1] != "query":
            return self._send(404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
        if self._fault():
            return None
        status, answer = self.app.query(query.get("q", ""))
        return self._send(status, answer, self._limits())


def serve(database: Path, port: int, faults: SandboxFaults, daily_limit: int) -> None:
    app = SalesSandbox(database, port, faults, daily_limit=daily_limit)
    print(f"sales sandbox on {app.url} (Salesforce + HubSpot subsets; data: {database}; Ctrl-C stops)")
    for key, value in app.connections().items():
        print(f"  export {key}='{value}'")
    try:
        app.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        app.httpd.server_close()


def sandbox_connections(url: str, api_version: str = "62.0") -> dict[str, str]:
    """AIRFLOW_CONN_* for transfers to a sandbox at ``url`` (in this process or another)."""
    salesforce = {
        "conn_type": "http",
        "host": url,
        "login": CLIENT_ID,
        "password": CLIENT_SECRET,
        "extra": {"api_version": api_version},
    }
    hubspot = {"conn_type": "http", "host": url, "password": HUBSPOT_TOKEN}
    return {
        "AIRFLOW_CONN_LEADFLOW_SALES": json.dumps(salesforce),
        "AIRFLOW_CONN_LEADFLOW_HUBSPOT": json.dumps(hubspot),
    }
