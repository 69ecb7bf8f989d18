"""dbt source freshness on the raw tables of the configured sources.

dbt only checks sources declared in YAML, and ours are configuration (``config/sources/*.yml``), so
the declaration is generated from it: ``models/staging/feed/_raw__sources.yml`` (git-ignored,
rewritten before every dbt command ``leadflow dbt`` runs and by ``make``). A table's age is the
end of its newest succeeded load that landed rows (``ops.loads``, via dbt's ``loaded_at_query``):
cheap on any history size, and what "fresh" means for a pipeline — data arrived recently.

The check runs in the transform; stale sources warn (task log and ``ops.quality_results``, layer
``freshness``, severity warning) and never fail the run. cosmos' freshness operator reports only
the names of warnings to a callback; we want each table's age in ops, so we call dbt's runner.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import yaml

from leadflow.quality.results import SuiteResult, record_result
from leadflow.settings import DatabaseUrl, project_root
from leadflow.sources.config import SourceConfig, load_sources
from leadflow.sources.feed import raw_table

log = logging.getLogger(__name__)

SOURCE_NAME = "raw"
# source and entity are checked identifiers (raw_table() validates both) — no quoting needed
LOADED_AT_QUERY = (
    "select max(finished_at) from ops.loads where source_system = '{source}' and entity = '{entity}'"
    " and status = 'succeeded' and landed > 0"
)
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
HEADER = (
    "# Generated from config/sources/*.yml by leadflow (leadflow.transform.freshness): do not edit.\n"
    "# Declares the raw tables of the configured sources so `dbt source freshness` can check them.\n"
)


def sources_file() -> Path:
    return project_root() / "dbt_project" / "models" / "staging" / "feed" / "_raw__sources.yml"


def raw_sources(sources: list[SourceConfig]) -> dict[str, Any]:
    """The dbt sources YAML (as data) for every configured source's raw tables."""
    tables = []
    for source in sorted(sources, key=lambda s: s.name):
        for entity in source.entity_names:
            table = raw_table(source.name, entity)  # checked identifiers: safe inside the query
            hours = source.freshness.warn_after_hours
            freshness = {"warn_after": {"count": max(1, round(hours * 60)), "period": "minute"}} if hours else None
            tables.append(
                {
                    "name": table,
                    "description": f"{entity} landed from {source.name} ({source.kind}); {source.description}".strip(),
                    "config": {
                        "freshness": freshness,
                        "loaded_at_query": LOADED_AT_QUERY.format(source=source.name, entity=entity),
                    },
                }
            )
    return {
        "version": 2,
        "sources": [
            {
                "name": SOURCE_NAME,
                "schema": "raw",
                "description": "Append-only landed records, one table per configured source and entity.",
                "tables": tables,
            }
        ],
    }


def write_sources_file() -> Path:
    """(Re)write the generated declaration; unchanged content is not rewritten (keeps make quiet)."""
    path = sources_file()
    text = HEADER + yaml.safe_dump(raw_sources(load_sources()), sort_keys=False, allow_unicode=True, width=100)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def _partial_parse_state(target: Path) -> Iterator[None]:
    """dbt's partial-parse state of the last check, in and out of a scratch target folder: without
    it every check parses the whole project (5-7 s, beside the dbt tasks on the same cores). A copy
    in and an atomic replace out, so checks running at once never read a half-written file."""
    from leadflow.transform.dbt_tasks import partial_parse_cache

    kept = partial_parse_cache("leadflow_dbt_freshness") / PARTIAL_PARSE_FILE
    if kept.exists():
        shutil.copyfile(kept, target / PARTIAL_PARSE_FILE)
    yield
    parsed = target / PARTIAL_PARSE_FILE
    if parsed.exists():
        kept.parent.mkdir(parents=True, exist_ok=True)
        staged = kept.with_name(f"{PARTIAL_PARSE_FILE}.{os.getpid()}")
        shutil.copyfile(parsed, staged)
        os.replace(staged, kept)


def check_freshness(database: DatabaseUrl, run_id: str | None) -> list[SuiteResult]:
    """Run ``dbt source freshness``, log and record each table's age; stale tables only warn."""
    from dbt.cli.main import dbtRunner

    write_sources_file()
    project = project_root() / "dbt_project"
    with tempfile.TemporaryDirectory(prefix="leadflow-freshness-") as scratch:
        args = ["source", "freshness", "--select", f"source:{SOURCE_NAME}", "--project-dir", str(project)]
        args += ["--profiles-dir", str(project), "--target-path", scratch, "--log-path", scratch, "--quiet"]
        # the results are read from the invocation, not from files: writing manifest.json,
        # semantic_manifest.json and sources.json into the scratch folder was a fifth of each
        # check; nor is its debug log kept (the scratch folder goes, the task log has the results)
        args += ["--no-write-json", "--log-level-file", "none"]
        with _environment(database.dbt_env()), _partial_parse_state(Path(scratch)):
            outcome = dbtRunner().invoke(args)
    if outcome.exception is not None:
        raise RuntimeError(f"dbt source freshness could not run: {outcome.exception}")
    results = []
    for item in outcome.result.results if outcome.result is not None else []:
        if not item.node.unique_id.startswith("source."):
            continue  # the project's on-run-start hooks report here too
        status = str(getattr(item.status, "value", item.status))
        age_hours = round(item.age / 3600, 1) if getattr(item, "age", None) is not None else None
        newest = str(getattr(item, "max_loaded_at", None))
        observed = {"status": status, "max_loaded_at": newest, "age_hours": age_hours}
        fresh = status == "pass"
        results.append(
            SuiteResult(
                suite=f"freshness.{item.node.name}",
                layer="freshness",
                success=fresh,
                severity="warning",
                evaluated_rows=None,
                evaluated_expectations=1,
                failed=[]
                if fresh
                else [{"expectation": "source_freshness", "severity": "warning", "observed": observed}],
                batch=f"raw.{item.node.name}",
            )
        )
        if fresh:
            log.info("freshness raw.%s: fresh (newest load %s h ago)", item.node.name, age_hours)
        else:
            log.warning("freshness raw.%s: STALE (%s; newest load %s h ago)", item.node.name, status, age_hours)
    with psycopg.connect(database.url()) as conn:
        for result in results:
            record_result(conn, result, run_id)
    stale = [r.batch for r in results if not r.success]
    listed = f": {', '.join(stale)}" if stale else ""
    log.info("freshness: %d raw table(s) checked, %d stale%s", len(results), len(stale), listed)
    return results
