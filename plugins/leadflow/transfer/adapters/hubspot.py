"""HubSpot: contacts upserted in batches of 100 by a unique property (CRM v3 batch upsert).

Airflow connection: host = API base URL (https://api.hubapi.com, or the sales sandbox), password =
private-app token; extra ``id_property`` (default ``leadflow_id``, a unique property in the portal).
Retries (429/5xx with Retry-After, dropped connections) are urllib3's; the request is an upsert by
the id property, so a repeat is harmless. HubSpot answers a batch as a whole, so a rejected batch
fails each of its records with the error's category.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from leadflow.transfer.adapters.base import AdapterError, OutboundRecord, RecordOutcome, adapter_session

MAX_INPUTS = 100


class HubSpotAdapter:
    name = "hubspot"
    max_batch = MAX_INPUTS

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        id_property: str = "leadflow_id",
        timeout_s: tuple[float, float] = (5, 60),
        attempts: int = 5,
        backoff_s: float = 0.5,
    ):
        self.base_url = base_url.rstrip("/")
        self.id_property = id_property
        self.timeout_s = timeout_s
        self.session = adapter_session(attempts, backoff_s)
        self.session.headers["Authorization"] = f"Bearer {token}"

    @classmethod
    def from_connection(cls, conn: Any, **options: Any) -> HubSpotAdapter:
        extra = conn.extra_dejson or {}
        host = conn.host if "://" in (conn.host or "") else f"https://{conn.host or 'api.hubapi.com'}"
        options.setdefault("id_property", extra.get("id_property", "leadflow_id"))
        return cls(host, conn.password or "", **options)

    def push(self, records: Sequence[OutboundRecord]) -> list[RecordOutcome]:
        if not records:
            return []
        if len(records) > MAX_INPUTS:
            raise ValueError(f"at most {MAX_INPUTS} inputs per request, got {len(records)}")
        body = {
            "inputs": [
                {
                    "idProperty": self.id_property,
                    "id": r.external_id,
                    "properties": {k: v for k, v in r.fields.items() if v is not None},
                }
                for r in records
            ]
        }
        response = self.session.post(
            f"{self.base_url}/crm/v3/objects/contacts/batch/upsert", json=body, timeout=self.timeout_s
        )
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        if response.status_code in (200, 201, 207) and isinstance(payload, dict) and "results" in payload:
            by_id = {str(r.get("properties", {}).get(self.id_property)): r for r in payload["results"]}
            return [
                RecordOutcome(
                    r.external_id, True, str(by_id[r.external_id]["id"]), bool(by_id[r.external_id].get("new"))
                )
                if r.external_id in by_id
                else RecordOutcome(
                    r.external_id,
                    False,
                    error_code="MISSING_FROM_RESPONSE",
                    error_message="MISSING_FROM_RESPONSE",
                    retryable=True,
                )
                for r in records
            ]
        category = payload.get("category") if isinstance(payload, dict) else None
        if response.status_code in (401, 403):
            raise AdapterError(f"HubSpot refused the token: HTTP {response.status_code} {category or ''}".strip())
        if response.status_code == 429 or response.status_code >= 500:
            code = "RATE_LIMIT" if response.status_code == 429 else "SERVER_UNAVAILABLE"
            return [
                RecordOutcome(r.external_id, False, error_code=code, error_message=code, retryable=True)
                for r in records
            ]
        code = category or f"HTTP_{response.status_code}"
        return [RecordOutcome(r.external_id, False, error_code=code, error_message=code) for r in records]

    def close(self) -> None:
        self.session.close()
