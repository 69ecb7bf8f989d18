"""HTTP sessions with urllib3's retries, shared by the REST sources and the sales-system adapters."""

from __future__ import annotations

from collections.abc import Iterable

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry


def retrying_session(
    attempts: int, backoff_s: float, methods: Iterable[str], backoff_max_s: float = Retry.DEFAULT_BACKOFF_MAX
) -> requests.Session:
    """A session that retries 429 and 5xx answers (honouring Retry-After) and connection errors of
    ``methods``, with exponential backoff and jitter."""
    retry = Retry(
        total=attempts,
        backoff_factor=backoff_s,
        backoff_jitter=backoff_s,
        backoff_max=backoff_max_s,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset(methods),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
