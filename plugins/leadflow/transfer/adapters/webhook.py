"""Webhook: JSON batches POSTed to a URL, signed with HMAC-SHA256, with an idempotency key.

Airflow connection: host = the URL, password = the shared signing secret. Each request carries
``X-Leadflow-Signature: sha256=<hex HMAC of the body>``, ``X-Leadflow-Timestamp`` and
``Idempotency-Key`` (a hash of the batch's external ids and payloads: a retry of the same batch
sends the same key, so the receiver can drop repeats). Any 2xx accepts the whole batch; a receiver
may answer ``{"results": [{"external_id", "success", "error_code"}]}`` to report per record.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from typing import Any

from leadflow.transfer.adapters.base import AdapterError, OutboundRecord, RecordOutcome, adapter_session

MAX_RECORDS = 1000


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookAdapter:
    name = "webhook"
    max_batch = MAX_RECORDS

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        timeout_s: tuple[float, float] = (5, 60),
        attempts: int = 5,
        backoff_s: float = 0.5,
    ):
        if not secret:
            raise ValueError("a webhook needs a signing secret (the connection's password)")
        self.url = url
        self.secret = secret
        self.timeout_s = timeout_s
        self.session = adapter_session(attempts, backoff_s)

    @classmethod
    def from_connection(cls, conn: Any, **options: Any) -> WebhookAdapter:
        host = conn.host or ""
        url = host if "://" in host else f"https://{host}"
        return cls(url, conn.password or "", **options)

    def push(self, records: Sequence[OutboundRecord]) -> list[RecordOutcome]:
        if not records:
            return []
        batch = [{"external_id": r.external_id, "fields": r.fields} for r in records]
        body = json.dumps({"records": batch}, sort_keys=True, default=str).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Leadflow-Signature": signature(self.secret, body),
            "X-Leadflow-Timestamp": str(int(time.time())),
            "Idempotency-Key": hashlib.sha256(body).hexdigest(),
        }
        response = self.session.post(self.url, data=body, headers=headers, timeout=self.timeout_s)
        if response.status_code in (401, 403):
            raise AdapterError(f"the webhook refused the request: HTTP {response.status_code}")
        if 200 <= response.status_code < 300:
            try:
                reported = {str(r["external_id"]): r for r in response.json().get("results", [])}
            except (ValueError, AttributeError, KeyError, TypeError):
                reported = {}
            outcomes = []
            for record in records:
                result = reported.get(record.external_id, {"success": True})
                if result.get("success", True):
                    outcomes.append(RecordOutcome(record.external_id, True, result.get("id")))
                else:
                    code = str(result.get("error_code") or "REJECTED")
                    outcomes.append(RecordOutcome(record.external_id, False, error_code=code, error_message=code))
            return outcomes
        retryable = response.status_code == 429 or response.status_code >= 500
        code = f"HTTP_{response.status_code}"
        return [
            RecordOutcome(r.external_id, False, error_code=code, error_message=code, retryable=retryable)
            for r in records
        ]

    def close(self) -> None:
        self.session.close()
