"""`leadflow generate`: seeded, realistic, messy multi-source data in the generic feed format.

One simulated person appears in several systems (CRM, email platform, events app, web analytics)
with the mess real exports have: email case and whitespace, typos in names, phone formats, shared
generic addresses (info@…) used by different people, opt-outs, unsubscribes, hard bounces, re-sent
interactions and a few broken records. ``ground_truth.csv`` says which contact records are the
same person, so identity resolution can be measured against it.

Everything streams to disk row by row: memory does not grow with the size asked for.
"""

from __future__ import annotations

import csv
import itertools
import random
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from leadflow.sources.feed import ENTITIES

FIRST_NAMES = [
    "Anna",
    "Marco",
    "John",
    "Lena",
    "Yuki",
    "Pedro",
    "Sofia",
    "Liam",
    "Wei",
    "Emma",
    "Noah",
    "Olivia",
    "Lucas",
    "Mia",
    "Elias",
    "Hannah",
    "Mateo",
    "Aiko",
    "Chloe",
    "David",
    "Sara",
    "Jonas",
    "Amelia",
    "Omar",
    "Ines",
    "Felix",
    "Nora",
    "Raj",
    "Priya",
    "Kenji",
    "Laura",
    "Tom",
    "Eva",
    "Hugo",
    "Zoe",
    "Ivan",
]
LAST_NAMES = [
    "Berg",
    "Rossi",
    "Smith",
    "Meier",
    "Tanaka",
    "Alves",
    "Garcia",
    "O'Brien",
    "Chen",
    "Jones",
    "Dubois",
    "Novak",
    "Schmidt",
    "Rossi",
    "Kowalski",
    "Larsen",
    "Silva",
    "Nakamura",
    "Fischer",
    "Moreau",
    "Costa",
    "Ivanova",
    "Patel",
    "Kim",
    "Lopez",
    "Weber",
    "Bauer",
    "Rinaldi",
    "Haas",
    "Müller",
]
COMPANIES = [
    ("Nordlicht GmbH", "nordlicht.example", "Manufacturing", "250-999", "DE", "EMEA"),
    ("Rossi Logistica S.p.A.", "rossi-logistica.example", "Logistics", "50-249", "IT", "EMEA"),
    ("Acme Corp", "acme.example", "Retail", "1000+", "US", "AMER"),
    ("Alpenblick AG", "alpenblick.example", "Tourism", "50-249", "CH", "EMEA"),
    ("Sakura Systems KK", "sakura-systems.example", "Software", "250-999", "JP", "APJ"),
    ("Verde Analytics Ltda", "verde.example", "Software", "10-49", "BR", "AMER"),
    ("Iberia Retail SL", "iberia-retail.example", "Retail", "1000+", "ES", "EMEA"),
    ("Shamrock Foods Ltd", "shamrock.example", "Food", "250-999", "IE", "EMEA"),
    ("Dragon Gate Trading Co", "dragongate.example", "Wholesale", "1000+", "CN", "APJ"),
    ("Thames Water Tech plc", "thames-tech.example", "Utilities", "1000+", "GB", "EMEA"),
    ("Lumière SARL", "lumiere.example", "Media", "10-49", "FR", "EMEA"),
    ("Maple Leaf Insurance Inc", "mapleleaf.example", "Insurance", "1000+", "CA", "AMER"),
    ("Kangaroo Mining Pty Ltd", "kangaroo-mining.example", "Mining", "1000+", "AU", "APJ"),
    ("Vistula Bank SA", "vistula.example", "Banking", "1000+", "PL", "EMEA"),
    ("Fjord Energy AS", "fjord-energy.example", "Energy", "250-999", "NO", "EMEA"),
]
# What the same seed and size give changes with this (cached data, e.g. the benchmarks', is stale)
DATA_VERSION = 2

# Beyond the named companies (a few hundred people and fewer: the demo and the tests), generated
# ones: one company per PEOPLE_PER_COMPANY people, the i-th most popular drawn with a weight of
# 1 / i ** COMPANY_SKEW, so a B2B database of 1 M people has 25 k accounts, the largest ones a few
# thousand people each and most a few dozen (with the named 15 alone, 61 k people each: every
# account-wide step, such as crediting an opportunity to all of an account's contacts, worked on
# a sixteenth of the database at once).
PEOPLE_PER_COMPANY = 40
COMPANY_SKEW = 0.6
COMPANY_WORDS = (
    [
        "Nord",
        "Sud",
        "Ost",
        "West",
        "Blue",
        "Red",
        "Green",
        "Silver",
        "Golden",
        "Bright",
        "Clear",
        "Swift",
        "Stone",
        "River",
        "Lake",
        "Hill",
        "Oak",
        "Pine",
        "Cedar",
        "Iron",
        "Star",
        "Sun",
        "Moon",
        "Cloud",
        "North",
        "Alpha",
        "Delta",
        "Nova",
        "Terra",
        "Vista",
    ],
    [
        "bridge",
        "field",
        "gate",
        "haven",
        "light",
        "line",
        "mark",
        "point",
        "port",
        "ridge",
        "side",
        "stone",
        "view",
        "way",
        "wood",
        "works",
        "dale",
        "ford",
        "crest",
        "spring",
        "wave",
        "peak",
        "path",
        "core",
        "tech",
        "soft",
        "net",
        "logic",
        "data",
        "grid",
    ],
    [
        "Systems",
        "Logistics",
        "Foods",
        "Energy",
        "Analytics",
        "Retail",
        "Media",
        "Insurance",
        "Mining",
        "Bank",
        "Trading",
        "Health",
        "Software",
        "Engineering",
        "Consulting",
        "Motors",
        "Chemicals",
        "Textiles",
        "Pharma",
        "Telecom",
        "Capital",
        "Labs",
        "Robotics",
        "Solutions",
        "Holdings",
        "Partners",
        "Industries",
        "Materials",
        "Networks",
        "Services",
    ],
)
LEGAL_FORM = {
    "DE": "GmbH",
    "IT": "S.p.A.",
    "US": "Inc",
    "CH": "AG",
    "JP": "KK",
    "BR": "Ltda",
    "ES": "SL",
    "IE": "Ltd",
    "CN": "Co",
    "GB": "plc",
    "FR": "SARL",
    "CA": "Inc",
    "AU": "Pty Ltd",
    "PL": "SA",
    "NO": "AS",
}
PHONE_PREFIX = {
    "DE": "+49",
    "IT": "+39",
    "US": "+1",
    "CH": "+41",
    "JP": "+81",
    "BR": "+55",
    "ES": "+34",
    "IE": "+353",
    "CN": "+86",
    "GB": "+44",
    "FR": "+33",
    "CA": "+1",
    "AU": "+61",
    "PL": "+48",
    "NO": "+47",
}
JOB_TITLES = [
    "Head of IT",
    "CTO",
    "CIO",
    "IT Manager",
    "Procurement Manager",
    "Marketing Director",
    "VP Engineering",
    "Data Engineer",
    "Operations Analyst",
    "Chief Marketing Officer",
    "Head of Sales Operations",
    "Software Developer",
    "Student",
    "Intern",
    "Purchasing Lead",
    "Director of Operations",
    "CFO",
    "Business Analyst",
]
FREE_MAIL = ("mail.example", "post.example", "inbox.example")
INTERESTS = ("erp", "crm", "analytics", "cloud", "security", "ai", "iot", "finance", "hr", "supply_chain")
CAMPAIGN_KINDS = ("Summit", "Webinar", "Newsletter", "Launch")
CHANNELS = ("email", "web", "event", "webinar", "social", "paid_search")
EMAIL_TYPES = ("email_open", "email_open", "email_open", "email_click", "email_click")
WEB_TYPES = ("web_visit", "web_visit", "web_visit", "download")
EVENT_TYPES = ("event_registration", "badge_scan", "webinar_registration", "webinar_attended")
# people in buying mode: a burst of recent, strong signals (what scoring should find)
HOT_SHARE = 0.12
HOT_TYPES = (
    ("email", "email_click"),
    ("email", "email_click"),
    ("email", "email_open"),
    ("events", "webinar_registration"),
    ("events", "webinar_attended"),
    ("events", "event_registration"),
    ("events", "badge_scan"),
)


def generated_company(index: int, companies: int) -> tuple[str, str, str, str, str, str]:
    """The index-th company (after the named ones) of `companies`, by its popularity rank: name and
    domain unique per index, country and marketing area of a named company, size by rank."""
    first, second, third = (len(words) for words in COMPANY_WORDS)
    stem = (
        COMPANY_WORDS[0][index % first]
        + COMPANY_WORDS[1][index // first % second]
        + " "
        + COMPANY_WORDS[2][index // (first * second) % third]
    )
    lap = index // (first * second * third)  # 27 k names, then again with a number
    name = stem + (f" {lap + 1}" if lap else "")
    template = COMPANIES[(index * 7) % len(COMPANIES)]
    share = index / companies
    size = "1000+" if share < 0.02 else "250-999" if share < 0.1 else "50-249" if share < 0.4 else "10-49"
    domain = name.lower().replace(" ", "-") + ".example"
    industry = COMPANIES[(index * 11) % len(COMPANIES)][2]
    return (f"{name} {LEGAL_FORM[template[4]]}", domain, industry, size, template[4], template[5])


@dataclass
class Person:
    person_id: int
    first_name: str
    last_name: str
    company: tuple[str, str, str, str, str, str]
    email: str
    phone: str
    job_title: str
    cookies: list[str]
    crm_id: str | None
    opted_out: bool


class Generator:
    """Deterministic for a given seed and size; `as_of` is the newest timestamp written."""

    def __init__(
        self,
        contacts: int,
        seed: int = 42,
        as_of: datetime | None = None,
        interactions_per_contact: int = 10,
        bad_share: float = 0.001,
    ):
        self.contacts = contacts
        self.rng = random.Random(seed)
        # the buying bursts draw from their own generator: the rest of the data stays as it was
        self.burst_rng = random.Random(seed * 7919 + 1)
        self.as_of = as_of or datetime(2026, 11, 1, tzinfo=UTC)
        self.interactions_per_contact = interactions_per_contact
        self.bad_share = bad_share
        self.campaigns = [f"K-{i:04d}" for i in range(max(10, contacts // 1000))]
        self.companies = COMPANIES + [
            generated_company(i, contacts // PEOPLE_PER_COMPANY)
            for i in range(len(COMPANIES), contacts // PEOPLE_PER_COMPANY)
        ]
        # cumulative weights of the skewed draw (none: the named companies, drawn evenly as always)
        self.company_weights = (
            list(itertools.accumulate(1 / (i + 1) ** COMPANY_SKEW for i in range(len(self.companies))))
            if len(self.companies) > len(COMPANIES)
            else None
        )
        self.counters: dict[str, int] = {}

    def _company(self) -> tuple[str, str, str, str, str, str]:
        if self.company_weights is None:
            return self.rng.choice(COMPANIES)
        return self.rng.choices(self.companies, cum_weights=self.company_weights)[0]

    # -- small helpers --

    def _ts(self, days_back: float = 400) -> datetime:
        return self.as_of - timedelta(seconds=self.rng.uniform(0, days_back * 86400))

    @staticmethod
    def _iso(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _typo(self, name: str) -> str:
        if len(name) < 4 or self.rng.random() > 0.05:
            return name
        i = self.rng.randrange(1, len(name) - 1)
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]  # two letters swapped

    def _email_variant(self, email: str) -> str:
        roll = self.rng.random()
        if roll < 0.15:
            return email.upper()
        if roll < 0.25:
            local, domain = email.split("@")
            return f" {local.capitalize()}@{domain} "
        return email

    def _phone_variant(self, person: Person) -> str:
        if not person.phone:
            return ""
        digits = person.phone.replace(" ", "")
        roll = self.rng.random()
        if roll < 0.3:
            return person.phone
        if roll < 0.6:
            return digits
        return f"{digits[:3]} ({digits[3:6]}) {digits[6:9]}-{digits[9:]}"

    def _next(self, key: str) -> int:
        self.counters[key] = self.counters.get(key, 0) + 1
        return self.counters[key]

    def _maybe_break(self, row: dict[str, Any], id_field: str, ts_field: str) -> dict[str, Any]:
        """A few records arrive broken: they must end in the quarantine, not in raw."""
        if self.rng.random() >= self.bad_share:
            return row
        kind = self.rng.randrange(3)
        if kind == 0:
            row[id_field] = ""
        elif kind == 1:
            row[ts_field] = "not-a-date"
        else:
            row[ts_field] = self._iso(self.as_of + timedelta(days=30))
        return row

    def person(self, person_id: int) -> Person:
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = self._company()
        local = f"{first}.{last}".lower().replace("'", "").replace("ü", "ue") + (
            str(person_id) if person_id > 30 else ""
        )
        domain = company[1] if rng.random() < 0.8 else rng.choice(FREE_MAIL)
        prefix = PHONE_PREFIX[company[4]]
        phone = f"{prefix} {rng.randint(10, 99)} {rng.randint(1000000, 9999999)}" if rng.random() < 0.6 else ""
        cookies = [f"ck-{person_id}-{i}" for i in range(1 if rng.random() < 0.8 else 2)]
        return Person(
            person_id,
            first,
            last,
            company,
            f"{local}@{domain}",
            phone,
            rng.choice(JOB_TITLES),
            cookies,
            f"CRM-{person_id:07d}" if rng.random() < 0.6 else None,
            rng.random() < 0.08,
        )

    # -- rows per system --

    def contact_rows(self, person: Person) -> Iterator[tuple[str, dict[str, Any]]]:
        """(source_system, contact row) for every system the person is known to."""
        company_name, domain, industry, size, country, area = person.company
        base = {"industry": industry, "company_size": size, "country": country, "marketing_area": area}
        if person.crm_id:
            yield (
                "crm",
                {
                    **base,
                    "source_system": "crm",
                    "source_record_id": f"C-{self._next('crm'):07d}",
                    "updated_at": self._iso(self._ts()),
                    "email": self._email_variant(person.email),
                    "phone": self._phone_variant(person),
                    "crm_id": person.crm_id,
                    "cookie_id": "",
                    "first_name": person.first_name,
                    "last_name": person.last_name,
                    "job_title": person.job_title,
                    "company": company_name,
                    "email_opt_in": "" if self.rng.random() < 0.3 else str(not person.opted_out).lower(),
                    "phone_opt_in": "",
                },
            )
        if self.rng.random() < 0.7:
            generic = self.rng.random() < 0.03  # a shared mailbox: different people, one address
            email = f"info@{domain}" if generic else self._email_variant(person.email)
            yield (
                "email",
                {
                    **base,
                    "source_system": "email",
                    "source_record_id": f"S-{self._next('email'):07d}",
                    "updated_at": self._iso(self._ts()),
                    "email": email,
                    "phone": "",
                    "crm_id": "",
                    "cookie_id": "",
                    "first_name": self._typo(person.first_name) if self.rng.random() < 0.7 else "",
                    "last_name": self._typo(person.last_name) if self.rng.random() < 0.7 else "",
                    "job_title": "",
                    "company": company_name if self.rng.random() < 0.5 else "",
                    "email_opt_in": "false" if person.opted_out else "true",
                    "phone_opt_in": "",
                },
            )
        if self.rng.random() < 0.25:
            yield (
                "events",
                {
                    **base,
                    "source_system": "events",
                    "source_record_id": f"E-{self._next('events'):07d}",
                    "updated_at": self._iso(self._ts()),
                    "email": self._email_variant(person.email),
                    "phone": self._phone_variant(person),
                    "crm_id": "",
                    "cookie_id": "",
                    "first_name": self._typo(person.first_name).upper()
                    if self.rng.random() < 0.2
                    else person.first_name,
                    "last_name": self._typo(person.last_name),
                    "job_title": person.job_title,
                    "company": company_name.replace(" GmbH", "").replace(" AG", ""),
                    "email_opt_in": "",
                    "phone_opt_in": "true" if self.rng.random() < 0.3 else "",
                },
            )

    def interaction_rows(self, person: Person) -> Iterator[tuple[str, dict[str, Any]]]:
        rng = self.rng
        area = person.company[5]
        count = max(1, int(rng.expovariate(1 / self.interactions_per_contact)))
        for _ in range(count):
            roll = rng.random()
            when = self._ts()
            row = {
                "source_interaction_id": "",
                "occurred_at": self._iso(when),
                "interaction_type": "",
                "source_record_id": "",
                "email": "",
                "crm_id": "",
                "cookie_id": "",
                "campaign_id": "",
                "content_url": "",
                "interests": "|".join(rng.sample(INTERESTS, rng.randint(0, 2))),
                "marketing_area": area,
            }
            if roll < 0.45:
                system = "email"
                row.update(
                    interaction_type=rng.choice(EMAIL_TYPES), email=person.email, campaign_id=rng.choice(self.campaigns)
                )
            elif roll < 0.8:
                system = "web"
                cookie = rng.choice(person.cookies)
                kind = rng.choice(WEB_TYPES) if rng.random() > 0.08 else "form_submit"
                row.update(
                    interaction_type=kind,
                    cookie_id=cookie,
                    content_url=f"https://www.leadflow.example/{rng.choice(INTERESTS)}/{rng.randint(1, 40)}",
                )
                if kind == "form_submit":  # the form ties the cookie to a person
                    row["email"] = self._email_variant(person.email)
            elif roll < 0.95:
                system = "events"
                row.update(
                    interaction_type=rng.choice(EVENT_TYPES),
                    email=self._email_variant(person.email),
                    campaign_id=rng.choice(self.campaigns),
                )
            else:
                system = "crm"
                if not person.crm_id:
                    continue
                row.update(interaction_type="sales_call", crm_id=person.crm_id)
            row["source_system"] = system
            row["source_interaction_id"] = f"{system[:2].upper()}-{self._next(system + '_i'):09d}"
            yield system, self._maybe_break(row, "source_interaction_id", "occurred_at")
            if rng.random() < 0.005:  # re-sent by the source: the same interaction twice
                yield system, dict(row)
        if self.burst_rng.random() < HOT_SHARE:
            yield from self._buying_burst(person)
        if person.opted_out and rng.random() < 0.5:
            yield "email", self._negative(person, "unsubscribe")
        if rng.random() < 0.01:
            yield "email", self._negative(person, rng.choice(("hard_bounce", "spam_complaint")))

    def _buying_burst(self, person: Person) -> Iterator[tuple[str, dict[str, Any]]]:
        """A person in buying mode: 8–20 clicks, webinars and event visits in the last three weeks,
        mostly about one topic."""
        rng = self.burst_rng
        topic = rng.choice(INTERESTS)
        for _ in range(rng.randint(8, 20)):
            system, kind = rng.choice(HOT_TYPES)
            when = self.as_of - timedelta(seconds=rng.uniform(0, 21 * 86400))
            yield (
                system,
                {
                    "source_system": system,
                    "source_interaction_id": f"{system[:2].upper()}-{self._next(system + '_i'):09d}",
                    "occurred_at": self._iso(when),
                    "interaction_type": kind,
                    "source_record_id": "",
                    "email": person.email,
                    "crm_id": "",
                    "cookie_id": "",
                    "campaign_id": rng.choice(self.campaigns),
                    "content_url": "",
                    "interests": topic if rng.random() < 0.8 else rng.choice(INTERESTS),
                    "marketing_area": person.company[5],
                },
            )

    def _negative(self, person: Person, kind: str) -> dict[str, Any]:
        return {
            "source_system": "email",
            "source_interaction_id": f"EM-{self._next('email_i'):09d}",
            "occurred_at": self._iso(self._ts(60)),
            "interaction_type": kind,
            "source_record_id": "",
            "email": person.email,
            "crm_id": "",
            "cookie_id": "",
            "campaign_id": "",
            "content_url": "",
            "interests": "",
            "marketing_area": person.company[5],
        }

    def opportunity_row(self, person: Person) -> dict[str, Any] | None:
        if not person.crm_id or self.rng.random() > 0.05:
            return None
        created = self._ts(200)
        status = self.rng.choice(("open", "won", "lost"))
        closed = (
            "" if status == "open" else self._iso(min(self.as_of, created + timedelta(days=self.rng.randint(5, 90))))
        )
        return {
            "source_system": "crm",
            "opportunity_id": f"O-{self._next('opp'):07d}",
            "crm_id": person.crm_id,
            "account": person.company[0],
            "created_at": self._iso(created),
            "closed_at": closed,
            "status": status,
            "amount": f"{self.rng.randint(5, 500) * 1000}.00",
        }

    def campaign_rows(self) -> Iterator[dict[str, Any]]:
        for campaign_id in self.campaigns:
            start = self._ts(420)
            yield {
                "source_system": "crm",
                "campaign_id": campaign_id,
                "name": f"{self.rng.choice(INTERESTS).upper()} {self.rng.choice(CAMPAIGN_KINDS)}",
                "channel": self.rng.choice(CHANNELS),
                "started_at": self._iso(start),
                "ended_at": self._iso(min(self.as_of, start + timedelta(days=self.rng.randint(1, 60)))),
            }

    # -- the files --

    def write(self, out: Path, progress: bool = True) -> dict[str, int]:
        """Write every feed file and ground_truth.csv into ``out``; return rows per file."""
        out.mkdir(parents=True, exist_ok=True)
        counts: dict[str, int] = {}
        with ExitStack() as stack:
            writers: dict[str, csv.DictWriter] = {}

            def writer(source: str, entity: str) -> csv.DictWriter:
                name = f"{source}__{entity}.csv"
                if name not in writers:
                    handle = stack.enter_context(open(out / name, "w", newline="", encoding="utf-8"))
                    writers[name] = csv.DictWriter(handle, ENTITIES[entity].columns, lineterminator="\n")
                    writers[name].writeheader()
                counts[name] = counts.get(name, 0) + 1
                return writers[name]

            truth_handle = stack.enter_context(open(out / "ground_truth.csv", "w", newline="", encoding="utf-8"))
            truth = csv.writer(truth_handle, lineterminator="\n")
            truth.writerow(["source_system", "source_record_id", "person_id"])
            for row in self.campaign_rows():
                writer("crm", "campaigns").writerow(row)
            step = max(1, self.contacts // 20)
            for person_id in range(1, self.contacts + 1):
                person = self.person(person_id)
                for source, row in self.contact_rows(person):
                    row = self._maybe_break(row, "source_record_id", "updated_at")
                    if row["source_record_id"]:
                        truth.writerow([source, row["source_record_id"], f"P-{person_id:08d}"])
                    writer(source, "contacts").writerow(row)
                for source, row in self.interaction_rows(person):
                    writer(source, "interactions").writerow(row)
                if opportunity := self.opportunity_row(person):
                    writer("crm", "opportunities").writerow(opportunity)
                if progress and person_id % step == 0:
                    print(f"\r  generated {person_id:,}/{self.contacts:,} people", end="", flush=True)
        if progress:
            print()
        return counts
