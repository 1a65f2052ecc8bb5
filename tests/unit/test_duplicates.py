"""Likely duplicates (`core.duplicates`): each kind of evidence, and what is not evidence."""

from __future__ import annotations

from nudge.core.duplicates import Person, likely_pairs


def evidence(*people: Person) -> dict[tuple[int, int], list[str]]:
    return {(p.a.id, p.b.id): p.evidence for p in likely_pairs(people)}


def test_the_same_name_written_differently_is_a_pair() -> None:
    found = evidence(Person(1, "Chloé Martin"), Person(2, "CHLOE  martin"), Person(3, "Chloé Marin"))
    assert found == {(1, 2): ["same name: Chloé Martin"]}


def test_initials_and_surname() -> None:
    found = evidence(
        Person(1, "Ana Ruiz"),
        Person(2, "Ana R."),
        Person(3, "A. Ruiz"),
        Person(4, "Ana Rey"),  # another surname: not her
        Person(5, "Ruiz"),  # one word: nothing to compare the initials with
    )
    assert found == {
        (1, 2): ["initials and surname: Ana Ruiz / Ana R."],
        (1, 3): ["initials and surname: Ana Ruiz / A. Ruiz"],
        (2, 3): ["initials and surname: Ana R. / A. Ruiz"],
        (2, 4): ["initials and surname: Ana R. / Ana Rey"],  # a hint only: the user decides
    }


def test_phones_that_end_in_the_same_seven_digits() -> None:
    """A number stored as typed (it did not parse) and the same one in E.164 still meet."""
    found = evidence(
        Person(1, "Eva Novák", phones=("+493023125405",)),
        Person(2, "E. Novak (Fabrikam)", phones=("030 23125405",)),
        Person(3, "Sven Berg", phones=("+493023125415",)),  # the same exchange, another number
    )
    assert found == {(1, 2): ["phones end in the same 7 digits: …3125405"]}


def test_the_same_address_name_at_two_domains_but_not_a_role_mailbox() -> None:
    found = evidence(
        Person(1, "Dev Patel", emails=("dev.patel@example.com",)),
        Person(2, "Dev", emails=("dev.patel@northwind.example.org",)),
        Person(3, "Fabrikam", emails=("info@fabrikam.example.net",)),
        Person(4, "Northwind", emails=("info@northwind.example.org",)),
    )
    assert found == {
        (1, 2): ["same address name at two domains: dev.patel@example.com / dev.patel@northwind.example.org"]
    }


def test_every_reason_for_one_pair_and_the_strongest_pairs_first() -> None:
    pairs = likely_pairs(
        [
            Person(1, "Ben Okafor", ("ben.okafor@example.com",), ("+442079460321",)),
            Person(2, "Ben Okafor", ("ben.okafor@okafor.example.net",), ("020 7946 0321",)),
            Person(3, "Kofi Mensah"),
            Person(4, "Kofi Mensah"),
        ]
    )
    assert [(p.a.id, p.b.id, len(p.evidence)) for p in pairs] == [(1, 2, 3), (3, 4, 1)]
