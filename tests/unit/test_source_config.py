from pathlib import Path

import pytest

from leadflow.settings import ConfigError
from leadflow.sources.config import load_source, load_sources, sources_dir


def write(tmp_path: Path, text: str, name: str = "src.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_committed_sources_are_valid():
    sources = load_sources(sources_dir())

    assert sources, "config/sources/ has no source"
    assert all(s.dag_id == f"ingest_{s.name}" for s in sources)


def test_a_sql_source_maps_onto_feed_columns(tmp_path):
    source = load_source(
        write(
            tmp_path,
            """
name: crm_replica
kind: sql
conn_id: leadflow_src_crm
entities:
  contacts:
    table: public.contacts
    timestamp_column: modified_at
    mapping: {source_record_id: id, updated_at: modified_at, email: email_address}
""",
        )
    )

    assert source.entity_names == ["contacts"]
    assert source.entities["contacts"].mapping["email"] == "email_address"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nkind: ftp\nentities: [contacts]\n", "kind"),
        ("name: X-Y\nkind: files\nfiles: {folder: d}\nentities: [contacts]\n", "name"),
        ("name: x\nkind: files\nentities: [contacts]\n", "files: required"),
        ("name: x\nkind: files\nfiles: {folder: d}\nentities: [leads]\n", "unknown ['leads']"),
        ("name: x\nkind: sql\nentities: {}\n", "conn_id: required"),
        (
            "name: x\nkind: sql\nconn_id: c\nentities:\n  contacts:\n    table: 'contacts; drop table x'\n"
            "    timestamp_column: t\n    mapping: {source_record_id: id, updated_at: t}\n",
            "not a [schema.]table name",
        ),
        (
            "name: x\nkind: sql\nconn_id: c\nentities:\n  contacts:\n    table: t\n    timestamp_column: t\n"
            "    mapping: {source_record_id: id}\n",
            "updated_at is required",
        ),
        (
            "name: x\nkind: sql\nconn_id: c\nentities:\n  contacts:\n    table: t\n    timestamp_column: t\n"
            "    mapping: {source_record_id: id, updated_at: t, shoe_size: s}\n",
            "['shoe_size'] are not feed columns",
        ),
    ],
)
def test_invalid_sources_are_refused_naming_the_file_and_the_problem(tmp_path, text, message):
    path = write(tmp_path, text)

    with pytest.raises(ConfigError) as caught:
        load_source(path)

    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_two_sources_may_not_share_a_name(tmp_path):
    body = "name: same\nkind: files\nfiles: {folder: d}\nentities: [contacts]\n"
    write(tmp_path, body, "a.yml")
    write(tmp_path, body, "b.yml")

    with pytest.raises(ConfigError, match="used twice: same"):
        load_sources(tmp_path)
