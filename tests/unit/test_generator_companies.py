from collections import Counter

from leadflow.demo.generator import COMPANIES, LEGAL_FORM, PEOPLE_PER_COMPANY, PHONE_PREFIX, Generator


def test_a_few_hundred_people_work_at_the_named_companies_drawn_evenly_as_before():
    generator = Generator(500, seed=42)  # the demo's size

    drawn = Counter(generator.person(i).company for i in range(1, 3001))

    assert generator.companies == COMPANIES
    assert set(drawn) == set(COMPANIES)
    assert max(drawn.values()) < 2 * min(drawn.values())


def test_more_people_work_at_more_companies_a_few_large_and_most_small():
    people = 40_000
    generator = Generator(people, seed=7)

    companies = generator.companies
    drawn = Counter(generator.person(i).company for i in range(1, people + 1))
    sizes = sorted(drawn.values(), reverse=True)

    assert len(companies) == people // PEOPLE_PER_COMPANY
    assert companies[: len(COMPANIES)] == COMPANIES
    assert len({c[0] for c in companies}) == len({c[1] for c in companies}) == len(companies)
    assert sizes[0] > 20 * sizes[len(sizes) // 2]  # the largest account dwarfs the typical one
    assert sizes[0] < people // 20  # and none holds a twentieth of the people
    assert len(drawn) > len(companies) // 2


def test_generated_companies_have_a_legal_form_a_known_country_and_its_phone_prefix():
    generator = Generator(4_000, seed=7)

    for name, domain, _industry, size, country, area in generator.companies[len(COMPANIES) :]:
        assert name.endswith(" " + LEGAL_FORM[country])
        assert domain.endswith(".example") and " " not in domain
        assert size in {"1000+", "250-999", "50-249", "10-49"}
        assert (country, area) in {(c[4], c[5]) for c in COMPANIES}
    phones = [(p.phone, p.company[4]) for p in map(generator.person, range(1, 300)) if p.phone]
    assert phones and all(phone.startswith(PHONE_PREFIX[country] + " ") for phone, country in phones)
