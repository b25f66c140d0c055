"""Authority delegation: the grants service (rules, bad input, audit, double submit) and its views (the three-step
wizard with and without htmx, the registry with filters, revocation and CSV export), plus the 7-day warnings."""

from __future__ import annotations

import csv
import html
import io
import re
import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from dost.extensions import db
from dost.models import (
    AuditEvent,
    Credential,
    CredentialKind,
    DocumentType,
    Gender,
    Grant,
    Insurer,
    Person,
    ServiceCode,
)
from dost.registries import registries_for
from dost.services import grants
from dost.services.actors import Actor
from dost.services.authority import GrantState, access_for, delegate_services, grant_state
from dost.services.errors import DomainError, Forbidden, NotFound
from dost.timeutil import today, utcnow
from tests.conftest import NO_SEAL_A_CARD, SEAL_B_CARD, sign_in_card

SEAL_A = "1000000001"
SEAL_A_FIN = "5ZK4R9P"
DELEGATE_A = "1000000002"  # insurer A's card without seal authority
DELEGATE_A_FIN = "6PL2M3T"
SEAL_B = "2000000001"
DELEGATE_B_MOBILE = "+994703456789"  # insurer B's Asan İmza without seal authority
DELEGATE_B_FIN = "7HT5N1K"
EXPIRED_CARD = "9000000001"
EXPIRED_FIN = "8MN3P5R"
VOEN_A = "9802091761"


# ---------------------------------------------------------------- helpers shared with the other grant test files


def ensure_person(session, fin: str) -> None:
    """The demo population registry does not list every signature holder; add the ones a test delegates to."""
    if registries_for(session).population.find_by_fin(fin) is None:
        session.add(Person(
            fin=fin, document_type=DocumentType.ID_CARD, document_number="AA" + fin, surname="SINAQOV",
            name="TEST", patronymic="TEST OĞLU", gender=Gender.MALE, citizenship="Azərbaycan Respublikası",
            birthplace="Bakı şəhəri", birth_date=date(1990, 1, 1), issuing_authority="DİN ASAN 1",
            issue_date=date(2020, 1, 1),
        ))
        session.flush()


def credential(session, identifier: str) -> Credential:
    column = Credential.mobile_number if identifier.startswith("+") else Credential.card_number
    return session.scalar(select(Credential).where(column == identifier))


def actor_for(session, identifier: str, insurer_id: int | None = None) -> Actor:
    """The service actor of a signed-in credential, as EmployerPrincipal.actor() builds it."""
    cred = credential(session, identifier)
    insurer_id = insurer_id if insurer_id is not None else cred.seal_insurer_id
    seal = cred.seal_insurer_id == insurer_id
    return Actor(kind="employer", label=cred.holder_name, credential_id=cred.id, insurer_id=insurer_id,
                 role="seal_holder" if seal else "delegate", authority="seal" if seal else "delegate")


def activate(session, insurer_id: int) -> None:
    insurer = session.get(Insurer, insurer_id)
    if insurer.activated_at is None:
        insurer.activated_at = utcnow()
        session.flush()


def make_grant(session, *, granter: str = SEAL_A, card: str | None = DELEGATE_A, mobile: str | None = None,
               fin: str = DELEGATE_A_FIN, service: ServiceCode = ServiceCode.SSN_CERTIFICATE,
               start: date | None = None, end: date | None = None, on: date | None = None,
               submission: str | None = None) -> Grant:
    """A grant through the service, as the seal holder makes it (the insurer activated as at first sign-in)."""
    actor = actor_for(session, granter)
    activate(session, actor.insurer_id)
    ensure_person(session, fin)
    grant = grants.create_grant(
        session, actor, service=service, kind=CredentialKind.ASAN if mobile else CredentialKind.CARD, fin=fin,
        card_number=None if mobile else card, mobile_number=mobile, indefinite=start is None and end is None,
        start_date=start, end_date=end, on=on or today(), submission=submission,
    )
    session.commit()
    return grant


def counts(session) -> tuple[int, int]:
    return (session.scalar(select(func.count()).select_from(Grant)),
            session.scalar(select(func.count()).select_from(AuditEvent)))


# ---------------------------------------------------------------- service: granting


def test_seal_holder_grants_a_service_to_a_card_and_it_is_audited(session):
    grant = make_grant(session)
    assert grant.insurer.voen == VOEN_A
    assert grant.service == ServiceCode.SSN_CERTIFICATE and grant.indefinite and grant.end_date is None
    assert grant.credential.card_number == DELEGATE_A and grant.granted_by.card_number == SEAL_A
    assert grant_state(grant, today()) == GrantState.ACTIVE
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "grant.created"))
    assert event.object_id == grant.id and event.authority == "seal" and event.insurer_id == grant.insurer_id
    assert event.changes["fin"] == DELEGATE_A_FIN and event.changes["service"] == "ssn_certificate"


def test_grant_to_an_asan_imza_with_dates(session):
    start, end = today() + timedelta(days=1), today() + timedelta(days=30)
    grant = make_grant(session, granter=SEAL_B, card=None, mobile=DELEGATE_B_MOBILE, fin=DELEGATE_B_FIN,
                       service=ServiceCode.REPORTS, start=start, end=end)
    assert not grant.indefinite and (grant.start_date, grant.end_date) == (start, end)
    assert grant.credential.kind == CredentialKind.ASAN
    assert grant_state(grant, today()) == GrantState.NOT_STARTED
    assert grant_state(grant, start) == GrantState.ACTIVE
    assert grant_state(grant, end + timedelta(days=1)) == GrantState.EXPIRED


def _population_fin(session) -> str:
    return session.scalar(select(Person.fin).order_by(Person.id).limit(1))


BAD_GRANTS = [
    # (description, overrides, error code, field)
    ("no service", {"service": ""}, "service", "service"),
    ("unknown service", {"service": "lottery"}, "service", "service"),
    ("no credential type", {"kind": "fax"}, "kind", "kind"),
    ("no FİN", {"fin": ""}, "required", "fin"),
    ("bad FİN", {"fin": "12<b>"}, "format", "fin"),
    ("very long FİN", {"fin": "X" * 10_000}, "too_long", "fin"),
    ("no card number", {"card_number": ""}, "required", "card_number"),
    ("bad card number", {"card_number": "12ab"}, "format", "card_number"),
    ("bad mobile", {"kind": "asan", "mobile_number": "+994401234567"}, "format", "mobile_number"),
    ("no start date", {"indefinite": False, "end_date": "+5"}, "required", "start_date"),
    ("no end date", {"indefinite": False, "start_date": "+0"}, "required", "end_date"),
    ("start in the past", {"indefinite": False, "start_date": "-1", "end_date": "+5"}, "start_in_past", "start_date"),
    ("end before start", {"indefinite": False, "start_date": "+5", "end_date": "+4"}, "end_before_start",
     "end_date"),
    ("FİN unknown to the population registry", {"fin": "ZZZZZZ9"}, "fin_unknown", "fin"),
    ("card of another FİN", {"fin": "population"}, "credential_mismatch", "card_number"),
    ("unknown card", {"card_number": "1234567890"}, "credential_mismatch", "card_number"),
    ("mobile of another FİN", {"kind": "asan", "mobile_number": DELEGATE_B_MOBILE}, "credential_mismatch",
     "mobile_number"),
    ("the seal holder itself", {"card_number": SEAL_A, "fin": SEAL_A_FIN}, "grant_to_seal_holder", "card_number"),
    ("the seal holder's Asan İmza", {"kind": "asan", "mobile_number": "+994501234567", "fin": SEAL_A_FIN},
     "grant_to_seal_holder", "mobile_number"),
    ("expired signature", {"card_number": EXPIRED_CARD, "fin": EXPIRED_FIN}, "credential_expired", "card_number"),
]


@pytest.mark.parametrize("description,overrides,code,field", BAD_GRANTS, ids=[b[0] for b in BAD_GRANTS])
def test_bad_grant_input_is_refused_with_a_message_and_nothing_written(session, description, overrides, code, field):
    for fin in (DELEGATE_A_FIN, SEAL_A_FIN, EXPIRED_FIN, DELEGATE_B_FIN):
        ensure_person(session, fin)
    actor = actor_for(session, SEAL_A)
    activate(session, actor.insurer_id)
    session.commit()
    before = counts(session)
    arguments = {"service": ServiceCode.SSN_CERTIFICATE, "kind": "card", "fin": DELEGATE_A_FIN,
                 "card_number": DELEGATE_A, "mobile_number": None, "indefinite": True, "start_date": None,
                 "end_date": None}
    arguments.update(overrides)
    if arguments["fin"] == "population":
        arguments["fin"] = _population_fin(session)
    for key in ("start_date", "end_date"):
        if isinstance(arguments[key], str):
            arguments[key] = today() + timedelta(days=int(arguments[key]))
    with pytest.raises(DomainError) as raised:
        grants.create_grant(session, actor, on=today(), **arguments)
    session.rollback()
    assert raised.value.code == code and raised.value.field == field
    assert str(raised.value.message) and "%(" not in str(raised.value.message)
    assert counts(session) == before


def test_same_credential_and_service_cannot_be_granted_twice_while_active(session):
    make_grant(session)
    before = counts(session)
    with pytest.raises(DomainError) as raised:
        make_grant(session)
    session.rollback()
    assert raised.value.code == "already_granted" and "artıq verilib" in str(raised.value.message)
    assert counts(session) == before
    # Another service for the same card is fine, and so is a period after a time-limited grant.
    make_grant(session, service=ServiceCode.REPORTS, start=today(), end=today() + timedelta(days=10))
    make_grant(session, service=ServiceCode.REPORTS, start=today() + timedelta(days=11),
               end=today() + timedelta(days=20))
    with pytest.raises(DomainError):
        make_grant(session, service=ServiceCode.REPORTS, start=today() + timedelta(days=5),
                   end=today() + timedelta(days=12))


def test_a_revoked_or_expired_grant_can_be_granted_again(session):
    first = make_grant(session)
    grants.revoke_grant(session, actor_for(session, SEAL_A), first.id)
    session.commit()
    second = make_grant(session, start=today(), end=today())
    session.execute(update(Grant).where(Grant.id == second.id).values(start_date=today() - timedelta(days=3),
                                                                       end_date=today() - timedelta(days=1)))
    session.commit()
    third = make_grant(session)
    assert len({first.id, second.id, third.id}) == 3


def test_double_submit_of_the_same_form_creates_one_grant(session):
    first = make_grant(session, submission="form-123")
    again = make_grant(session, submission="form-123")
    assert again.id == first.id
    assert session.scalar(select(func.count()).select_from(Grant)) == 1
    assert session.scalar(select(func.count()).where(AuditEvent.action == "grant.created")) == 1


@pytest.mark.parametrize("submission", [None, "same-form"])
def test_concurrent_confirms_create_exactly_one_grant(app, session, submission):
    """Two requests racing with the same grant: the row lock makes the second see the first."""
    from sqlalchemy.orm import Session

    ensure_person(session, DELEGATE_A_FIN)
    activate(session, credential(session, SEAL_A).seal_insurer_id)
    session.commit()
    with app.app_context():
        engine = db.engine
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def confirm():
        with Session(engine) as own:
            actor = actor_for(own, SEAL_A)
            barrier.wait()
            try:
                grant = grants.create_grant(own, actor, service="ssn_certificate", kind="card", fin=DELEGATE_A_FIN,
                                            card_number=DELEGATE_A, on=today(), submission=submission)
                own.commit()
                outcomes.append(grant.id)
            except DomainError as error:
                own.rollback()
                outcomes.append(error.code)

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Grant)) == 1
    assert session.scalar(select(func.count()).where(AuditEvent.action == "grant.created")) == 1
    grant_ids = [o for o in outcomes if isinstance(o, int)]
    if submission:
        assert len(grant_ids) == 2 and grant_ids[0] == grant_ids[1]
    else:
        assert len(grant_ids) == 1 and "already_granted" in outcomes


def test_only_a_seal_holder_grants_and_revokes(session):
    grant = make_grant(session)
    delegate = actor_for(session, DELEGATE_A, insurer_id=grant.insurer_id)
    before = counts(session)
    with pytest.raises(Forbidden):
        grants.create_grant(session, delegate, service="reports", kind="card", fin=DELEGATE_A_FIN,
                            card_number=DELEGATE_A, on=today())
    with pytest.raises(Forbidden):
        grants.revoke_grant(session, delegate, grant.id)
    with pytest.raises(Forbidden):
        grants.list_grants(session, delegate, "active", today())
    session.rollback()
    assert counts(session) == before


# ---------------------------------------------------------------- service: revoking and listing


def test_revoke_ends_the_grant_and_is_audited_once(session):
    grant = make_grant(session)
    actor = actor_for(session, SEAL_A)
    revoked = grants.revoke_grant(session, actor, grant.id)
    session.commit()
    assert revoked.revoked_at is not None and revoked.revoked_by_id == actor.credential_id
    assert grant_state(revoked, today()) == GrantState.REVOKED
    before = counts(session)
    with pytest.raises(DomainError) as raised:
        grants.revoke_grant(session, actor, grant.id)
    session.rollback()
    assert raised.value.code == "already_revoked" and "artıq" in str(raised.value.message)
    assert counts(session) == before
    assert session.scalar(select(func.count()).where(AuditEvent.action == "grant.revoked")) == 1


def test_another_insurers_grant_is_not_found(session):
    grant = make_grant(session)
    other = actor_for(session, SEAL_B)
    with pytest.raises(NotFound):
        grants.revoke_grant(session, other, grant.id)
    with pytest.raises(NotFound):
        grants.revoke_grant(session, other, 999_999)
    session.rollback()
    assert session.get(Grant, grant.id).revoked_at is None


@pytest.mark.parametrize("case", ["indefinite", "dated", "not started", "ended", "revoked", "signature expired",
                                  "two services", "insurer not activated"])
def test_a_signed_in_delegates_services_are_what_access_for_gives(session, case):
    """The principal of each request reads a delegate's services without the credential's row (delegate_services);
    it must agree with access_for, which sign-in uses, in every grant state."""
    if case == "insurer not activated":
        insurer_id = credential(session, SEAL_B).seal_insurer_id
        session.add(Grant(insurer_id=insurer_id, credential_id=credential(session, DELEGATE_A).id,
                          service=ServiceCode.SSN_CERTIFICATE, indefinite=True, created_at=utcnow(),
                          granted_by_id=credential(session, SEAL_B).id))
        session.execute(update(Insurer).where(Insurer.id == insurer_id).values(activated_at=None))
        session.commit()
    else:
        dates = {"dated": (today(), today() + timedelta(days=5)),
                 "not started": (today() + timedelta(days=1), today() + timedelta(days=5)),
                 "ended": (today() - timedelta(days=10), today() - timedelta(days=5))}.get(case, (None, None))
        grant = make_grant(session, start=dates[0], end=dates[1], on=dates[0])
        insurer_id = grant.insurer_id
        if case == "revoked":
            grants.revoke_grant(session, actor_for(session, SEAL_A), grant.id)
        if case == "two services":
            make_grant(session, service=ServiceCode.REPORTS)
        if case == "signature expired":
            delegate = credential(session, DELEGATE_A)
            delegate.valid_until = today() - timedelta(days=1)
        session.commit()
    delegate = credential(session, DELEGATE_A)
    on = today()
    access = access_for(session, delegate, insurer_id, on)
    services = delegate_services(session, delegate.id, insurer_id, delegate.in_force(on), on)
    assert services == (access.services if access is not None else None)
    assert (services is not None) == (case in ("indefinite", "dated", "two services"))


def test_registry_filters_active_expired_and_revoked(session):
    active = make_grant(session)
    ended = make_grant(session, service=ServiceCode.REPORTS, start=today(), end=today())
    revoked = make_grant(session, service=ServiceCode.DEATH_NOTICE)
    grants.revoke_grant(session, actor_for(session, SEAL_A), revoked.id)
    signature = make_grant(session, granter=SEAL_B, card=None, mobile=DELEGATE_B_MOBILE, fin=DELEGATE_B_FIN)
    session.execute(update(Grant).where(Grant.id == ended.id).values(start_date=today() - timedelta(days=9),
                                                                      end_date=today() - timedelta(days=2)))
    session.commit()
    actor = actor_for(session, SEAL_A)

    def ids(name):
        return [row.grant.id for row in grants.list_grants(session, actor, name, today())]

    assert ids("active") == [active.id]
    assert ids("expired") == [ended.id]
    assert ids("revoked") == [revoked.id]
    assert ids("all") == [revoked.id, ended.id, active.id]
    assert ids("nonsense") == [active.id]
    # An expired e-signature ends the grant's effect and is listed as such under "expired".
    session.execute(update(Credential).where(Credential.id == signature.credential_id)
                    .values(valid_until=today() - timedelta(days=1)))
    session.commit()
    rows = grants.list_grants(session, actor_for(session, SEAL_B), "expired", today())
    assert [(row.grant.id, row.state) for row in rows] == [(signature.id, GrantState.SIGNATURE_EXPIRED)]


# ---------------------------------------------------------------- views: the wizard


def _wizard(client, data, htmx=False):
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post("/grants/wizard", data=data, headers=headers)


def _selected(page: str, value: str) -> bool:
    return re.search(rf'<option (selected value="{value}"|value="{value}" selected)', page) is not None


def _hidden(page: str, name: str) -> str | None:
    match = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', page)
    return html.unescape(match.group(1)) if match else None


STEP3 = {"step": "3", "service": "ssn_certificate", "kind": "card", "card_number": DELEGATE_A,
         "fin": DELEGATE_A_FIN.lower(), "validity": "indefinite", "mobile_prefix": "50", "mobile_number": "",
         "start_date": "", "end_date": "", "submission": "sub-1"}


@pytest.fixture
def known_people(app):
    with app.app_context():
        for fin in (DELEGATE_A_FIN, SEAL_A_FIN, DELEGATE_B_FIN):
            ensure_person(db.session, fin)
        db.session.commit()


def test_tab_and_step_one_show_the_four_services(seal_client):
    page = html.unescape(seal_client.get("/insurer").get_data(as_text=True))
    assert 'href="/grants/"' in page and "Səlahiyyətlərin verilməsi" in page
    page = html.unescape(seal_client.get("/grants/").get_data(as_text=True))
    for label in ("Dövlət sosial sığorta şəhadətnaməsinin dəyişdirilməsi və ya dublikatının verilməsi",
                  "Sığortaolunanların onlayn uçotu", "Sığortaolunanın ölümünə dair məlumatın qəbulu",
                  "Hesabatların onlayn qəbulu", "Səlahiyyət vermək istədiyiniz xidmətin adını seçin",
                  "Növbəti >>", "Səlahiyyətlərin reyestri", 'aria-current="step"'):
        assert label in page
    assert 'class="tab tab--active" href="/grants/"' in page


def test_wizard_without_javascript_goes_forward_and_back_keeping_everything(seal_client, known_people):
    page = html.unescape(_wizard(seal_client, {"step": "1", "service": "reports", "action": "next"})
                         .get_data(as_text=True))
    assert "Səlahiyyətin tipini seçin" in page and "RYTN e-İmza kartı" in page and "Asan imza" in page
    assert "<< Əvvəlki" in page and _hidden(page, "service") == "reports" and _hidden(page, "step") == "2"
    page = html.unescape(_wizard(seal_client, {"step": "2", "service": "reports", "kind": "asan", "action": "next"})
                         .get_data(as_text=True))
    assert "Telefon nömrəsi" in page and "+994 77" in page and "Müddətsiz" in page and "Müddətli" in page
    assert "Başlanğıc tarixi" in page and "Bitmə tarixi" in page and "Təsdiqlə" in page
    filled = {**STEP3, "service": "reports", "kind": "asan", "mobile_prefix": "70", "mobile_number": "3456789",
              "fin": "7HT5N1K", "validity": "limited", "start_date": "2099-01-01", "end_date": "", "action": "back"}
    page = html.unescape(_wizard(seal_client, filled).get_data(as_text=True))
    # Back on step 2: step 3's values travel as hidden fields, and the chosen type is still selected.
    assert _hidden(page, "step") == "2" and _hidden(page, "mobile_number") == "3456789"
    assert _hidden(page, "mobile_prefix") == "70" and _hidden(page, "start_date") == "2099-01-01"
    assert _hidden(page, "validity") == "limited" and _selected(page, "asan")
    page = html.unescape(_wizard(seal_client, {**filled, "step": "2", "action": "back"}).get_data(as_text=True))
    assert _hidden(page, "step") == "1" and _selected(page, "reports") and _hidden(page, "fin") == "7HT5N1K"
    page = html.unescape(_wizard(seal_client, {**filled, "step": "2", "action": "next"}).get_data(as_text=True))
    assert 'value="3456789"' in page and _selected(page, "70") and 'value="limited" checked' in page


def test_wizard_steps_swap_in_place_with_htmx(seal_client):
    response = _wizard(seal_client, {"step": "1", "service": "ssn_certificate", "action": "next"}, htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith("<form") and "<html" not in body and 'hx-target="this"' in body
    assert "HX-Request" in response.headers["Vary"]


def test_step_one_without_a_service_shows_the_message_beside_the_field(seal_client):
    response = _wizard(seal_client, {"step": "1", "service": "", "action": "next"})
    assert response.status_code == 400
    error = re.search(r'id="service-error"[^>]*>(.*?)</p>', response.get_data(as_text=True), re.S)
    assert error and "xidmətin adını seçin" in html.unescape(error.group(1))


def test_confirm_creates_the_grant_and_shows_it_in_the_registry(app, seal_client, known_people):
    response = _wizard(seal_client, {**STEP3, "action": "confirm"})
    assert response.status_code == 303 and "/grants/registry" in response.location
    page = html.unescape(seal_client.get(response.location).get_data(as_text=True))
    assert "Səlahiyyət verildi" in page and DELEGATE_A in page and DELEGATE_A_FIN in page
    assert "grants-row--new" in page and "Qüvvədədir" in page and "Müddətsiz" in page


def test_confirm_with_htmx_redirects_to_the_registry(seal_client, known_people):
    response = _wizard(seal_client, {**STEP3, "action": "confirm"}, htmx=True)
    assert response.status_code == 204 and "/grants/registry" in response.headers["HX-Redirect"]


def test_double_submit_of_confirm_creates_one_grant_and_both_succeed(app, seal_client, known_people):
    first = _wizard(seal_client, {**STEP3, "action": "confirm"})
    second = _wizard(seal_client, {**STEP3, "action": "confirm"})
    assert first.status_code == second.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Grant)) == 1
    # A new form (another submission key) for the same grant is refused.
    third = _wizard(seal_client, {**STEP3, "submission": "sub-2", "action": "confirm"})
    assert third.status_code == 400 and "artıq verilib" in html.unescape(third.get_data(as_text=True))


BAD_STEP3 = [
    ({"fin": ""}, "fin", "FİN-i daxil edin"),
    ({"fin": "ZZZZZZ9"}, "fin", "əhali reyestrində tapılmadı"),
    ({"card_number": "2000000001"}, "card_number", "uyğun gəlmir"),
    ({"card_number": SEAL_A, "fin": SEAL_A_FIN}, "card_number", "möhür vurmaq səlahiyyətinə"),
    ({"validity": "limited", "start_date": "", "end_date": ""}, "start_date", "Başlanğıc tarixini daxil edin"),
    ({"validity": "limited", "start_date": "31.02.2099", "end_date": ""}, "start_date", "gg.aa.iiii"),
    ({"validity": "limited", "start_date": "2000-01-01", "end_date": "2000-02-01"}, "start_date", "keçmiş"),
    ({"validity": "limited", "start_date": "2099-02-01", "end_date": "2099-01-01"}, "end_date",
     "başlanğıc tarixindən əvvəl"),
    ({"kind": "asan", "mobile_prefix": "40", "mobile_number": "1234567"}, "mobile_number", "Operator kodunu"),
    ({"kind": "asan", "mobile_prefix": "55", "mobile_number": "2345678", "fin": SEAL_A_FIN}, "mobile_number",
     "uyğun gəlmir"),
    ({"card_number": "<script>alert(1)</script>"}, "card_number", "8–16 rəqəm"),
]


@pytest.mark.parametrize("overrides,field,message", BAD_STEP3)
def test_bad_step_three_input_gets_a_message_beside_the_field(app, seal_client, known_people, overrides, field,
                                                               message):
    response = _wizard(seal_client, {**STEP3, **overrides, "action": "confirm"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    error = re.search(rf'id="{field}-error"[^>]*>(.*?)</p>', page, re.S)
    assert error, page[:3000]
    assert message in html.unescape(error.group(1))
    assert "<script>alert" not in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Grant)) == 0


def test_wizard_tolerates_tampered_fields(seal_client):
    for data in ({"step": "9", "action": "next", "service": "x" * 10_000}, {"step": "abc", "action": "??"},
                 {"step": "3", "action": "confirm", "kind": "nope", "validity": "forever", "mobile_prefix": "<"}):
        response = _wizard(seal_client, data)
        assert response.status_code in (200, 400)
    assert _wizard(seal_client, {"step": "1", "action": "next"}, ).status_code == 400
    assert seal_client.post("/grants/wizard", data={"step": "1", "action": "next"}, csrf=False).status_code == 400


# ---------------------------------------------------------------- views: the registry, CSV, revocation


def _grant_via_app(app, **kwargs) -> int:
    with app.app_context():
        return make_grant(db.session, **kwargs).id


def test_registry_lists_grants_with_the_manual_columns_and_filters(app, seal_client):
    active = _grant_via_app(app)
    limited = _grant_via_app(app, service=ServiceCode.REPORTS, start=today(), end=today() + timedelta(days=40))
    page = html.unescape(seal_client.get("/grants/registry").get_data(as_text=True))
    for column in ("Kartın nömrəsi (RYTN)", "Telefon nömrəsi (Asan)", "Fin kod", "Etibar edilmə müddəti",
                   "Başlanğıc tarixi", "Bitmə tarixi", "Səlahiyyət verilən xidmətin adı"):
        assert column in page
    assert f'id="grant-{active}"' in page and f'id="grant-{limited}"' in page
    assert (today() + timedelta(days=40)).strftime("%d.%m.%Y") in page and "Hesabatların onlayn qəbulu" in page
    assert "2 nəticə" in page and 'hx-confirm="' in page
    fragment = seal_client.get("/grants/registry?filter=revoked", headers={"HX-Request": "true"})
    body = fragment.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="grants-results"') and "<html" not in body
    assert "0 nəticə" in body and "/grants/registry.csv?filter=revoked" in body


def test_signature_expired_grants_are_shown_as_such(app, seal_client):
    grant_id = _grant_via_app(app)
    with app.app_context():
        grant = db.session.get(Grant, grant_id)
        grant.credential.valid_until = today() - timedelta(days=1)
        db.session.commit()
    page = html.unescape(seal_client.get("/grants/registry?filter=expired").get_data(as_text=True))
    assert f'id="grant-{grant_id}"' in page and "E-imzanın müddəti bitib" in page
    assert f'id="grant-{grant_id}"' not in seal_client.get("/grants/registry").get_data(as_text=True)


def test_csv_export_is_excel_safe_utf8_with_bom(app, seal_client):
    _grant_via_app(app)
    _grant_via_app(app, granter=SEAL_A, service=ServiceCode.DEATH_NOTICE)
    response = seal_client.get("/grants/registry.csv?filter=active")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''s%C9%99lahiyy%C9%99tl%C9%99r" in disposition
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:7] == ["Kartın nömrəsi (RYTN)", "Telefon nömrəsi (Asan)", "Fin kod", "Etibar edilmə müddəti",
                           "Başlanğıc tarixi", "Bitmə tarixi", "Səlahiyyət verilən xidmətin adı"]
    assert len(rows) == 3
    assert rows[1][0] == DELEGATE_A and rows[1][2] == DELEGATE_A_FIN and rows[1][3] == "Müddətsiz"
    assert rows[1][6] == "Sığortaolunanın ölümünə dair məlumatın qəbulu"
    assert "AYTƏN İSMAYILOVA ELDƏNİZ QIZI" in rows[1]
    empty = seal_client.get("/grants/registry.csv?filter=revoked").get_data().decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(empty), delimiter=";"))) == 1


def test_revoke_with_htmx_removes_the_row_without_reload(app, seal_client):
    grant_id = _grant_via_app(app)
    response = seal_client.post(f"/grants/{grant_id}/revoke?filter=active", headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert f'id="grant-{grant_id}"' not in body
    assert 'id="grants-count"' in body and 'hx-swap-oob="true"' in body and "0 nəticə" in body
    assert "ləğv edildi" in html.unescape(response.headers["HX-Trigger"].encode().decode("unicode_escape"))
    # In the "all" filter the row stays, redrawn as revoked.
    other = _grant_via_app(app, service=ServiceCode.REPORTS)
    body = html.unescape(seal_client.post(f"/grants/{other}/revoke?filter=all", headers={"HX-Request": "true"})
                         .get_data(as_text=True))
    assert f'id="grant-{other}"' in body and "Ləğv edilib" in body
    again = seal_client.post(f"/grants/{other}/revoke?filter=active", headers={"HX-Request": "true"})
    assert again.status_code == 200 and '"level": "error"' in again.headers["HX-Trigger"]


def test_revoke_without_javascript_asks_first(app, seal_client):
    grant_id = _grant_via_app(app)
    page = html.unescape(seal_client.get(f"/grants/{grant_id}/revoke").get_data(as_text=True))
    assert "ləğv etmək istədiyinizə əminsiniz" in page and "Bəli, ləğv et" in page and "İmtina et" in page
    response = seal_client.post(f"/grants/{grant_id}/revoke")
    assert response.status_code == 303 and "/grants/registry" in response.location
    assert "Səlahiyyət ləğv edildi" in html.unescape(seal_client.get(response.location).get_data(as_text=True))
    response = seal_client.post(f"/grants/{grant_id}/revoke")
    page = html.unescape(seal_client.get(response.location).get_data(as_text=True))
    assert "artıq" in page and "ləğv edilib" in page
    page = html.unescape(seal_client.get(f"/grants/{grant_id}/revoke").get_data(as_text=True))
    assert "artıq" in page and "Bəli, ləğv et" not in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).where(AuditEvent.action == "grant.revoked")) == 1


def test_another_insurers_grant_is_404_on_every_grant_route(app, client):
    grant_id = _grant_via_app(app)
    sign_in_card(client, SEAL_B_CARD)
    assert client.get(f"/grants/{grant_id}/revoke").status_code == 404
    assert client.post(f"/grants/{grant_id}/revoke").status_code == 404
    assert client.post(f"/grants/{grant_id}/revoke", headers={"HX-Request": "true"}).status_code == 404
    assert client.get("/grants/999999/revoke").status_code == 404
    assert f"grant-{grant_id}" not in client.get("/grants/registry?filter=all").get_data(as_text=True)


def test_a_delegate_gets_403_on_grant_routes_and_sees_no_tab(app, client):
    grant_id = _grant_via_app(app)
    assert sign_in_card(client, NO_SEAL_A_CARD).status_code == 302
    page = html.unescape(client.get("/insurer").get_data(as_text=True))
    assert "Səlahiyyətlərin verilməsi" not in page and "Səlahiyyət verilmiş şəxs" in page
    for method, url in (("get", "/grants/"), ("get", "/grants/registry"), ("get", "/grants/registry.csv"),
                        ("post", "/grants/wizard"), ("get", f"/grants/{grant_id}/revoke"),
                        ("post", f"/grants/{grant_id}/revoke")):
        assert getattr(client, method)(url).status_code == 403, url


def test_revocation_takes_effect_on_the_delegates_next_request(app, client, seal_client):
    grant_id = _grant_via_app(app)
    delegate = app.test_client()
    assert sign_in_card(delegate, NO_SEAL_A_CARD).status_code == 302
    assert delegate.get("/insurer").status_code == 200
    seal_client.post(f"/grants/{grant_id}/revoke")
    response = delegate.get("/insurer")
    assert response.status_code == 302 and "/sign-in" in response.location
    assert sign_in_card(delegate, NO_SEAL_A_CARD).status_code == 400


# ---------------------------------------------------------------- the 7-day warnings


def test_insurer_page_flags_grants_ending_within_seven_days_for_the_seal_holder(app, seal_client):
    soon = _grant_via_app(app, start=today(), end=today() + timedelta(days=5))
    _grant_via_app(app, service=ServiceCode.REPORTS, start=today(), end=today() + timedelta(days=30))
    page = html.unescape(seal_client.get("/insurer").get_data(as_text=True))
    assert "Müddəti 7 gün ərzində bitən səlahiyyətlər" in page
    assert (today() + timedelta(days=5)).strftime("%d.%m.%Y") in page
    assert (today() + timedelta(days=30)).strftime("%d.%m.%Y") not in page
    registry = html.unescape(seal_client.get("/grants/registry").get_data(as_text=True))
    assert f"{(today() + timedelta(days=5)).strftime('%d.%m.%Y')} bitir" in registry
    seal_client.post(f"/grants/{soon}/revoke")
    assert "Müddəti 7 gün ərzində" not in html.unescape(seal_client.get("/insurer").get_data(as_text=True))


def test_a_delegate_whose_grant_ends_soon_is_told_at_sign_in(app, client):
    _grant_via_app(app, start=today(), end=today() + timedelta(days=3))
    response = sign_in_card(client, NO_SEAL_A_CARD)
    assert response.status_code == 302
    page = html.unescape(client.get(response.location).get_data(as_text=True))
    assert "Sizə verilmiş səlahiyyətin müddəti" in page
    assert (today() + timedelta(days=3)).strftime("%d.%m.%Y") in page


def test_a_delegate_with_a_long_grant_gets_no_warning(app, client):
    _grant_via_app(app, start=today(), end=today() + timedelta(days=60))
    response = sign_in_card(client, NO_SEAL_A_CARD)
    page = html.unescape(client.get(response.location).get_data(as_text=True))
    assert "Sizə verilmiş səlahiyyətin müddəti" not in page
