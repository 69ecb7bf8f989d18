"""Salesforce: Leads upserted by external id through sObject Collections (200 records a request).

OAuth 2.0 client credentials from an Airflow connection whose host is the org's URL (or the sales
sandbox's): login = consumer key, password = consumer secret, extra ``api_version`` (default 62.0)
and ``token_path``. The token is fetched on first use and again once on 401 ``INVALID_SESSION_ID``.
429/5xx and dropped connections are retried with backoff and jitter (Retry-After honoured);
``UNABLE_TO_LOCK_ROW`` comes back as a retryable record outcome; ``REQUEST_LIMIT_EXCEEDED``, or the
``Sforce-Limit-Info`` usage above ``max_api_share`` of the daily allocation, raises
``ApiLimitReached`` so a run stops cleanly and the next one resumes.

Our own client rather than simple-salesforce (or the Airflow Salesforce provider built on it): its
client-credentials login only reaches ``https://<domain>.salesforce.com`` and it always builds
``https://`` URLs, so it cannot point at a sandbox on 127.0.0.1 — and it has no sObject Collections
upsert. The HTTP retry logic is urllib3's.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from typing import Any

import requests

from leadflow.transfer.adapters.base import (
    AdapterError,
    ApiLimitReached,
    OutboundRecord,
    RecordOutcome,
    adapter_session,
)

log = logging.getLogger(__name__)

MAX_RECORDS = 200
RETRYABLE_CODES = {"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED"}
LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")


class SalesforceAdapter:
    name = "salesforce"
    max_batch = MAX_RECORDS

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        api_version: str = "62.0",
        sobject: str = "Lead",
        external_id_field: str = "LeadflowId__c",
        token_path: str = "/services/oauth2/token",
        timeout_s: tuple[float, float] = (5, 60),
        attempts: int = 5,
        backoff_s: float = 0.5,
        max_api_share: float = 0.9,
    ):
        if not re.fullmatch(r"\d+\.\d", api_version) or float(api_version) < 46.0:
            raise ValueError(f"api_version {api_version!r}: sObject Collections upsert needs 46.0 or later")
        for name, value in (("sobject", sobject), ("external_id_field", external_id_field)):
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", value):
                raise ValueError(f"{name} {value!r} is not a Salesforce API name")
        self.base_url = base_url.rstrip("/")
        self.instance_url = self.base_url
        self.client = (client_id, client_secret)
        self.api_version = api_version
        self.sobject = sobject
        self.external_id_field = external_id_field
        self.token_path = token_path
        self.timeout_s = timeout_s
        self.max_api_share = max_api_share
        self.api_usage: tuple[int, int] | None = None
        self.requests = 0
        self.token: str | None = None
        self._token_lock = threading.Lock()
        self.session = adapter_session(attempts, backoff_s)

    @classmethod
    def from_connection(cls, conn: Any, **options: Any) -> SalesforceAdapter:
        """From an Airflow connection (host = URL, login/password = consumer key/secret)."""
        extra = conn.extra_dejson or {}
        host = conn.host if "://" in (conn.host or "") else f"https://{conn.host}"
        settings = {key: extra[key] for key in ("api_version", "token_path") if key in extra}
        return cls(host, conn.login or "", conn.password or "", **settings, **options)

    def _authenticate(self) -> str:
        response = self.session.post(
            self.base_url + self.token_path,
            data={"grant_type": "client_credentials", "client_id": self.client[0], "client_secret": self.client[1]},
            timeout=self.timeout_s,
        )
        if response.status_code != 200:
            error = _json(response) if isinstance(_json(response), dict) else {}
            raise AdapterError(f"Salesforce token request failed: HTTP {response.status_code} {error.get('error', '')}")
        body = response.json()
        self.token = body["access_token"]
        self.instance_url = body.get("instance_url", self.base_url).rstrip("/")
        return self.token

    def _current_token(self) -> str:
        # under the lock: requests of one transfer run on several threads (concurrent_requests)
        # and one token serves them all
        with self._token_lock:
            return self.token if self.token is not None else self._authenticate()

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """An API request with a token, refreshed once on 401; usage read from Sforce-Limit-Info."""
        for attempt in (1, 2):
            token = self._current_token()
            response = self.session.request(
                method,
                f"{self.instance_url}/services/data/v{self.api_version}/{path}",
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                timeout=self.timeout_s,
                **kwargs,
            )
            with self._token_lock:
                self.requests += 1
                self._read_usage(response)
                if response.status_code == 401 and attempt == 1:
                    log.info("Salesforce session expired or invalid: fetching a new token")
                    if self.token == token:  # not renewed by another request meanwhile
                        self.token = None
                    continue
            return response
        return response

    def _read_usage(self, response: requests.Response) -> None:
        match = LIMIT_INFO.search(response.headers.get("Sforce-Limit-Info", ""))
        if match:
            self.api_usage = (int(match[1]), int(match[2]))

    def check_allocation(self) -> None:
        """Stop before the configured share of the daily API allocation is spent."""
        if self.api_usage and self.api_usage[0] >= self.max_api_share * self.api_usage[1]:
            used, limit = self.api_usage
            raise ApiLimitReached(
                f"Salesforce API usage {used}/{limit} reached {self.max_api_share:.0%} of the daily allocation"
            )

    def push(self, records: Sequence[OutboundRecord]) -> list[RecordOutcome]:
        if not records:
            return []
        if len(records) > MAX_RECORDS:
            raise ValueError(f"at most {MAX_RECORDS} records per request, got {len(records)}")
        self.check_allocation()
        body = {
            "allOrNone": False,
            "records": [
                {"attributes": {"type": self.sobject}, **r.fields, self.external_id_field: r.external_id}
                for r in records
            ],
        }
        response = self._request("PATCH", f"composite/sobjects/{self.sobject}/{self.external_id_field}", json=body)
        payload = _json(response)
        if response.status_code != 200 or not isinstance(payload, list):
            code = (
                payload[0].get("errorCode")
                if isinstance(payload, list) and payload and isinstance(payload[0], dict)
                else None
            )
            if code == "REQUEST_LIMIT_EXCEEDED":
                raise ApiLimitReached("Salesforce answered REQUEST_LIMIT_EXCEEDED: the daily API allocation is spent")
            raise AdapterError(f"Salesforce upsert failed: HTTP {response.status_code} {code or ''}".strip())
        if len(payload) != len(records):
            raise AdapterError(f"Salesforce returned {len(payload)} results for {len(records)} records")
        return [_outcome(record, result) for record, result in zip(records, payload, strict=True)]

    def query_by_external_id(
        self, external_ids: Sequence[str], fields: Sequence[str] = ("Id",)
    ) -> list[dict[str, Any]]:
        """Leads with these external ids (SOQL; for checks and reconciliation)."""
        if not all(re.fullmatch(r"[\w.-]+", value) for value in external_ids):
            raise ValueError("external ids must be plain identifiers to be quoted in SOQL")
        for name in fields:
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
                raise ValueError(f"{name!r} is not a Salesforce field name")
        quoted = ", ".join(f"'{value}'" for value in external_ids)
        # SOQL of checked names and values (not SQL)
        selected = ", ".join([*fields, self.external_id_field])
        soql = f"SELECT {selected} FROM {self.sobject} WHERE {self.external_id_field} IN ({quoted})"  # noqa: S608
        response = self._request("GET", "query", params={"q": soql})
        if response.status_code != 200:
            raise AdapterError(f"Salesforce query failed: HTTP {response.status_code}")
        return response.json()["records"]

    def close(self) -> None:
        self.session.close()


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _outcome(record: OutboundRecord, result: dict[str, Any]) -> RecordOutcome:
    if result.get("success"):
        return RecordOutcome(record.external_id, True, result.get("id"), bool(result.get("created")))
    errors = result.get("errors") or [{}]
    code = errors[0].get("statusCode") or "UNKNOWN"
    fields = sorted({name for error in errors for name in error.get("fields") or []})
    # the code and the field names only: Salesforce's messages echo the values sent
    message = code + (f" on {', '.join(fields)}" if fields else "")
    return RecordOutcome(
        record.external_id, False, error_code=code, error_message=message, retryable=code in RETRYABLE_CODES
    )
