"""The adapter interface: push a batch of records, get one outcome per record back.

An adapter knows one sales system's API; the transfer runner knows the ledger. Records are
upserted by an external id (the golden contact id), so sending a record twice is harmless — that
is what makes retries and reruns safe. Outcomes carry error codes and field names, never values
(sales systems echo the data in their messages; ops keeps no personal data).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from leadflow.http import retrying_session


@dataclass(frozen=True)
class OutboundRecord:
    external_id: str
    fields: dict[str, Any]  # sales-system field → value


@dataclass(frozen=True)
class RecordOutcome:
    external_id: str
    success: bool
    sales_record_id: str | None = None
    created: bool | None = None
    error_code: str | None = None
    error_message: str | None = None
    retryable: bool = False


class AdapterError(RuntimeError):
    """The request as a whole failed (after the adapter's own retries); the message holds no data."""


class ApiLimitReached(AdapterError):
    """The sales system's API allocation is (nearly) spent: stop cleanly and resume on the next run."""


class SalesAdapter(Protocol):
    name: str
    max_batch: int

    def push(self, records: Sequence[OutboundRecord]) -> list[RecordOutcome]: ...

    def close(self) -> None: ...


def adapter_session(attempts: int, backoff_s: float) -> requests.Session:
    """A session for an upsert API: 429 and 5xx honouring Retry-After, dropped connections too, with
    exponential backoff and jitter. PATCH and POST are retried because every write is an upsert by
    external id (a repeat updates what the first attempt created)."""
    return retrying_session(attempts, backoff_s, methods=("GET", "PATCH", "POST", "PUT"), backoff_max_s=30)
