"""`leadflow evaluate identity`: how well the clustering (marts.contact_origins) matches a labelled
truth — the generator's ground_truth.csv, or any CSV with the columns source_system,
source_record_id, person_id.

Pairwise measures over the origins both sides know: a pair of origins is predicted when it shares
a contact_id and true when it shares a person_id. precision = true predicted pairs / predicted
pairs; recall = true predicted pairs / true pairs. The counting happens in SQL (pairs per
contact × person cell), so a million origins are no problem.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

TRUTH_COLUMNS = ("source_system", "source_record_id", "person_id")


@dataclass
class IdentityEvaluation:
    truth_origins: int
    matched_origins: int
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    false_merges: list[tuple[str, list[str]]] = field(default_factory=list)  # contact → persons' origins
    missed_links: list[tuple[str, list[str]]] = field(default_factory=list)  # person → contacts' origins

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def _check_header(path: Path) -> None:
    with open(path, newline="", encoding="utf-8") as handle:
        header = [name.strip().lower() for name in next(csv.reader(handle), [])]
    if tuple(header[:3]) != TRUTH_COLUMNS:
        raise ValueError(f"{path}: expected the columns {', '.join(TRUTH_COLUMNS)}, found {', '.join(header)}")


def evaluate_identity(conn: psycopg.Connection, truth: Path, examples: int = 5) -> IdentityEvaluation:
    """Compare marts.contact_origins with a truth file (read into a temporary table)."""
    _check_header(truth)
    conn.execute(
        "create temp table identity_truth (source_system text, source_record_id text, person_id text) on commit drop"
    )
    with conn.cursor().copy("copy identity_truth from stdin (format csv, header true)") as copy, open(truth, "rb") as f:
        while chunk := f.read(1 << 20):
            copy.write(chunk)
    conn.execute(
        "create temp table identity_joined on commit drop as"
        " select t.person_id, o.contact_id, o.source_system, o.source_record_id"
        " from identity_truth t join marts.contact_origins o using (source_system, source_record_id)"
    )
    correct, predicted, true_pairs, matched, known = conn.execute(
        "with cells as (select contact_id, person_id, count(*) as n from identity_joined group by 1, 2),"
        " contacts as (select count(*) as n from identity_joined group by contact_id),"
        " persons as (select count(*) as n from identity_joined group by person_id)"
        " select (select coalesce(sum(n * (n - 1) / 2), 0) from cells),"
        " (select coalesce(sum(n * (n - 1) / 2), 0) from contacts),"
        " (select coalesce(sum(n * (n - 1) / 2), 0) from persons),"
        " (select count(*) from identity_joined), (select count(*) from identity_truth)"
    ).fetchone()
    result = IdentityEvaluation(known, matched, int(true_pairs), int(predicted), int(correct))
    result.false_merges = conn.execute(
        "select contact_id, array_agg(person_id || ' ' || source_system || ':' || source_record_id order by person_id)"
        " from identity_joined group by contact_id having count(distinct person_id) > 1"
        " order by count(*) desc, contact_id limit %s",
        (examples,),
    ).fetchall()
    result.missed_links = conn.execute(
        "select person_id, array_agg(contact_id || ' ' || source_system || ':' || source_record_id order by contact_id)"
        " from identity_joined group by person_id having count(distinct contact_id) > 1"
        " order by count(*) desc, person_id limit %s",
        (examples,),
    ).fetchall()
    conn.rollback()  # the temporary tables go
    return result


def print_evaluation(result: IdentityEvaluation, truth: Path) -> None:
    print(f"identity resolution vs {truth}")
    print(f"  origins in the truth file: {result.truth_origins:,}; in contact_origins: {result.matched_origins:,}")
    print(f"  pairs: {result.true_pairs:,} true, {result.predicted_pairs:,} predicted, {result.correct_pairs:,} both")
    print(f"  precision {result.precision:.4f}   recall {result.recall:.4f}   F1 {result.f1:.4f}")
    if result.false_merges:
        print("  contacts that hold more than one person (false merges), largest first:")
        for contact_id, origins in result.false_merges:
            print(f"    {contact_id}: {', '.join(origins)}")
    if result.missed_links:
        print("  persons spread over several contacts (missed links), largest first:")
        for person_id, origins in result.missed_links:
            print(f"    {person_id}: {', '.join(origins)}")
