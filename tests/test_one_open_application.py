"""One registered application in process per person, whoever applies (any insurer, the person at a centre);
the verify and order steps refuse a second replacement; public numbers are random and typo-proof."""

from __future__ import annotations

from datetime import date

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select, text

from dost import demo
from dost.extensions import db
from dost.models import Application, ApplicationStatus, EmploymentContract, Insurer
from dost.services import applications, processing, public_numbers, verification
from dost.services.errors import DomainError
from dost.timeutil import today
from tests.staff_support import actor, submit
from tests.test_applications import BASE, actor_for, employee, identity, wizard_post
from tests.test_migrations import _empty_database_app

INSURER_B = "1403558271"


def _also_employed_by_b(session, person) -> Insurer:
    other = session.scalar(select(Insurer).where(Insurer.voen == INSURER_B))
    session.add(EmploymentContract(insurer_id=other.id, person_id=person.id, start_date=date(2020, 1, 1)))
    session.flush()
    return other


def test_a_walk_in_for_a_person_the_employer_applied_for_is_refused_at_axtar(session):
    insurer, person, certificate = employee(session)
    confirmed = applications.confirm_new(session, actor_for(insurer), identity(person, certificate), "lost", today(),
                                         "a" * 43, BASE).application
    agent = actor(session, "agent.bak1")
    for attempt in (
        lambda: processing.look_up_walk_in(session, agent, identity(person, certificate), "", today()),
        lambda: processing.register_walk_in(session, agent, identity(person, certificate), "damaged", "", None,
                                            today(), BASE),
    ):
        with pytest.raises(applications.OpenApplicationExists) as caught:
            attempt()
        assert confirmed.registration_number in str(caught.value.message)
        assert caught.value.field == "fin" and not caught.value.own
    assert session.scalar(select(func.count()).select_from(Application)) == 1


def test_another_insurer_is_refused_at_axtar_and_at_confirming_its_earlier_draft(session):
    insurer, person, certificate = employee(session)
    other = _also_employed_by_b(session, person)
    # B's draft, saved before A registered: another insurer's draft stops nobody.
    draft = applications.save_draft(session, actor_for(other, credential_id=4), identity(person, certificate),
                                    "lost", today())
    confirmed = applications.confirm_new(session, actor_for(insurer), identity(person, certificate), "lost", today(),
                                         "a" * 43, BASE).application
    with pytest.raises(applications.OpenApplicationExists) as caught:
        applications.validate_person(session, other.id, identity(person, certificate), today())
    assert confirmed.registration_number in str(caught.value.message)
    with pytest.raises(applications.OpenApplicationExists):
        applications.confirm_draft(session, actor_for(other, credential_id=4), draft.id, today(), BASE)
    session.expire_all()
    assert session.get(Application, draft.id).status == ApplicationStatus.DRAFT


def test_the_database_keeps_the_rule_when_the_check_is_raced(session, monkeypatch):
    """Two registrations that both passed the check (a race): the unique key lets one commit."""
    insurer, person, certificate = employee(session)
    other = _also_employed_by_b(session, person)
    draft = applications.save_draft(session, actor_for(other, credential_id=4), identity(person, certificate),
                                    "lost", today())
    applications.confirm_new(session, actor_for(insurer), identity(person, certificate), "lost", today(),
                             "a" * 43, BASE)
    real = applications.open_application_for
    calls = {"n": 0}

    def blind_first(*args, **kwargs):
        calls["n"] += 1
        return None if calls["n"] == 1 else real(*args, **kwargs)

    monkeypatch.setattr(applications, "open_application_for", blind_first)
    with pytest.raises(applications.OpenApplicationExists):
        applications.confirm_draft(session, actor_for(other, credential_id=4), draft.id, today(), BASE)
    assert calls["n"] == 2
    in_process = session.scalar(select(func.count()).select_from(Application).where(
        Application.person_id == person.id, Application.status != ApplicationStatus.DRAFT))
    assert in_process == 1


def test_verify_and_order_refuse_a_second_replacement_under_way(session):
    """Two registrations of one person from before the rule (test data bypasses the key): the second is never
    verified or ordered while the first is under way."""
    agent = actor(session, "agent.bak1")
    first = submit(session)
    second = submit(session, person=first.person)
    assert processing.verify(session, agent, first.id, 1, today()).passed
    outcome = processing.verify(session, agent, second.id, 1, today())
    assert not outcome.passed and outcome.certificate == "replacement_in_progress"
    assert second.status == ApplicationStatus.SUBMITTED
    # Verified side by side before the first moved on: the order of the second is refused, naming the first.
    third = submit(session, person=first.person)
    processing.order(session, agent, first.id, first.version, today())
    session.execute(text("UPDATE application SET status = 'verified' WHERE id = :id"), {"id": third.id})
    session.expire_all()
    with pytest.raises(DomainError) as caught:
        processing.order(session, agent, third.id, session.get(Application, third.id).version, today())
    assert caught.value.code == "replacement_in_progress"
    assert first.registration_number in str(caught.value.message)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_migration_keeps_and_reports_data_that_breaks_the_rule(backend, tmp_path, capsys):
    app = _empty_database_app(backend, tmp_path)
    with app.app_context():
        upgrade(revision="c7a1e5f2b9d4")
        demo.load(db.session, app.instance_path, persons=12)
        db.session.commit()
        first = submit(db.session, registration_number="OLD-1")
        person = first.person
        walk_in = submit(db.session, person=person, voen=None, centre_code="BAK1", registration_number="OLD-2")
        draft = submit(db.session, person=person, voen="1403558271", status=ApplicationStatus.DRAFT)
        ids = (first.id, walk_in.id, draft.id)
        person_id, draft_insurer = person.id, draft.insurer_id
        db.session.commit()
        db.session.remove()
        upgrade()
        keys = dict(db.session.execute(
            select(Application.id, Application.open_key).where(Application.id.in_(ids))).all())
        assert keys == {ids[0]: f"person:{person_id}", ids[1]: f"conflict:{ids[1]}",
                        ids[2]: f"draft:{draft_insurer}:{person_id}"}
        # Reported through Alembic's log (migrations/alembic.ini sends it to stderr).
        assert "OLD-2" in capsys.readouterr().err
        db.session.remove()
        db.engine.dispose()


# --- public numbers --------------------------------------------------------------------------------------------


def test_public_numbers_are_random_well_formed_and_distinct():
    numbers = {public_numbers.new_number(2026) for _ in range(2000)}
    assert len(numbers) == 2000
    for number in numbers:
        match = public_numbers.NUMBER_RE.fullmatch(number)
        assert match and public_numbers.is_valid_code(match.group(2) + match.group(3))


def test_the_check_symbol_catches_every_single_typo_and_neighbour_swap():
    number = public_numbers.new_number(2026)
    code = number[10:14] + number[15:]
    for position in range(len(code)):
        for symbol in public_numbers.ALPHABET:
            if symbol != code[position]:
                assert not public_numbers.is_valid_code(code[:position] + symbol + code[position + 1:])
        if position + 1 < len(code) and code[position] != code[position + 1]:
            swapped = code[:position] + code[position + 1] + code[position] + code[position + 2:]
            assert not public_numbers.is_valid_code(swapped)


def test_a_typed_number_is_read_like_the_printed_one():
    number = "DSMF-2026-" + "7K4M-9QX"
    number += public_numbers.check_symbol("7K4M9QX")
    typed = " dsmf 2026 7k4m " + number[-4:].lower().replace("0", "o")
    assert verification.normalize_number(typed) == number
    with pytest.raises(DomainError) as caught:
        verification.validate_number_and_code(number[:-1] + ("A" if number[-1] != "A" else "B"), "")
    assert {error.field for error in caught.value.errors} == {"number", "code"}
    assert "yazı səhvi" in str(caught.value.errors[0].message)


def test_registrations_do_not_disclose_their_order(session):
    insurer, person, certificate = employee(session)
    _, person_2, certificate_2 = employee(session, index=1)
    actor_a = actor_for(insurer)
    numbers = [applications.confirm_new(session, actor_a, identity(p, c), "lost", today(), key * 43,
                                        BASE).application.registration_number
               for p, c, key in ((person, certificate, "a"), (person_2, certificate_2, "b"))]
    assert all(public_numbers.NUMBER_RE.fullmatch(number) for number in numbers)
    assert not any(number.endswith(("0000001", "0000002")) for number in numbers)


def test_axtar_names_the_open_application_but_not_the_draft_being_edited(seal_client, session):
    _, person, certificate = employee(session)
    wizard_post(seal_client, step="reason", action="save", fin=person.fin, ssn=certificate.ssn, reason="lost")
    draft_id = session.scalar(select(Application.id))
    again = wizard_post(seal_client, action="search", fin=person.fin, ssn=certificate.ssn,
                        application_id=str(draft_id))
    assert again.status_code == 200, again.get_data(as_text=True)[:2000]
    fresh = wizard_post(seal_client, action="search", fin=person.fin, ssn=certificate.ssn)
    assert fresh.status_code == 400 and "artıq qaralama var" in fresh.get_data(as_text=True)
    _, other, other_certificate = employee(session, index=1)
    walk_in = processing.register_walk_in(session, actor(session, "agent.bak1"), identity(other, other_certificate),
                                          "lost", "", None, today(), BASE)
    session.commit()
    refused = wizard_post(seal_client, action="search", fin=other.fin, ssn=other_certificate.ssn)
    assert refused.status_code == 400 and walk_in.registration_number in refused.get_data(as_text=True)
