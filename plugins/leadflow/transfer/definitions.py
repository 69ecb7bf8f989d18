"""Transfer definitions: one YAML file per recurring hand-over in ``config/transfers/``.

Marketing ops write these; the DAG factory turns each into a transfer DAG. The target group is a
list of conditions on columns of ``marts.transfer_candidates`` from an allow-list, turned into SQL
with identifiers and parameters — never interpolated. Errors name the file, the field and the problem.

    name: emea_sales_ready
    description: EMEA leads at MQL or SQL with a good profile, every weekday morning
    marketing_area: EMEA
    target_group:
      - {column: stage, op: in, value: [mql, sql]}
      - {column: profile_grade, op: in, value: [A, B]}
    schedule: {cron: "0 6 * * 1-5", start: "2026-01-01"}
    interests: all                  # or a list of interest codes
    tags: [emea, weekday]
    connection: leadflow_sales      # Airflow connection of the sales system
    adapter: salesforce             # salesforce | hubspot | webhook
    field_mapping: {LastName: last_name, Company: company, Email: email}
"""

from __future__ import annotations

import functools
import os
import re
from datetime import date
from pathlib import Path
from typing import Any, Literal

from croniter import croniter
from psycopg import sql
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from leadflow.settings import ConfigError, project_root, read_yaml, validated
from leadflow.sources.feed import IDENTIFIER

# columns of marts.transfer_candidates a target group or a field mapping may use, with their kind
CANDIDATE_COLUMNS: dict[str, str] = {
    "contact_id": "text", "email": "text", "phone": "text", "first_name": "text", "last_name": "text",
    "job_title": "text", "company": "text", "industry": "text", "country": "text", "marketing_area": "text",
    "account_id": "text", "account_name": "text", "stage": "text", "stage_order": "number",
    "stage_entered_at": "timestamp", "rating": "text", "profile_grade": "text", "engagement_level": "number",
    "profile_score": "number", "engagement_score": "number", "lead_score": "number", "interests": "text",
    "last_interaction_at": "timestamp",
}  # fmt: skip
OPERATORS = {"=": "=", "!=": "<>", ">": ">", ">=": ">=", "<": "<", "<=": "<=", "in": "in", "not_in": "not in"}
ADAPTER_LIMITS = {"salesforce": 200, "hubspot": 100, "webhook": 1000}
API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Strict):
    column: str
    op: Literal["=", "!=", ">", ">=", "<", "<=", "in", "not_in", "is_null", "not_null"]
    value: Any = None

    @model_validator(mode="after")
    def _valid(self) -> Condition:
        if self.column not in CANDIDATE_COLUMNS:
            raise ValueError(f"column {self.column!r} is not allowed; allowed: {', '.join(CANDIDATE_COLUMNS)}")
        kind = CANDIDATE_COLUMNS[self.column]
        if self.op in ("is_null", "not_null"):
            if self.value is not None:
                raise ValueError(f"op {self.op} takes no value")
            return self
        values = self.value if self.op in ("in", "not_in") else [self.value]
        if self.op in ("in", "not_in") and (not isinstance(self.value, list) or not self.value):
            raise ValueError(f"op {self.op} needs a non-empty list as value")
        for value in values:
            if isinstance(value, bool) or value is None:
                raise ValueError(f"value {value!r} is not a {kind}")
            if kind == "number" and not isinstance(value, int | float):
                raise ValueError(f"column {self.column} is a number; value {value!r} is not")
            if kind != "number" and not isinstance(value, str | date):
                raise ValueError(f"column {self.column} holds {kind}s; value {value!r} is not one")
        if kind == "text" and self.op in (">", ">=", "<", "<="):
            raise ValueError(f"op {self.op} does not apply to the text column {self.column}")
        return self

    def to_sql(self) -> tuple[sql.Composable, list[Any]]:
        column = sql.Identifier(self.column)
        if self.op == "is_null":
            return sql.SQL("{} is null").format(column), []
        if self.op == "not_null":
            return sql.SQL("{} is not null").format(column), []
        if self.op in ("in", "not_in"):
            negate = "not " if self.op == "not_in" else ""
            return sql.SQL("{} " + negate + "in ({})").format(
                column, sql.SQL(", ").join([sql.Placeholder()] * len(self.value))
            ), list(self.value)
        return sql.SQL("{} " + OPERATORS[self.op] + " {}").format(column, sql.Placeholder()), [self.value]


class Schedule(_Strict):
    cron: str
    start: date
    end: date | None = None

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        if not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a cron expression (minute hour day month weekday)")
        return value

    @model_validator(mode="after")
    def _order(self) -> Schedule:
        if self.end is not None and self.end <= self.start:
            raise ValueError("end must come after start")
        return self


class Resend(_Strict):
    """What sends a lead already delivered again. By default a change in anything the transfer
    sends; ``ignore`` names fields sent along whose change alone does not, ``steps`` numeric fields
    whose change counts only when the value moves to another multiple of the step. A score that
    decays a little every day otherwise updates every lead in the sales system every day."""

    ignore: list[str] = []
    steps: dict[str, float] = {}

    @field_validator("steps")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        for name, step in value.items():
            if step <= 0:
                raise ValueError(f"{name}: a step must be above 0, got {step}")
        return value


class TransferDefinition(_Strict):
    name: str = Field(pattern=IDENTIFIER.pattern)
    description: str = ""
    marketing_area: str
    target_group: list[Condition] = Field(min_length=1)
    schedule: Schedule
    interests: Literal["all"] | list[str] = "all"
    tags: list[str] = []
    connection: str = Field(pattern=IDENTIFIER.pattern)
    adapter: Literal["salesforce", "hubspot", "webhook"]
    field_mapping: dict[str, str] = Field(min_length=1)
    external_id_field: str = "LeadflowId__c"
    interests_field: str | None = None
    tags_field: str | None = None
    sync_mode: Literal["upsert", "create_only", "update_only"] = "upsert"
    resend: Resend = Resend()
    batch_size: int = Field(default=200, ge=1)
    # requests in flight at once: a sales system's latency (about 1 s for 200 Salesforce upserts)
    # then overlaps. At most 10, the connections a requests session keeps per host; Salesforce
    # allows 25 long-running requests at once per org, shared with every other integration
    concurrent_requests: int = Field(default=1, ge=1, le=10)
    max_attempts: int = Field(default=5, ge=1, le=50)
    max_failed_share: float = Field(default=0.2, ge=0, le=1)
    max_api_share: float = Field(default=0.9, gt=0, le=1)
    initial_status: Literal["draft", "active"] = "draft"

    @field_validator("field_mapping")
    @classmethod
    def _mapping(cls, value: dict[str, str]) -> dict[str, str]:
        for target, source in value.items():
            if not API_NAME.match(target):
                raise ValueError(f"target field {target!r} is not an API name (letters, digits, _)")
            if source not in CANDIDATE_COLUMNS:
                raise ValueError(
                    f"{target}: {source!r} is not a golden attribute; allowed: {', '.join(CANDIDATE_COLUMNS)}"
                )
        return value

    @model_validator(mode="after")
    def _adapter_settings(self) -> TransferDefinition:
        limit = ADAPTER_LIMITS[self.adapter]
        if self.batch_size > limit:
            raise ValueError(
                f"batch_size: {self.adapter} takes at most {limit} records a request, got {self.batch_size}"
            )
        for name in ("external_id_field", "interests_field", "tags_field"):
            value = getattr(self, name)
            if value is not None and not API_NAME.match(value):
                raise ValueError(f"{name}: {value!r} is not an API name")
        if self.adapter == "salesforce":
            missing = [f for f in ("LastName", "Company") if f not in self.field_mapping]
            if missing:
                raise ValueError(f"field_mapping: Salesforce Leads require {', '.join(missing)}")
        self._check_resend()
        return self

    def _check_resend(self) -> None:
        sent = [*self.field_mapping, *(f for f in (self.interests_field, self.tags_field) if f)]
        for name in [*self.resend.ignore, *self.resend.steps]:
            if name not in sent:
                raise ValueError(f"resend: {name!r} is not a field this transfer sends ({', '.join(sent)})")
        for name in self.resend.steps:
            if CANDIDATE_COLUMNS.get(self.field_mapping.get(name, "")) != "number":
                raise ValueError(f"resend.steps: {name} is not a number (only numeric fields have steps)")
            if name in self.resend.ignore:
                raise ValueError(f"resend: {name} is both ignored and stepped")
        if set(self.resend.ignore) >= set(sent):
            raise ValueError("resend.ignore: every field is ignored, so no lead would ever be updated")

    @property
    def dag_id(self) -> str:
        return f"transfer_{self.name}"

    def target_sql(self) -> tuple[sql.Composable, list[Any]]:
        """The WHERE clause (area and target group) over marts.transfer_candidates, with its parameters."""
        parts: list[sql.Composable] = [sql.SQL("{} = {}").format(sql.Identifier("marketing_area"), sql.Placeholder())]
        params: list[Any] = [self.marketing_area]
        for condition in self.target_group:
            clause, values = condition.to_sql()
            parts.append(clause)
            params.extend(values)
        return sql.SQL(" and ").join(parts), params


def transfers_dir() -> Path:
    override = os.environ.get("LEADFLOW_TRANSFERS_DIR")
    return Path(override) if override else project_root() / "config" / "transfers"


def load_transfer(path: Path) -> TransferDefinition:
    return validated(TransferDefinition, read_yaml(path) or {}, path)


def load_transfers(folder: Path | None = None) -> tuple[TransferDefinition, ...]:
    """Every transfer definition, sorted by file name; two may not share a name.

    Read again when a file is added, removed or changed (a long-running api-server sees new
    transfers), else served from memory.
    """
    folder = folder or transfers_dir()
    files = sorted(folder.glob("*.yml"))
    return _load_transfers(folder, tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files))


@functools.lru_cache(maxsize=16)
def _load_transfers(folder: Path, files: tuple[tuple[str, int, int], ...]) -> tuple[TransferDefinition, ...]:
    definitions = tuple(load_transfer(folder / name) for name, _, _ in files)
    names = [d.name for d in definitions]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"{folder}: transfer names used twice: {', '.join(twice)}")
    return definitions


def get_transfer(name: str) -> TransferDefinition:
    for definition in load_transfers():
        if definition.name == name:
            return definition
    known = ", ".join(d.name for d in load_transfers()) or "none"
    raise ConfigError(f"no transfer named {name!r} in {transfers_dir()} (defined: {known})")
