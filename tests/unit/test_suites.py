import json
from pathlib import Path

import pytest

from leadflow.quality.checkpoints import SuiteError, expectations_dir, load_suite

SUITES = sorted(expectations_dir().glob("*/*.json"))


def test_there_are_suites():
    assert SUITES, f"no suites under {expectations_dir()}"


@pytest.mark.parametrize("path", SUITES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_suite_names_its_table_and_a_severity_per_expectation(path: Path):
    suite = load_suite(path)

    assert suite.layer == path.parent.name
    assert suite.table == path.stem
    assert suite.severity in ("critical", "warning")


def test_an_expectation_without_severity_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(
        json.dumps(
            {
                "name": "t",
                "meta": {"layer": "marts", "schema": "marts", "table": "t"},
                "expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}}],
            }
        )
    )

    with pytest.raises(SuiteError, match=r"t\.json: expectations\[0\].*severity"):
        load_suite(path)
