"""File drops in the generic feed format: ``<source_system>__<entity>.csv|.jsonl[.gz]``."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leadflow.sources.landing import ENTITIES

FEED_FILE = re.compile(
    r"^(?P<source>[a-z][a-z0-9_]*?)__(?P<entity>[a-z]+)\.(?P<format>csv|jsonl)(?P<gz>\.gz)?$"
)


@dataclass(frozen=True)
class FeedFile:
    path: Path
    source_system: str
    entity: str
    format: str
    gzipped: bool

    @classmethod
    def from_path(cls, path: Path) -> FeedFile:
        match = FEED_FILE.match(path.name)
        if not match or match["entity"] not in ENTITIES:
            raise ValueError(
                f"{path.name}: not a feed file name; expected <source_system>__<entity>.csv|.jsonl[.gz] "
                f"with entity one of {', '.join(ENTITIES)}"
            )
        return cls(path, match["source"], match["entity"], match["format"], bool(match["gz"]))

    def _open(self) -> io.TextIOBase:
        if self.gzipped:
            return io.TextIOWrapper(gzip.open(self.path, "rb"), encoding="utf-8", newline="")
        return open(self.path, encoding="utf-8", newline="")

    def records(self) -> Iterator[tuple[int, dict[str, Any] | str]]:
        """Yield (position, record), streaming; a line that cannot be parsed comes as its raw text."""
        with self._open() as handle:
            if self.format == "csv":
                reader = csv.DictReader(handle)
                for position, row in enumerate(reader, start=1):
                    yield position, row
            else:
                for position, line in enumerate(handle, start=1):
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:
                        yield position, line.rstrip("\n")
                        continue
                    yield position, record if isinstance(record, dict) else line.rstrip("\n")


def find_feed_files(folder: Path) -> list[FeedFile]:
    """Every feed file in a folder, sorted by name; other files are ignored."""
    return [FeedFile.from_path(p) for p in sorted(folder.iterdir()) if FEED_FILE.match(p.name)]
