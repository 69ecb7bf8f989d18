"""`leadflow demo-sources`: four source systems on 127.0.0.1, serving generated data as paginated JSON.

Each system speaks its own dialect, as real ones do, so the source definitions in config/sources/
exercise every pagination style and auth kind:

| system | auth | pagination | resources |
|---|---|---|---|
| email platform | bearer token | cursor in the body | /email/v3/subscribers, /email/v3/events |
| web analytics | basic | offset/limit | /web/api/hits |
| events app | bearer token | page number | /events/api/attendees, /events/api/activities |
| CRM | OAuth 2.0 client credentials | next link in body | /crm/data/contacts, activities, opportunities, campaigns |

Switchable faults (flags, or POST /_faults with JSON): a share of 429 (with Retry-After) and 500
answers, slow pages, malformed records. The data is held in memory: this is a demo and test server.
"""

from __future__ import annotations

import base64
import bisect
import csv
import json
import random
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from leadflow.demo.loopback import JsonHandler, LoopbackServer

TOKENS = {"email": "demo-email-token", "events": "demo-events-token"}
BASIC = ("demo", "demo-web-secret")
OAUTH_CLIENT = ("leadflow-demo", "demo-crm-secret")


@dataclass
class Faults:
    rate_429: float = 0.0
    rate_500: float = 0.0
    slow_ms: int = 0
    malformed_rate: float = 0.0
    retry_after_s: int = 1


@dataclass(frozen=True)
class Resource:
    system: str
    file: str  # generated feed file it serves
    fields: dict[str, str]  # API field: feed column
    stamp: str  # API field of the change time
    style: str  # cursor | offset | page | next_link
    since: str
    until: str | None


RESOURCES: dict[str, Resource] = {
    "/email/v3/subscribers": Resource(
        "email",
        "email__contacts.csv",
        {
            "id": "source_record_id",
            "changed_at": "updated_at",
            "email_address": "email",
            "first_name": "first_name",
            "last_name": "last_name",
            "company": "company",
            "country": "country",
            "area": "marketing_area",
            "opted_in": "email_opt_in",
            "industry": "industry",
            "size": "company_size",
        },
        "changed_at",
        "cursor",
        "changed_since",
        "changed_before",
    ),
    "/email/v3/events": Resource(
        "email",
        "email__interactions.csv",
        {
            "event_id": "source_interaction_id",
            "occurred_at": "occurred_at",
            "type": "interaction_type",
            "email": "email",
            "campaign": "campaign_id",
            "topics": "interests",
            "area": "marketing_area",
        },
        "occurred_at",
        "cursor",
        "changed_since",
        "changed_before",
    ),
    "/web/api/hits": Resource(
        "web",
        "web__interactions.csv",
        {
            "hit_id": "source_interaction_id",
            "ts": "occurred_at",
            "kind": "interaction_type",
            "cookie": "cookie_id",
            "url": "content_url",
            "form_email": "email",
            "interests": "interests",
            "region": "marketing_area",
        },
        "ts",
        "offset",
        "from",
        "to",
    ),
    "/events/api/attendees": Resource(
        "events",
        "events__contacts.csv",
        {
            "attendee_id": "source_record_id",
            "modified": "updated_at",
            "mail": "email",
            "phone": "phone",
            "given_name": "first_name",
            "family_name": "last_name",
            "title": "job_title",
            "organisation": "company",
            "country": "country",
            "region": "marketing_area",
            "sms_opt_in": "phone_opt_in",
        },
        "modified",
        "page",
        "modified_since",
        None,
    ),
    "/events/api/activities": Resource(
        "events",
        "events__interactions.csv",
        {
            "activity_id": "source_interaction_id",
            "modified": "occurred_at",
            "activity": "interaction_type",
            "mail": "email",
            "campaign": "campaign_id",
            "tags": "interests",
            "region": "marketing_area",
        },
        "modified",
        "page",
        "modified_since",
        None,
    ),
    "/crm/data/contacts": Resource(
        "crm",
        "crm__contacts.csv",
        {
            "Id": "source_record_id",
            "LastModifiedDate": "updated_at",
            "Email": "email",
            "Phone": "phone",
            "ContactId": "crm_id",
            "FirstName": "first_name",
            "LastName": "last_name",
            "Title": "job_title",
            "Company": "company",
            "Industry": "industry",
            "Size": "company_size",
            "Country": "country",
            "Area": "marketing_area",
            "EmailOptIn": "email_opt_in",
        },
        "LastModifiedDate",
        "next_link",
        "modified_after",
        "modified_before",
    ),
    "/crm/data/activities": Resource(
        "crm",
        "crm__interactions.csv",
        {
            "Id": "source_interaction_id",
            "ActivityDate": "occurred_at",
            "Type": "interaction_type",
            "ContactId": "crm_id",
            "Area": "marketing_area",
        },
        "ActivityDate",
        "next_link",
        "modified_after",
        "modified_before",
    ),
    "/crm/data/opportunities": Resource(
        "crm",
        "crm__opportunities.csv",
        {
            "Id": "opportunity_id",
            "CreatedDate": "created_at",
            "ContactId": "crm_id",
            "Account": "account",
            "CloseDate": "closed_at",
            "Stage": "status",
            "Amount": "amount",
        },
        "CreatedDate",
        "next_link",
        "modified_after",
        "modified_before",
    ),
    "/crm/data/campaigns": Resource(
        "crm",
        "crm__campaigns.csv",
        {"Id": "campaign_id", "Name": "name", "Channel": "channel", "StartDate": "started_at", "EndDate": "ended_at"},
        "StartDate",
        "next_link",
        "modified_after",
        "modified_before",
    ),
}


def _typed(field: str, value: str) -> Any:
    """Flags as JSON booleans and interest lists as arrays, as APIs send them."""
    if value == "":
        return None
    if field in ("opted_in", "sms_opt_in", "EmailOptIn"):
        return value == "true"
    if field in ("topics", "tags"):
        return value.split("|")
    return value


def load_data(folder: Path) -> dict[str, tuple[list[dict[str, Any]], list[datetime]]]:
    """Per resource: its records sorted by change time, and those times (for bisecting a window)."""
    data: dict[str, tuple[list[dict[str, Any]], list[datetime]]] = {}
    for path, resource in RESOURCES.items():
        rows: list[dict[str, Any]] = []
        file = folder / resource.file
        if file.exists():
            with open(file, newline="", encoding="utf-8") as handle:
                for row in csv.DictReader(handle):
                    rows.append({api: _typed(api, row.get(feed) or "") for api, feed in resource.fields.items()})
        never = datetime.min.replace(tzinfo=UTC)  # unreadable times sort first and always match
        keyed = sorted(((_parse_stamp(str(r[resource.stamp] or "")) or never, r) for r in rows), key=lambda t: t[0])
        data[path] = ([r for _, r in keyed], [t for t, _ in keyed])
    return data


def _parse_stamp(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class DemoSources(LoopbackServer):
    """The server and its state; ``start()`` runs it in a thread (tests, the demo), ``serve()`` in front."""

    def __init__(self, folder: Path, port: int = 0, faults: Faults | None = None, seed: int = 1):
        self.data = load_data(folder)
        self.faults = faults or Faults()
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.tokens: set[str] = set()
        self.requests = 0
        self.faults_served = 0
        self._listen(_Handler, port)

    def connections(self) -> dict[str, str]:
        """AIRFLOW_CONN_* for the demo source definitions, pointing at this server."""

        def conn(auth: str, login: str | None, password: str, **extra: str) -> str:
            return json.dumps(
                {
                    "conn_type": "http",
                    "host": self.url,
                    "login": login,
                    "password": password,
                    "extra": {"auth": auth, **extra},
                }
            )

        return {
            "AIRFLOW_CONN_LEADFLOW_DEMO_EMAIL": conn("bearer", None, TOKENS["email"]),
            "AIRFLOW_CONN_LEADFLOW_DEMO_WEB": conn("basic", *BASIC),
            "AIRFLOW_CONN_LEADFLOW_DEMO_EVENTS": conn("bearer", None, TOKENS["events"]),
            "AIRFLOW_CONN_LEADFLOW_DEMO_CRM": conn("oauth2", *OAUTH_CLIENT, token_url="/crm/oauth/token"),
        }


class _Handler(JsonHandler):
    app: DemoSources

    def _authorised(self, system: str) -> bool:
        header = self.headers.get("Authorization", "")
        if system in TOKENS:
            return header == f"Bearer {TOKENS[system]}"
        if system == "web":
            expected = base64.b64encode(f"{BASIC[0]}:{BASIC[1]}".encode()).decode()
            return header == f"Basic {expected}"
        return header.startswith("Bearer ") and header[7:] in self.app.tokens

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        path = urlsplit(self.path).path
        if path == "/_faults":
            updates = json.loads(body or "{}")
            self.app.faults = Faults(**{**asdict(self.app.faults), **updates})
            return self._send(200, asdict(self.app.faults))
        if path == "/crm/oauth/token":
            expected = base64.b64encode(f"{OAUTH_CLIENT[0]}:{OAUTH_CLIENT[1]}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {expected}" or "client_credentials" not in body:
                return self._send(401, {"error": "invalid_client"})
            token = base64.urlsafe_b64encode(self.app.rng.randbytes(18)).decode()
            self.app.tokens.add(token)
            return self._send(200, {"access_token": token, "token_type": "bearer", "expires_in": 3600})
        return self._send(404, {"error": "not found"})

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        resource = RESOURCES.get(parts.path)
        if resource is None:
            return self._send(404, {"error": "not found"})
        if not self._authorised(resource.system):
            return self._send(401, {"error": "unauthorized"})
        app = self.app
        with app.lock:
            app.requests += 1
        if app.faults.slow_ms:
            time.sleep(app.faults.slow_ms / 1000)
        if app.roll(app.faults.rate_429):
            app.faults_served += 1
            return self._send(429, {"error": "rate limited"}, {"Retry-After": str(app.faults.retry_after_s)})
        if app.roll(app.faults.rate_500):
            app.faults_served += 1
            return self._send(500, {"error": "internal"})
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        rows, stamps = app.data[parts.path]
        since = _parse_stamp(query[resource.since]) if resource.since in query else None
        until = _parse_stamp(query[resource.until]) if resource.until and resource.until in query else None
        # records whose time cannot be read are always sent (they are the broken ones to quarantine)
        unreadable = bisect.bisect_right(stamps, datetime.min.replace(tzinfo=UTC))
        low = bisect.bisect_left(stamps, since) if since else unreadable
        high = bisect.bisect_left(stamps, until) if until else len(stamps)
        rows = rows[:unreadable] + rows[max(low, unreadable) : high]
        body, start, size = {}, 0, 100
        if resource.style == "cursor":
            size = int(query.get("limit", 100))
            start = int(base64.urlsafe_b64decode(query["cursor"]).decode()) if query.get("cursor") else 0
        elif resource.style == "offset":
            size, start = int(query.get("limit", 100)), int(query.get("offset", 0))
        elif resource.style == "page":
            size = int(query.get("per_page", query.get("limit", 100)))
            start = (int(query.get("page", 1)) - 1) * size
        else:
            size, start = int(query.get("limit", 100)), int(query.get("page_token", 0))
        page = [dict(r) for r in rows[start : start + size]]
        for index, record in enumerate(page):
            if app.roll(app.faults.malformed_rate):
                page[index] = "<<corrupted record>>" if index % 2 else {**record, resource.stamp: "31/02/2026 25:61"}
        end = start + size
        more = end < len(rows)
        if resource.style == "cursor":
            cursor = base64.urlsafe_b64encode(str(end).encode()).decode() if more else None
            body = {"data": page, "paging": {"next_cursor": cursor}}
        elif resource.style == "offset":
            body = {"results": page, "total": len(rows)}
        elif resource.style == "page":
            body = {"items": page, "page": start // size + 1, "pages": max(1, -(-len(rows) // size))}
        else:
            next_query = {k: v for k, v in query.items() if k != "page_token"} | {"page_token": end}
            body = {"records": page, "next": f"{parts.path}?{urlencode(next_query)}" if more else None}
        self._send(200, body)


def serve(folder: Path, port: int, faults: Faults) -> None:
    app = DemoSources(folder, port, faults)
    print(f"demo sources on {app.url} from {folder} (Ctrl-C stops)")
    for key, value in app.connections().items():
        print(f"  export {key}='{value}'")
    try:
        app.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        app.stop()
