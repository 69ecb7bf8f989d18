"""`leadflow explain` output, from a hand-built story (the warehouse part is in tests/integration)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from leadflow.cli import build_parser
from leadflow.transform.explain import (
    REQUIRED_MARTS,
    Contact,
    ContactStory,
    IdEvent,
    Interaction,
    Interest,
    MissingMartsError,
    Origin,
    ScoreReason,
    Scores,
    Stage,
    StageChange,
    format_story,
    story_json,
)

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


def _story() -> ContactStory:
    contact = Contact(
        contact_id="ctc_new",
        first_name="Lena",
        last_name="Berg",
        email="lena@berg.example",
        phone=None,
        job_title="CTO",
        company="Berg AG",
        industry="Software",
        company_size="50-249",
        country="DE",
        marketing_area="DACH",
        email_permission="granted",
        phone_permission=None,
        has_unsubscribed=False,
        account_id="acc_1",
        first_seen_at=datetime(2026, 1, 2, 9, 30, tzinfo=UTC),
        last_interaction_at=datetime(2026, 10, 30, tzinfo=UTC),
        number_of_origins=2,
    )
    merge = IdEvent("ctc_old", "merged_into", "ctc_new", 1, 2, datetime(2026, 6, 1, tzinfo=UTC))
    return ContactStory(
        identifier="ctc_old",
        found_by="contact_id",
        contact=contact,
        merged_path=[merge],
        absorbed_ids=["ctc_old"],
        id_history=[IdEvent("ctc_new", "created", None, 1, 1, datetime(2026, 1, 2, tzinfo=UTC)), merge],
        origins=[
            Origin("crm", "C-1", "record", "email", ["email", "first_name"], AS_OF, AS_OF, AS_OF),
            Origin("email", "S-9", "record", "email", ["email"], AS_OF, AS_OF, AS_OF),
        ],
        scores=Scores(
            Decimal("72.00"), "B", Decimal("55.50"), 2, "B2", Decimal("64.25"), Decimal("80.00"), "DACH", AS_OF
        ),
        reasons=[
            ScoreReason("lead", "negative", "bounced", Decimal("-30.00"), 1, "A hard bounce"),
            ScoreReason("profile", "profile", "role_c_level", Decimal("25.00"), None, "C-level"),
            ScoreReason("engagement", "engagement", "webinar_attended", Decimal("12.50"), 2, "Attended a webinar"),
        ],
        stage=Stage("mql", 3, AS_OF, "lead", AS_OF, None),
        stage_history=[
            StageChange("ctc_old", "lead", None, "entered", datetime(2026, 5, 1, tzinfo=UTC)),
            StageChange("ctc_new", "mql", "lead", "up", AS_OF),
        ],
        interests=[Interest("erp", "Enterprise resource planning", Decimal("3.5"), 4, AS_OF, 1)],
        interactions=[
            Interaction(datetime(2026, 10, 30, 8, 15, tzinfo=UTC), "webinar_attended", "inbound", "events", "K-1")
        ],
    )


def test_the_text_tells_where_a_merged_id_went_and_shows_the_surviving_contact():
    text = format_story(_story())

    assert text.startswith("Contact ctc_new — Lena Berg")
    assert "ctc_old was merged into ctc_new on 2026-06-01 (ledger build 2)" in text
    assert "retired ids now part of this contact: ctc_old" in text
    assert "2026-05-01  entered  lead  as ctc_old" in text


def test_the_text_lists_scores_reasons_in_the_given_order_stage_interests_and_interactions():
    text = format_story(_story())

    assert "rating B2, lead score 64.25" in text
    lines = text.splitlines()
    reasons = [lines[lines.index("  reasons:") + n].split()[:3] for n in (1, 2, 3)]
    assert reasons == [
        ["-30.00", "lead", "bounced"],
        ["+25.00", "profile", "role_c_level"],
        ["+12.50", "engagement", "webinar_attended"],
    ]
    assert "A hard bounce; negative rule; 1 interaction" in text
    assert "mql since 2026-11-01, before: lead" in text
    assert "1. Enterprise resource planning (erp): weight 3.5, 4 interactions" in text
    assert "2026-10-30 08:15  inbound  webinar_attended  events   campaign K-1" in text


def test_a_contact_without_scores_stage_or_activity_still_formats():
    story = _story()
    story.scores, story.reasons, story.stage, story.stage_history = None, [], None, []
    story.interests, story.interactions, story.merged_path = [], [], []

    text = format_story(story)

    assert "not scored" in text and "no stage" in text
    assert text.count("  none") == 2


def test_json_has_numbers_as_numbers_and_times_in_utc():
    data = json.loads(story_json(_story()))

    assert data["scores"]["rating"] == "B2"
    assert data["scores"]["lead_score"] == 64.25
    assert data["scores"]["engagement_level"] == 2
    assert data["reasons"][0] == {
        "component": "lead",
        "rule_kind": "negative",
        "rule": "bounced",
        "points": -30,
        "interactions": 1,
        "description": "A hard bounce",
    }
    assert data["merged_path"][0]["changed_at"] == "2026-06-01T00:00:00+00:00"
    assert data["contact"]["email"] == "lena@berg.example"


def test_the_missing_marts_message_names_them():
    assert str(MissingMartsError(["marts.contact_scores"])) == "marts.contact_scores does not exist yet"
    assert str(MissingMartsError(list(REQUIRED_MARTS))).startswith("the marts (marts.dim_contacts")


def test_explain_takes_an_id_or_email_and_a_json_flag():
    args = build_parser().parse_args(["explain", "lena@berg.example", "--json"])

    assert (args.contact, args.json) == ("lena@berg.example", True)
