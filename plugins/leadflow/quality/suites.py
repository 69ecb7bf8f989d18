"""Expectation suites as reviewed files: ``expectations/<layer>/<name>.json``.

A suite names what it validates in ``meta``:
- a table (``schema`` + ``table``): the whole table is one batch (marts, transfer candidates);
- a feed ``entity`` (layer ``raw``): every raw table of that entity, one batch per load, so a check
  of a new load reads that load only and its result says which load failed.

Every expectation states its ``severity`` (GX's own field): ``critical`` blocks transfers,
``warning`` is reported. Values known only at run time are GX suite parameters
(``{"$PARAMETER": "name"}``); ``PARAMETERS`` lists the ones leadflow supplies.

Our own expectation types (``leadflow/quality/expectations.py``) are named like GX's. A table
suite's ``expect_column_values_to_be_unique_by_index`` names its column alone: the table it looks
up the unique index of is the suite's own (``meta``), added here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leadflow.settings import project_root
from leadflow.sources.feed import ENTITIES, IDENTIFIER

SEVERITIES = ("critical", "warning")
LAYERS = ("raw", "marts", "candidates")
PARAMETERS = {
    "future_limit": "now plus meta.future_tolerance_hours (timestamps later than this are in the future)",
    "row_count_min": "meta.row_count.min_share × the median row count of the recent loads (0 without history)",
    "row_count_max": "meta.row_count.max_factor × that median (no limit without history)",
}
UNIQUE_BY_INDEX = "expect_column_values_to_be_unique_by_index"


class SuiteError(ValueError):
    """A suite file that cannot be used; the message names the file."""


@dataclass(frozen=True)
class SuiteFile:
    path: Path
    name: str
    layer: str
    expectations: list[dict[str, Any]]
    schema: str | None = None
    table: str | None = None
    entity: str | None = None
    meta: dict[str, Any] | None = None

    @property
    def severity(self) -> str:
        """The highest severity the suite checks."""
        return "critical" if any(e["severity"] == "critical" for e in self.expectations) else "warning"

    @property
    def per_load(self) -> bool:
        return self.entity is not None

    def setting(self, key: str, default: Any) -> Any:
        return (self.meta or {}).get(key, default)


def expectations_dir() -> Path:
    return project_root() / "expectations"


def _parameters_used(value: Any) -> set[str]:
    if isinstance(value, dict):
        if set(value) == {"$PARAMETER"}:
            return {value["$PARAMETER"]}
        return set().union(*(_parameters_used(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_parameters_used(v) for v in value)) if value else set()
    return set()


def load_suite(path: Path) -> SuiteFile:
    """Read and check a suite file: what it validates, and a severity on every expectation."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SuiteError(f"{path}: cannot read suite: {exc}") from exc
    meta = data.get("meta") or {}
    layer = meta.get("layer")
    if layer not in LAYERS:
        raise SuiteError(f"{path}: meta.layer must be one of {', '.join(LAYERS)}, got {layer!r}")
    entity = meta.get("entity")
    if entity is not None:
        if entity not in ENTITIES:
            raise SuiteError(f"{path}: meta.entity must be one of {', '.join(ENTITIES)}, got {entity!r}")
    else:
        for key in ("schema", "table"):
            if not meta.get(key):
                raise SuiteError(f"{path}: meta.{key} is required (or meta.entity for a per-load raw suite)")
            if not IDENTIFIER.match(str(meta[key])):
                # it becomes part of a query: lower-case identifiers only
                raise SuiteError(f"{path}: meta.{key} must be a plain lower-case identifier, got {meta[key]!r}")
    expectations = data.get("expectations") or []
    if not expectations:
        raise SuiteError(f"{path}: no expectations")
    for index, expectation in enumerate(expectations):
        where = f"{path}: expectations[{index}] ({expectation.get('type')})"
        severity = expectation.get("severity")
        if severity not in SEVERITIES:
            raise SuiteError(f"{where}: severity must be one of {', '.join(SEVERITIES)}, got {severity!r}")
        unknown = sorted(_parameters_used(expectation.get("kwargs")) - set(PARAMETERS))
        if unknown:
            known = ", ".join(PARAMETERS)
            raise SuiteError(f"{where}: unknown suite parameter(s) {', '.join(unknown)}; known: {known}")
        if expectation.get("type") == UNIQUE_BY_INDEX:
            expectations[index] = _with_suite_table(expectation, meta, where)
    return SuiteFile(
        path=path,
        name=data.get("name") or f"{layer}.{path.stem}",
        layer=layer,
        expectations=expectations,
        schema=meta.get("schema"),
        table=meta.get("table"),
        entity=entity,
        meta=meta,
    )


def _with_suite_table(expectation: dict[str, Any], meta: dict[str, Any], where: str) -> dict[str, Any]:
    """A uniqueness-by-index check of the suite's own table (one query for every such check)."""
    if meta.get("entity") is not None:
        raise SuiteError(f"{where}: checks a table's unique index, but a per-load suite has no table")
    table = f"{meta['schema']}.{meta['table']}"
    kwargs = expectation.get("kwargs") or {}
    if kwargs.get("table", table) != table:
        raise SuiteError(f"{where}: kwargs.table must be the suite's own table {table}, got {kwargs['table']!r}")
    return {**expectation, "kwargs": {**kwargs, "table": table}}


def layer_suites(layer: str) -> list[SuiteFile]:
    """Every suite of a layer, in file-name order."""
    folder = expectations_dir() / layer
    paths = sorted(folder.glob("*.json"))
    if not paths:
        raise SuiteError(f"no suites in {folder}")
    return [load_suite(path) for path in paths]
