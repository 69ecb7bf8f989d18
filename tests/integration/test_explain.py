"""`leadflow explain` against marts built by real dbt on generated data."""

from __future__ import annotations

import json

import psycopg
import pytest

from leadflow.cli import main
from tests.fixtures import build_marts

pytestmark = pytest.mark.integration


def test_explain_tells_a_contacts_scores_reasons_and_stage_and_an_unknown_id_exits_1(
    fresh_database, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("LEADFLOW_DATABASE_URL", fresh_database.url())
    assert main(["explain", "ctc_anything"]) == 1
    assert "run the pipeline first" in capsys.readouterr().err

    build_marts(fresh_database, tmp_path, people=120, seed=3)
    with psycopg.connect(fresh_database.url()) as conn:
        contact_id, rating, stage, email = conn.execute(
            "select s.contact_id, s.rating, l.stage, d.email from marts.contact_scores s"
            " join marts.lead_stages l using (contact_id) join marts.dim_contacts d using (contact_id)"
            " where d.email is not null order by s.lead_score desc, s.contact_id limit 1"
        ).fetchone()
        reasons = conn.execute(
            "select rule from marts.contact_score_reasons where contact_id = %s order by abs(points) desc, rule",
            (contact_id,),
        ).fetchall()
    assert reasons

    assert main(["explain", contact_id]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"Contact {contact_id}")
    assert f"rating {rating}," in text
    assert all(f" {rule} " in text for (rule,) in reasons)
    assert f"{stage} since 2026-11-01" in text

    assert main(["explain", f"  {email.upper()} ", "--json"]) == 0
    story = json.loads(capsys.readouterr().out)
    assert (story["contact"]["contact_id"], story["found_by"]) == (contact_id, "best email")
    assert story["scores"]["rating"] == rating
    assert [reason["rule"] for reason in story["reasons"]] == [rule for (rule,) in reasons]
    assert story["stage"]["stage"] == stage
    assert story["origins"] and story["interactions"]

    assert main(["explain", "ctc_0000000000000000"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "no contact with the id ctc_0000000000000000" in captured.err
