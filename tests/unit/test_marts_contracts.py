"""BI reads the marts directly: each has an enforced contract and every column a type and a
description; the exposures say who reads which mart (dbt docs shows them)."""

from __future__ import annotations

import json

import pytest

from leadflow.transform.explain import REQUIRED_MARTS
from tests.fixtures import ROOT

MANIFEST = ROOT / "dbt_project" / "target" / "manifest.json"


@pytest.fixture(scope="module")
def manifest() -> dict:
    assert MANIFEST.exists(), "run `make install` first: it writes the dbt manifest"
    return json.loads(MANIFEST.read_text())


def _marts(manifest: dict) -> dict[str, dict]:
    return {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["schema"] == "marts"
    }


def test_every_mart_has_an_enforced_contract_and_documented_typed_columns(manifest):
    marts = _marts(manifest)
    assert len(marts) >= 13
    for name, node in marts.items():
        assert node["contract"]["enforced"], f"{name}: contract not enforced"
        assert node["description"].strip(), f"{name}: no description"
        undocumented = [c for c, col in node["columns"].items() if not col["description"].strip()]
        untyped = [c for c, col in node["columns"].items() if not col["data_type"]]
        assert (undocumented, untyped) == ([], []), name


def test_exposures_name_the_ui_the_transfers_and_bi_dashboards_over_marts_only(manifest):
    marts = {node["unique_id"]: name for name, node in _marts(manifest).items()}
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    assert {"transfer_monitor", "sales_transfers"} <= set(exposures)
    assert sum(e["type"] == "dashboard" for e in exposures.values()) >= 2
    for name, exposure in exposures.items():
        assert exposure["owner"]["email"] and exposure["description"].strip(), name
        assert set(exposure["depends_on"]["nodes"]) <= set(marts), f"{name} reads something other than marts"
    monitor = {marts[n] for n in exposures["transfer_monitor"]["depends_on"]["nodes"]}
    # the contact 360 reads what `leadflow explain` reads
    assert {name.removeprefix("marts.") for name in REQUIRED_MARTS} <= monitor
    assert [marts[n] for n in exposures["sales_transfers"]["depends_on"]["nodes"]] == ["transfer_candidates"]
