"""`leadflow explain CONTACT_ID|EMAIL`: one contact's story, read back from the marts.

Who the contact is (marts.dim_contacts), which source records it was built from
(marts.contact_origins), what happened to its id (marts.contact_id_history), how it scores and why
(marts.contact_scores, marts.contact_score_reasons), where it stands in the funnel
(marts.lead_stages, marts.lead_stage_history), what it is interested in (marts.contact_interests)
and what it did last (marts.fct_interactions).

An email finds the contact whose best email it is, else a contact holding it as another address
(marts.contact_addresses). A contact id that was merged into another contact is followed to the
surviving contact. This is a terminal tool for a user looking at their own data: the result holds
personal data and is meant to be printed, not logged.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import psycopg
from psycopg.rows import class_row

REQUIRED_MARTS = (
    "marts.dim_contacts",
    "marts.contact_addresses",
    "marts.contact_id_history",
    "marts.contact_origins",
    "marts.contact_scores",
    "marts.contact_score_reasons",
    "marts.lead_stages",
    "marts.lead_stage_history",
    "marts.contact_interests",
    "marts.fct_interactions",
)
LAST_INTERACTIONS = 10
MAX_MERGE_HOPS = 50  # a merge chain longer than this is a broken ledger, not a story

Row = TypeVar("Row")


class MissingMartsError(LookupError):
    """Some marts the story is read from do not exist: the pipeline has not run on this warehouse."""

    def __init__(self, missing: list[str]):
        self.missing = missing
        if len(missing) == 1:
            what = f"{missing[0]} does"
        elif len(missing) == len(REQUIRED_MARTS):
            what = "the marts (marts.dim_contacts, …) do"
        else:
            what = f"{', '.join(missing)} do"
        super().__init__(f"{what} not exist yet")


class ContactNotFoundError(LookupError):
    """No contact answers to the identifier (the message says why)."""


@dataclass(frozen=True)
class Contact:
    contact_id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    job_title: str | None
    company: str | None
    industry: str | None
    company_size: str | None
    country: str | None
    marketing_area: str | None
    email_permission: str | None
    phone_permission: str | None
    has_unsubscribed: bool | None
    account_id: str | None
    first_seen_at: datetime | None
    last_interaction_at: datetime | None
    number_of_origins: int | None


@dataclass(frozen=True)
class IdEvent:
    contact_id: str
    event: str
    other_contact_id: str | None
    origins_moved: int | None
    run_sequence: int | None
    changed_at: datetime | None


@dataclass(frozen=True)
class Origin:
    source_system: str
    source_record_id: str
    origin_type: str | None
    matched_on: str | None
    supplied_attributes: list[str] | None
    first_seen_at: datetime | None
    updated_at: datetime | None
    contact_since: datetime | None


@dataclass(frozen=True)
class Scores:
    profile_score: Decimal | None
    profile_grade: str | None
    engagement_score: Decimal | None
    engagement_level: int | None
    rating: str | None
    lead_score: Decimal | None
    engagement_percentile: Decimal | None
    marketing_area: str | None
    scored_at: datetime | None


@dataclass(frozen=True)
class ScoreReason:
    component: str
    rule_kind: str | None
    rule: str
    points: Decimal
    interactions: int | None
    description: str | None


@dataclass(frozen=True)
class Stage:
    stage: str
    stage_order: int | None
    entered_at: datetime | None
    previous_stage: str | None
    first_mql_at: datetime | None
    first_sql_at: datetime | None


@dataclass(frozen=True)
class StageChange:
    contact_id: str  # a contact merged into this one keeps its own history rows
    stage: str
    previous_stage: str | None
    direction: str | None
    entered_at: datetime


@dataclass(frozen=True)
class Interest:
    interest: str
    interest_name: str | None
    weight: Decimal | None
    interactions: int | None
    last_seen_at: datetime | None
    interest_rank: int | None


@dataclass(frozen=True)
class Interaction:
    occurred_at: datetime
    interaction_type: str | None
    direction: str | None
    source_system: str | None
    campaign_id: str | None


@dataclass
class ContactStory:
    identifier: str  # what the user asked for
    found_by: str  # contact_id, best email or other email
    contact: Contact
    merged_path: list[IdEvent] = field(default_factory=list)  # identifier → … → contact, when it was merged away
    other_matches: list[str] = field(default_factory=list)  # other contacts holding the email asked for
    absorbed_ids: list[str] = field(default_factory=list)  # retired ids merged into this contact
    id_history: list[IdEvent] = field(default_factory=list)
    origins: list[Origin] = field(default_factory=list)
    scores: Scores | None = None
    reasons: list[ScoreReason] = field(default_factory=list)
    stage: Stage | None = None
    stage_history: list[StageChange] = field(default_factory=list)
    interests: list[Interest] = field(default_factory=list)
    interactions: list[Interaction] = field(default_factory=list)


def missing_marts(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "select name from unnest(%s::text[]) with ordinality as m(name, n) where to_regclass(name) is null order by n",
        (list(REQUIRED_MARTS),),
    ).fetchall()
    return [name for (name,) in rows]


def _select(conn: psycopg.Connection, row_type: type[Row], query: str, params: tuple[Any, ...]) -> list[Row]:
    with conn.cursor(row_factory=class_row(row_type)) as cursor:
        return cursor.execute(query, params).fetchall()


def _contact(conn: psycopg.Connection, contact_id: str) -> Contact | None:
    rows = _select(
        conn,
        Contact,
        "select contact_id, first_name, last_name, email, phone, job_title, company, industry, company_size,"
        " country, marketing_area, email_permission, phone_permission, has_unsubscribed, account_id,"
        " first_seen_at, last_interaction_at, number_of_origins from marts.dim_contacts where contact_id = %s",
        (contact_id,),
    )
    return rows[0] if rows else None


def _contacts_by_email(conn: psycopg.Connection, email: str) -> list[tuple[str, bool]]:
    """Contacts holding the email, best first: (contact_id, is it their best email)."""
    return conn.execute(
        "select contact_id, bool_or(best) from ("
        "  select contact_id, true as best, last_interaction_at as seen_at from marts.dim_contacts where email = %(e)s"
        "  union all"
        "  select contact_id, false, last_seen_at from marts.contact_addresses"
        "  where channel = 'email' and address = %(e)s"
        " ) as matches group by contact_id order by bool_or(best) desc, max(seen_at) desc nulls last, contact_id",
        {"e": email},
    ).fetchall()


def _id_events(conn: psycopg.Connection, contact_id: str) -> list[IdEvent]:
    return _select(
        conn,
        IdEvent,
        "select contact_id, event, other_contact_id, origins_moved, run_sequence, changed_at"
        " from marts.contact_id_history where contact_id = %s or other_contact_id = %s"
        " order by run_sequence, changed_at, case event when 'created' then 0 else 1 end, contact_id",
        (contact_id, contact_id),
    )


def _follow_merges(conn: psycopg.Connection, contact_id: str) -> tuple[Contact, list[IdEvent]]:
    """The contact an id stands for now: itself, or the contact its merges led to."""
    path: list[IdEvent] = []
    current = contact_id
    for _ in range(MAX_MERGE_HOPS):
        contact = _contact(conn, current)
        if contact is not None:
            return contact, path
        merges = _select(
            conn,
            IdEvent,
            "select contact_id, event, other_contact_id, origins_moved, run_sequence, changed_at"
            " from marts.contact_id_history where contact_id = %s and event = 'merged_into'"
            " order by run_sequence desc limit 1",
            (current,),
        )
        if not merges:
            break
        path.append(merges[0])
        current = merges[0].other_contact_id or ""
    raise ContactNotFoundError(_why_unknown(conn, contact_id, path))


def _why_unknown(conn: psycopg.Connection, contact_id: str, path: list[IdEvent]) -> str:
    last = path[-1].other_contact_id if path else contact_id
    trail = "".join(f" → merged into {event.other_contact_id}" for event in path)
    if conn.execute("select exists (select 1 from marts.contact_origins where contact_id = %s)", (last,)).fetchone()[0]:
        return (
            f"{contact_id}{trail} is an anonymous web visitor (a cookie that never filled a form),"
            " not a contact of marts.dim_contacts"
        )
    if (
        path
        or conn.execute(
            "select exists (select 1 from marts.contact_id_history where contact_id = %s)", (contact_id,)
        ).fetchone()[0]
    ):
        return f"{contact_id}{trail} no longer exists: none of its source records is left in marts.contact_origins"
    return f"no contact with the id {contact_id} (marts.dim_contacts, marts.contact_id_history)"


def _find(conn: psycopg.Connection, identifier: str) -> tuple[Contact, str, list[IdEvent], list[str]]:
    wanted = identifier.strip()
    if "@" in wanted:
        email = wanted.lower()
        matches = _contacts_by_email(conn, email)
        if not matches:
            raise ContactNotFoundError(
                f"no contact with the email {email} (marts.dim_contacts, marts.contact_addresses)"
            )
        (contact_id, is_best), others = matches[0], [other for other, _ in matches[1:]]
        contact, path = _follow_merges(conn, contact_id)
        return contact, "best email" if is_best else "other email", path, others
    if not wanted:
        raise ContactNotFoundError("give a contact id or an email")
    contact, path = _follow_merges(conn, wanted)
    return contact, "contact_id", path, []


def explain_contact(conn: psycopg.Connection, identifier: str) -> ContactStory:
    """Everything the marts know about one contact, found by contact id or email (read-only)."""
    missing = missing_marts(conn)
    if missing:
        raise MissingMartsError(missing)
    contact, found_by, path, others = _find(conn, identifier)
    contact_id = contact.contact_id
    absorbed = [
        absorbed_id
        for (absorbed_id,) in conn.execute(
            "with recursive absorbed (contact_id) as ("
            "  select contact_id from marts.contact_id_history where event = 'merged_into' and other_contact_id = %s"
            "  union"
            "  select history.contact_id from marts.contact_id_history as history"
            "  inner join absorbed on history.other_contact_id = absorbed.contact_id"
            "  where history.event = 'merged_into'"
            " ) select contact_id from absorbed order by contact_id",
            (contact_id,),
        )
    ]
    scores = _select(
        conn,
        Scores,
        "select profile_score, profile_grade, engagement_score, engagement_level, rating, lead_score,"
        " engagement_percentile, marketing_area, scored_at from marts.contact_scores where contact_id = %s",
        (contact_id,),
    )
    stage = _select(
        conn,
        Stage,
        "select stage, stage_order, entered_at, previous_stage, first_mql_at, first_sql_at"
        " from marts.lead_stages where contact_id = %s",
        (contact_id,),
    )
    return ContactStory(
        identifier=identifier,
        found_by=found_by,
        contact=contact,
        merged_path=path,
        other_matches=others,
        absorbed_ids=absorbed,
        id_history=_id_events(conn, contact_id),
        origins=_select(
            conn,
            Origin,
            "select source_system, source_record_id, origin_type, matched_on, supplied_attributes, first_seen_at,"
            " updated_at, contact_since from marts.contact_origins where contact_id = %s"
            " order by first_seen_at nulls last, source_system, source_record_id",
            (contact_id,),
        ),
        scores=scores[0] if scores else None,
        reasons=_select(
            conn,
            ScoreReason,
            "select component, rule_kind, rule, points, interactions, description from marts.contact_score_reasons"
            " where contact_id = %s order by abs(points) desc, component, rule",
            (contact_id,),
        ),
        stage=stage[0] if stage else None,
        stage_history=_select(
            conn,
            StageChange,
            "select contact_id, stage, previous_stage, direction, entered_at from marts.lead_stage_history"
            " where contact_id = any(%s) order by entered_at, stage_order",
            ([contact_id, *absorbed],),
        ),
        interests=_select(
            conn,
            Interest,
            "select interest, interest_name, weight, interactions, last_seen_at, interest_rank"
            " from marts.contact_interests where contact_id = %s order by interest_rank, interest",
            (contact_id,),
        ),
        interactions=_select(
            conn,
            Interaction,
            "select occurred_at, interaction_type, direction, source_system, campaign_id from marts.fct_interactions"
            " where contact_id = %s order by occurred_at desc, interaction_key desc limit %s",
            (contact_id, LAST_INTERACTIONS),
        ),
    )


# ---- output


def _json_value(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def story_json(story: ContactStory) -> str:
    """The story as JSON (numbers as numbers, times as ISO 8601 in UTC)."""
    return json.dumps(asdict(story), default=_json_value, indent=2, ensure_ascii=False)


def when(value: datetime | None, time: bool = True) -> str:
    """A time as people read it: UTC, to the minute (or the day); — when unknown."""
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M" if time else "%Y-%m-%d")


def _number(value: Decimal | int | None) -> str:
    if value is None:
        return "—"
    text = f"{value:.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _text(value: object) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _count(number: int | None, noun: str) -> str:
    return f"{_text(number)} {noun}{'' if number == 1 else 's'}"


def _id_event_line(event: IdEvent) -> str:
    moved = f" ({_count(event.origins_moved, 'origin')})" if event.origins_moved else ""
    other = f" {event.other_contact_id}" if event.other_contact_id else ""
    build = f"ledger build {event.run_sequence}" if event.run_sequence is not None else "ledger"
    return f"{when(event.changed_at)}  {build}: {event.contact_id} {event.event}{other}{moved}"


def format_story(story: ContactStory) -> str:
    """The story as readable text, one section per mart."""
    contact = story.contact
    lines: list[str] = []
    name = " ".join(part for part in (contact.first_name, contact.last_name) if part) or "(no name)"
    lines.append(f"Contact {contact.contact_id} — {name}")
    if story.found_by != "contact_id":
        lines.append(f"  found by {story.found_by} {story.identifier.strip().lower()}")
    for event in story.merged_path:
        lines.append(
            f"  {event.contact_id} was merged into {event.other_contact_id}"
            f" on {when(event.changed_at, time=False)} (ledger build {event.run_sequence})"
        )
    if story.merged_path:
        lines.append(f"  → showing the surviving contact {contact.contact_id}")
    if story.other_matches:
        lines.append(f"  the email is also an address of: {', '.join(story.other_matches)}")

    company = ", ".join(
        part
        for part in (
            contact.company,
            contact.industry,
            f"{contact.company_size} employees" if contact.company_size else None,
            contact.country,
        )
        if part
    )
    fields = [
        ("email", f"{_text(contact.email)}  (permission {_text(contact.email_permission)})"),
        ("phone", f"{_text(contact.phone)}  (permission {_text(contact.phone_permission)})"),
        ("unsubscribed", _text(contact.has_unsubscribed)),
        ("job title", _text(contact.job_title)),
        ("company", company or "—"),
        ("account", _text(contact.account_id)),
        ("marketing area", _text(contact.marketing_area)),
        ("first seen", when(contact.first_seen_at)),
        ("last interaction", when(contact.last_interaction_at)),
    ]
    lines += [f"  {label:<17} {value}" for label, value in fields]

    lines.append(f"\nOrigins ({len(story.origins)}; dim_contacts counts {_text(contact.number_of_origins)})")
    for origin in story.origins:
        matched = f"matched on {origin.matched_on}" if origin.matched_on else "only origin"
        supplied = ", ".join(origin.supplied_attributes or []) or "nothing"
        lines.append(
            f"  {origin.source_system}:{origin.source_record_id}  {origin.origin_type or ''}, {matched},"
            f" first seen {when(origin.first_seen_at, time=False)} — supplies {supplied}"
        )
    if story.absorbed_ids or len(story.id_history) > 1:
        lines.append("  id history:")
        lines += [f"    {_id_event_line(event)}" for event in story.id_history]
        if story.absorbed_ids:
            lines.append(f"    retired ids now part of this contact: {', '.join(story.absorbed_ids)}")

    lines.append("\nScores")
    if story.scores is None:
        lines.append("  not scored")
    else:
        scores = story.scores
        lines.append(
            f"  rating {_text(scores.rating)}, lead score {_number(scores.lead_score)}"
            f"  (profile {_number(scores.profile_score)}, grade {_text(scores.profile_grade)};"
            f" engagement {_number(scores.engagement_score)}, level {_text(scores.engagement_level)},"
            f" percentile {_number(scores.engagement_percentile)} in {_text(scores.marketing_area)})"
            f"  as of {when(scores.scored_at, time=False)}"
        )
    if story.reasons:
        lines.append("  reasons:")
        rule_width = max(len(reason.rule) for reason in story.reasons)
        for reason in story.reasons:
            notes = [f"{reason.rule_kind} rule"] if reason.rule_kind and reason.rule_kind != reason.component else []
            notes += [_count(reason.interactions, "interaction")] if reason.interactions else []
            details = "; ".join(filter(None, [reason.description, *notes]))
            lines.append(f"    {reason.points:+7.2f}  {reason.component:<10} {reason.rule:<{rule_width}}  {details}")

    lines.append("\nStage")
    if story.stage is None:
        lines.append("  no stage")
    else:
        stage = story.stage
        previous = f", before: {stage.previous_stage}" if stage.previous_stage else ""
        lines.append(f"  {stage.stage} since {when(stage.entered_at, time=False)}{previous}")
        lines.append(
            f"  first MQL {when(stage.first_mql_at, time=False)}, first SQL {when(stage.first_sql_at, time=False)}"
        )
    if story.stage_history:
        lines.append("  history:")
    for change in story.stage_history:
        previous = f" (from {change.previous_stage})" if change.previous_stage else ""
        as_id = f"  as {change.contact_id}" if change.contact_id != contact.contact_id else ""
        lines.append(
            f"    {when(change.entered_at, time=False)}  {change.direction or '':<8} {change.stage}{previous}{as_id}"
        )

    lines.append("\nInterests")
    if not story.interests:
        lines.append("  none")
    for interest in story.interests:
        label = f"{interest.interest_name} ({interest.interest})" if interest.interest_name else interest.interest
        lines.append(
            f"  {_text(interest.interest_rank):>2}. {label}: weight {_number(interest.weight)},"
            f" {_count(interest.interactions, 'interaction')}, last {when(interest.last_seen_at, time=False)}"
        )

    lines.append(f"\nLast interactions (newest {LAST_INTERACTIONS})")
    if not story.interactions:
        lines.append("  none")
    type_width = max((len(_text(interaction.interaction_type)) for interaction in story.interactions), default=0)
    for interaction in story.interactions:
        campaign = f"  campaign {interaction.campaign_id}" if interaction.campaign_id else ""
        lines.append(
            f"  {when(interaction.occurred_at)}  {_text(interaction.direction):<8}"
            f" {_text(interaction.interaction_type):<{type_width}}  {_text(interaction.source_system):<7}{campaign}"
        )
    return "\n".join(lines)
