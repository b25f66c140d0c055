"""Guessing limits per card and per typed staff user name: shared by every process (database or Redis), counted
before the secret is checked, kept through a rollback, locking with a backoff that ends by itself. The card's PIN is
checked by the demo identity provider at sign-in (with these limits, in its own database) and by the app when an
application is signed."""

from __future__ import annotations

import html
import os
import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dost.extensions import db
from dost.models import Application, AuditEvent, Credential, SignInThrottle
from dost.services import signin, throttle
from dost.services.errors import DomainError
from dost.timeutil import utcnow
from tests.conftest import SEAL_A_CARD, SEAL_B_CARD, build_app, sign_in_card
from tests.staff_support import sign_in_staff
from tests.test_applications import employee, wizard_post

REDIS_URL = os.environ.get("DOST_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
SUBJECT = throttle.staff("someone")
WRONG_PIN = "9999"


def _redis():
    """A client of the test Redis (db 14) with no throttle keys, or a skip when there is none."""
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError:
        client.close()
        pytest.skip(f"no Redis at {REDIS_URL}")
    _forget_redis(client)
    return client


def _forget_redis(client) -> None:
    keys = list(client.scan_iter(throttle.REDIS_PREFIX + "*"))
    if keys:
        client.delete(*keys)


@pytest.fixture(params=["database", "redis"])
def store(request, session):
    """The throttle of the test database's engine kept in the database, then in Redis."""
    engine = session.get_bind()
    if request.param == "redis":
        client = _redis()
        throttle.configure(engine, REDIS_URL)
        yield request.param
        throttle.configure(engine, "database")
        _forget_redis(client)
        client.close()
    else:
        yield request.param


def _error(response, field: str) -> str:
    match = re.search(rf'id="{field}-error"[^>]*>(.*?)</p>', response.get_data(as_text=True), re.S)
    assert match, response.get_data(as_text=True)[:3000]
    return html.unescape(match.group(1))


# ---------------------------------------------------------------- the service


def test_five_failures_lock_for_a_minute_then_each_failure_doubles_it_up_to_an_hour(session, store):
    now = utcnow()
    first = [throttle.attempt(session, SUBJECT, now, "password") for _ in range(5)]
    assert [a.failures for a in first] == [1, 2, 3, 4, 5]
    assert [a.locked_until for a in first] == [None, None, None, None, now + timedelta(minutes=1)]
    assert first[3].failed("password") is None
    assert "qəbul olunmur" in str(first[4].failed("password").message)
    # While locked nothing is checked or counted, and the answer says how long to wait.
    with pytest.raises(throttle.Throttled) as refused:
        throttle.attempt(session, SUBJECT, now + timedelta(seconds=59), "password")
    assert refused.value.status_code == 429 and refused.value.retry_after == 1
    assert refused.value.field == "password" and "yeni cəhd qəbul olunmur" in str(refused.value.message)
    # The lock ends by itself; each further failure locks twice as long, up to an hour.
    at, locks = first[4].locked_until, []
    for _ in range(8):
        attempt = throttle.attempt(session, SUBJECT, at, "password")
        locks.append(attempt.locked_until - at)
        at = attempt.locked_until
    assert locks == [timedelta(minutes=m) for m in (2, 4, 8, 16, 32, 60, 60, 60)]
    assert attempt.failures == 13
    assert throttle.locked(session, [SUBJECT, throttle.staff("other")], at - timedelta(seconds=1)) == {SUBJECT: at}


def test_a_success_or_a_quiet_day_forgets_the_failures(session, store):
    now = utcnow()
    for _ in range(4):
        attempt = throttle.attempt(session, SUBJECT, now, "password")
    throttle.succeeded(session, attempt)
    assert throttle.attempt(session, SUBJECT, now, "password").failures == 1
    for _ in range(3):
        attempt = throttle.attempt(session, SUBJECT, now, "password")
    assert attempt.failures == 4
    later = now + throttle.FORGET_AFTER + timedelta(seconds=1)
    assert throttle.attempt(session, SUBJECT, later, "password").failures == 1


def test_the_count_outlives_the_callers_rollback(session, store):
    now = utcnow()
    throttle.attempt(session, SUBJECT, now, "password")
    session.rollback()
    assert throttle.attempt(session, SUBJECT, now, "password").failures == 2
    if store == "database":
        assert session.scalar(select(SignInThrottle.failures).where(SignInThrottle.subject == SUBJECT)) == 2


def test_parallel_attempts_all_count_and_a_burst_gets_no_extra_guess(session, store):
    engine, now = session.get_bind(), utcnow()
    barrier = threading.Barrier(8)
    outcomes: list = []

    def guess():
        with Session(engine) as own:
            barrier.wait()
            try:
                outcomes.append(throttle.attempt(own, SUBJECT, now, "password").failures)
            except throttle.Throttled:
                outcomes.append("refused")

    threads = [threading.Thread(target=guess) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Five guesses (the fifth locks before its secret is checked), the other three refused unchecked.
    assert sorted(o for o in outcomes if o != "refused") == [1, 2, 3, 4, 5]
    assert outcomes.count("refused") == 3


def test_subjects_are_stored_as_digests_and_storage_is_database_or_redis(session):
    throttle.attempt(session, throttle.card(SEAL_A_CARD[0]), utcnow(), "pin")
    stored = session.scalars(select(SignInThrottle.subject)).all()
    assert stored == [throttle.card(SEAL_A_CARD[0])] and SEAL_A_CARD[0] not in stored[0]
    assert throttle.card("1") != throttle.staff("1")
    with pytest.raises(ValueError, match="redis://"):
        throttle.configure(session.get_bind(), "memory://")


# ---------------------------------------------------------------- employer card PIN at the demo identity provider


def _card(client, pin: str, card: str = SEAL_A_CARD[0]):
    """A card sign-in at the demo identity provider (it keeps the same guessing limits, in its own database)."""
    return sign_in_card(client, (card, pin))


def test_card_pin_is_limited_per_card_at_the_provider(app):
    for _ in range(5):
        response = _card(app.test_client(), WRONG_PIN)
        assert response.status_code == 400
    assert "yeni cəhd qəbul olunmur" in _error(response, "pin")
    # The right PIN from yet another browser is refused unchecked, with the time to come back.
    response = _card(app.test_client(), SEAL_A_CARD[1])
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    assert "yeni cəhd qəbul olunmur" in _error(response, "pin")
    # Another card is not affected.
    assert sign_in_card(app.test_client(), SEAL_B_CARD).status_code == 302


def test_unknown_cards_are_counted_and_answered_alike(app):
    answers = {}
    for card in (SEAL_A_CARD[0], "1234567890"):
        responses = [_card(app.test_client(), WRONG_PIN, card) for _ in range(6)]
        answers[card] = [(response.status_code, _error(response, "pin")) for response in responses]
    assert answers[SEAL_A_CARD[0]] == answers["1234567890"]
    assert answers["1234567890"][0][0] == 400 and answers["1234567890"][-1][0] == 429


def test_a_right_pin_forgets_the_failures(app):
    client = app.test_client()
    for _ in range(4):
        assert _card(client, WRONG_PIN).status_code == 400
    assert sign_in_card(client).status_code == 302
    other = app.test_client()
    for _ in range(4):
        response = _card(other, WRONG_PIN)
        assert response.status_code == 400 and _error(response, "pin") == "Kartın nömrəsi və ya PIN kod yanlışdır."
    assert sign_in_card(other).status_code == 302


# ---------------------------------------------------------------- the signing PIN, in the app


@pytest.fixture
def second_app(app, tmp_path):
    """Another app instance (another process, as far as the app can tell) on the same database."""
    other = build_app(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path)
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def _sign_with_pin(instance, pin: str) -> DomainError:
    """Təsdiqlə's PIN check (dost.services.signin.check_signer_pin) on one app instance: the error it raised."""
    with instance.app_context():
        credential = db.session.scalar(select(Credential).where(Credential.card_number == SEAL_A_CARD[0]))
        try:
            signin.check_signer_pin(db.session, credential, pin, utcnow())
        except DomainError as error:
            return error
        finally:
            db.session.rollback()
            db.session.remove()
    raise AssertionError("the PIN was accepted")


def test_signing_pin_failures_on_two_app_instances_count_together(app, second_app, session):
    for instance in (app, second_app, app, second_app, app):
        assert _sign_with_pin(instance, WRONG_PIN).status_code == 400
    for instance in (app, second_app):
        assert isinstance(_sign_with_pin(instance, SEAL_A_CARD[1]), throttle.Throttled)
    assert session.scalar(select(SignInThrottle.failures)) == 5
    # The lock on a real card is audited, in a transaction of its own.
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "credential.throttled")).one()
    assert event.object_type == "credential" and event.changes["failures"] == 5


def test_signing_pin_failures_count_together_in_redis_across_two_app_instances(app, session, tmp_path):
    client = _redis()
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    instances = [build_app(url, tmp_path / name, THROTTLE_STORAGE_URI=REDIS_URL) for name in ("one", "two")]
    try:
        for i in range(5):
            assert _sign_with_pin(instances[i % 2], WRONG_PIN).status_code == 400
        for instance in instances:
            assert isinstance(_sign_with_pin(instance, SEAL_A_CARD[1]), throttle.Throttled)
        assert client.exists(throttle.REDIS_PREFIX + throttle.card(SEAL_A_CARD[0]))
        assert session.scalar(select(func.count()).select_from(SignInThrottle)) == 0
    finally:
        for instance in instances:
            with instance.app_context():
                db.session.remove()
                db.engine.dispose()
        _forget_redis(client)
        client.close()


def test_the_signing_pin_counts_against_the_card(app, seal_client, session):
    _, person, certificate = employee(session)

    def sign(pin):
        return wizard_post(seal_client, step="sign", action="sign", fin=person.fin, ssn=certificate.ssn,
                           reason="lost", submission_key="s" * 43, pin=pin)

    for _ in range(4):
        assert sign(WRONG_PIN).status_code == 400
    response = sign(WRONG_PIN)
    assert response.status_code == 400 and "yeni cəhd qəbul olunmur" in response.get_data(as_text=True)
    response = sign(SEAL_A_CARD[1])
    assert response.status_code == 429 and "yeni cəhd qəbul olunmur" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Application)) == 0


def test_a_card_the_provider_locked_at_sign_in_cannot_sign_either(app, seal_client, session):
    _, person, certificate = employee(session)
    for _ in range(5):
        assert _card(app.test_client(), WRONG_PIN).status_code == 400
    # The app's own count for the card is clean; the provider, which checks the PIN, says the card is locked.
    response = wizard_post(seal_client, step="sign", action="sign", fin=person.fin, ssn=certificate.ssn,
                           reason="lost", submission_key="s" * 43, pin=SEAL_A_CARD[1])
    assert response.status_code == 400 and "müvəqqəti bloklanıb" in html.unescape(response.get_data(as_text=True))
    assert session.scalar(select(func.count()).select_from(Application)) == 0


# ---------------------------------------------------------------- staff user names


def _answer(response) -> tuple:
    """Status and messages (Retry-After is checked apart: Flask-Limiter's per-address window changes it)."""
    page = response.get_data(as_text=True)
    errors = {field: html.unescape(text) for field, text in re.findall(r'id="(\w+)-error"[^>]*>(.*?)</p>', page, re.S)}
    if response.status_code == 429:
        assert 0 < int(response.headers["Retry-After"]) <= 60
    return response.status_code, errors


def test_unknown_and_real_user_names_get_the_same_answers(app, monkeypatch):
    now = utcnow()
    monkeypatch.setattr("dost.blueprints.staff.views.utcnow", lambda: now)
    client = app.test_client()
    answers = {}
    for username in ("agent.bak1", "no.such.user"):
        answers[username] = [_answer(client.post("/staff/sign-in", data={
            "username": username, "password": "wrong-password", "code": "123456"})) for _ in range(7)]
    assert answers["agent.bak1"] == answers["no.such.user"]
    statuses = [status for status, _errors in answers["no.such.user"]]
    assert statuses == [400] * 5 + [429] * 2
    assert answers["no.such.user"][0][1] == {"password": "İstifadəçi adı və ya şifrə yanlışdır."}
    assert "yeni cəhd qəbul olunmur" in answers["no.such.user"][4][1]["password"]
    # The right password and code change nothing while the name is locked.
    assert _answer(sign_in_staff(client, "agent.bak1")) == answers["agent.bak1"][-1]
    assert _answer(client.post("/staff/sign-in", data={
        "username": "no.such.user", "password": "Agent-Baki1-2026", "code": "123456"})) == answers["no.such.user"][-1]
