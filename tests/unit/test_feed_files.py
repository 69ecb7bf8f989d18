import gzip
import hashlib
from pathlib import Path

import pytest

from leadflow.sources.files import FeedFile, find_feed_files
from leadflow.sources.landing import Unlandable


@pytest.mark.parametrize(
    ("name", "source", "entity", "fmt", "gz"),
    [
        ("crm__contacts.csv", "crm", "contacts", "csv", False),
        ("web_analytics__interactions.jsonl.gz", "web_analytics", "interactions", "jsonl", True),
        ("events__campaigns.csv.gz", "events", "campaigns", "csv", True),
    ],
)
def test_feed_file_names_tell_source_entity_and_format(name, source, entity, fmt, gz):
    feed = FeedFile.from_path(Path(name))

    assert (feed.source_system, feed.entity, feed.format, feed.gzipped) == (source, entity, fmt, gz)


@pytest.mark.parametrize("name", ["contacts.csv", "crm__leads.csv", "crm__contacts.xlsx", "CRM__contacts.csv"])
def test_other_names_are_refused_with_the_expected_pattern(name):
    with pytest.raises(ValueError, match="<source_system>__<entity>"):
        FeedFile.from_path(Path(name))


def test_csv_records_stream_with_their_position(tmp_path):
    path = tmp_path / "crm__contacts.csv"
    path.write_text("source_record_id,updated_at,email\nC-1,2026-01-01,a@example.com\nC-2,2026-01-02,\n")

    records = list(FeedFile.from_path(path).records())

    assert records == [
        (1, {"source_record_id": "C-1", "updated_at": "2026-01-01", "email": "a@example.com"}),
        (2, {"source_record_id": "C-2", "updated_at": "2026-01-02", "email": ""}),
    ]


def test_csv_lines_with_the_wrong_number_of_cells_come_with_their_reason(tmp_path):
    path = tmp_path / "crm__contacts.csv"
    path.write_text("source_record_id,updated_at\nC-1,2026-01-01,surplus\nC-2\nC-3,2026-01-03\n")

    records = list(FeedFile.from_path(path).records())

    assert records == [
        (1, Unlandable("more cells than header columns", "C-1,2026-01-01,surplus")),
        (2, Unlandable("fewer cells than header columns", "C-2")),
        (3, {"source_record_id": "C-3", "updated_at": "2026-01-03"}),
    ]


def test_header_names_must_be_identifiers(tmp_path):
    path = tmp_path / "crm__contacts.csv"
    path.write_text("source_record_id,First Name\n")

    with pytest.raises(ValueError, match="'first name' is not a lower-case identifier"):
        FeedFile.from_path(path).header()


def test_gzipped_jsonl_keeps_unparseable_lines_as_text(tmp_path):
    path = tmp_path / "web__interactions.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        handle.write('{"source_interaction_id": "i1", "occurred_at": "2026-01-01"}\n{broken\n\n[1, 2]\n')

    records = list(FeedFile.from_path(path).records())

    assert records[0] == (1, {"source_interaction_id": "i1", "occurred_at": "2026-01-01"})
    assert records[1] == (2, "{broken")
    assert records[2] == (4, "[1, 2]")


def test_a_folder_yields_only_feed_files_sorted(tmp_path):
    for name in ["web__interactions.jsonl", "crm__contacts.csv", "README.md", "notes.csv"]:
        (tmp_path / name).write_text("")

    assert [f.path.name for f in find_feed_files(tmp_path)] == [
        "crm__contacts.csv",
        "web__interactions.jsonl",
    ]


@pytest.mark.parametrize("gz", [False, True])
def test_the_scan_finds_the_longest_line_across_chunks(tmp_path, monkeypatch, gz):
    import leadflow.sources.files as files

    monkeypatch.setattr(files, "CHUNK_BYTES", 7)  # lines straddle chunk boundaries
    text = "a,b\n" + "x" * 30 + ",1\n" + "y,2\n" + 'z,"3"'  # no newline at the end
    path = tmp_path / ("crm__contacts.csv.gz" if gz else "crm__contacts.csv")
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())

    scan = files.scan_file(FeedFile.from_path(path))

    assert scan.longest_line == 32
    assert scan.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_dbt_feed_columns_match_the_landing_spec():
    import re

    from leadflow.settings import project_root
    from leadflow.sources.feed import ENTITIES

    macro = (project_root() / "dbt_project" / "macros" / "feed.sql").read_text()
    for entity, spec in ENTITIES.items():
        block = re.search(rf'"{entity}": \[(.*?)\]', macro, re.S).group(1)
        assert re.findall(r'"(\w+)"', block) == list(spec.columns), entity
