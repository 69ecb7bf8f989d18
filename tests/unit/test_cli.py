import subprocess
import sys
from pathlib import Path

import pytest

from leadflow import __version__
from leadflow.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]


def test_version():
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["--version"])
    assert caught.value.code == 0


def test_an_external_warehouse_replaces_the_embedded_one(monkeypatch, capsys):
    monkeypatch.setenv("LEADFLOW_DATABASE_URL", "postgresql://bi:topsecret@db.internal:5432/leads")

    assert main(["db", "start"]) == 0
    out = capsys.readouterr().out
    assert "db.internal" in out and "topsecret" not in out


def test_a_bad_database_url_is_a_configuration_error(monkeypatch, capsys):
    monkeypatch.setenv("LEADFLOW_DATABASE_URL", "mysql://x@y/z")

    assert main(["env"]) == 2
    assert "LEADFLOW_DATABASE_URL" in capsys.readouterr().err


def test_the_console_script_is_installed():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "leadflow"), "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == f"leadflow {__version__}"


def test_a_second_make_install_has_nothing_to_do():
    # `make -q` exits 0 only when every prerequisite of the target is up to date
    result = subprocess.run(["make", "-q", "install"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, "make install would rebuild: the venv or the dbt manifest is stale"
