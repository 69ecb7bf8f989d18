"""Secrets come from Airflow connections, the environment or a secrets backend, never from the
repository: no committed file outside the tests holds a credential."""

from __future__ import annotations

import re
import subprocess

from tests.fixtures import ROOT

# a password in a URL that is not a placeholder or an interpolation; keys and tokens set to literals
PATTERNS = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "password in a URL": re.compile(r"://[A-Za-z0-9_.-]+:(?!password@|\*\*\*@|\$\{|\{)[^@\s'\"/]+@"),
    "literal credential": re.compile(
        r"(?i)\b(password|passwd|secret|token|api_key|fernet_key)\b\s*[:=]\s*['\"][^'\"${}]{6,}['\"]"
    ),
}
ALLOWED = "not a secret"  # a line that says so: a local test server's own fixed credential


def _committed_files() -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [f for f in out.splitlines() if not f.startswith(("tests/", "requirements")) and not f.endswith(".lock")]


def test_no_committed_file_outside_the_tests_holds_a_credential():
    files = _committed_files()
    assert "dbt_project/profiles.yml" in files and "docker-compose.yml" in files
    found = []
    for name in files:
        try:
            text = (ROOT / name).read_text()
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if ALLOWED in line:
                continue
            found += [f"{name}:{number}: {kind}" for kind, pattern in PATTERNS.items() if pattern.search(line)]
    assert found == []


def test_the_patterns_catch_what_they_are_for():
    leaks = [
        "AIRFLOW_CONN_X: postgresql://leadflow:hunter2hunter2@db:5432/leadflow",
        'password: "correct-horse-battery"',
        "api_key = 'sk_live_0123456789'",
        "-----BEGIN OPENSSH PRIVATE KEY-----",
    ]
    fine = [
        "postgresql://leadflow:${LEADFLOW_DB_PASSWORD:?set in .env}@warehouse:5432/leadflow",
        "postgresql://user:password@host:port/db",
        "password: \"{{ env_var('LEADFLOW_DB_PASSWORD', '') }}\"",
    ]
    assert all(any(p.search(line) for p in PATTERNS.values()) for line in leaks)
    assert not any(p.search(line) for line in fine for p in PATTERNS.values())
