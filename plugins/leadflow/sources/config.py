"""Source definitions: one YAML file per source in ``config/sources/``, validated once.

A data engineer adds a source by writing one of these files; the DAG factory turns each into an
ingest DAG. Errors name the file and the field.

    name: events                  # the source system: lands in raw.<name>__<entity>
    kind: files                   # files | sql
    description: Trade-fair badge scans dropped by the events agency
    schedule: "@hourly"
    files:
      folder: drops/events        # relative to the leadflow home, or absolute
    entities: [interactions]      # what the source delivers (one Airflow Asset per landed table)

    name: crm_replica
    kind: sql
    conn_id: leadflow_src_crm     # Airflow connection to the source database
    entities:
      contacts:
        table: public.contacts    # schema-qualified table or view
        timestamp_column: modified_at
        mapping:                  # feed column: source column
          source_record_id: id
          updated_at: modified_at
          email: email_address
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from leadflow.settings import ConfigError, project_root, read_yaml, validated
from leadflow.sources.feed import ENTITIES, IDENTIFIER
from leadflow.sources.rest import RestEntity

QUALIFIED_NAME = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$")
Identifier = Annotated[str, Field(pattern=IDENTIFIER.pattern)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FilesSettings(_Strict):
    folder: str
    pattern: str = "*"


class SqlEntity(_Strict):
    table: str = Field(description="schema-qualified table or view in the source database")
    timestamp_column: Identifier
    mapping: dict[str, Identifier]

    @field_validator("table")
    @classmethod
    def _table_is_a_name(cls, value: str) -> str:
        # a name, never SQL: it is quoted as identifiers when the query is built
        if not QUALIFIED_NAME.match(value):
            raise ValueError(f"{value!r} is not a [schema.]table name of lower-case identifiers")
        return value


class FreshnessSettings(_Strict):
    """How old the newest landed data may get before ``dbt source freshness`` warns (None: never)."""

    warn_after_hours: float | None = Field(default=36, gt=0)


class SourceConfig(_Strict):
    name: Identifier
    kind: Literal["files", "sql", "rest"]
    description: str = ""
    schedule: str | None = "@daily"
    start_date: str = "2026-01-01"
    retries: int = Field(default=2, ge=0)
    tags: list[str] = []
    conn_id: Identifier | None = None
    files: FilesSettings | None = None
    initial_watermark: str | None = Field(default=None, description="first extraction starts here (ISO)")
    freshness: FreshnessSettings = FreshnessSettings()
    entities: list[str] | dict[str, SqlEntity] | dict[str, RestEntity]

    @model_validator(mode="after")
    def _kind_settings(self) -> SourceConfig:
        names = list(self.entities)
        unknown = [n for n in names if n not in ENTITIES]
        if unknown:
            raise ValueError(f"entities: unknown {unknown}; known: {', '.join(ENTITIES)}")
        if self.kind == "files":
            if self.files is None:
                raise ValueError("files: required for kind files (folder, pattern)")
            if not isinstance(self.entities, list):
                raise ValueError("entities: a list of entity names for kind files")
        if self.kind in ("sql", "rest"):
            if not self.conn_id:
                raise ValueError(f"conn_id: required for kind {self.kind}")
            expected = SqlEntity if self.kind == "sql" else RestEntity
            if not isinstance(self.entities, dict) or not all(isinstance(e, expected) for e in self.entities.values()):
                fields = "table, timestamp_column, mapping" if self.kind == "sql" else "path, pagination, mapping"
                raise ValueError(f"entities: a mapping of entity → {fields} for kind {self.kind}")
            for entity, settings in self.entities.items():
                spec = ENTITIES[entity]
                unknown_columns = sorted(set(settings.mapping) - set(spec.columns))
                if unknown_columns:
                    raise ValueError(f"entities.{entity}.mapping: {unknown_columns} are not feed columns")
                for required in (spec.id_field, spec.timestamp_field):
                    if required not in settings.mapping:
                        raise ValueError(f"entities.{entity}.mapping: {required} is required")
        return self

    @property
    def entity_names(self) -> list[str]:
        return list(self.entities)

    @property
    def dag_id(self) -> str:
        return f"ingest_{self.name}"

    def folder(self) -> Path:
        assert self.files is not None
        path = Path(self.files.folder)
        return path if path.is_absolute() else project_root() / path


def sources_dir() -> Path:
    override = os.environ.get("LEADFLOW_SOURCES_DIR")
    return Path(override).resolve() if override else project_root() / "config" / "sources"


def load_source(path: Path) -> SourceConfig:
    return validated(SourceConfig, read_yaml(path) or {}, path)


def load_sources(folder: Path | None = None) -> tuple[SourceConfig, ...]:
    """Every source definition, sorted by file name; two sources may not share a name."""
    return _load_sources(folder or sources_dir())


@functools.cache
def _load_sources(folder: Path) -> tuple[SourceConfig, ...]:
    configs = tuple(load_source(path) for path in sorted(folder.glob("*.yml")))
    seen: dict[str, int] = {}
    for config in configs:
        seen[config.name] = seen.get(config.name, 0) + 1
    duplicated = [name for name, count in seen.items() if count > 1]
    if duplicated:
        raise ConfigError(f"{folder}: source names used twice: {', '.join(duplicated)}")
    return configs
