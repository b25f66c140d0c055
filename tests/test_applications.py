"""SSŞ applications: wizard, drafts, signing, registry operations, notice PDF; the rules and bad input."""

from __future__ import annotations

import hashlib
import html
import io
import re
import threading
from contextlib import contextmanager

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from dost.models import (
    Application,
    ApplicationStatus,
    AuditEvent,
    Certificate,
    CertificateStatus,
    EmploymentContract,
    Insurer,
    Notice,
    Person,
    ServiceCode,
)
from dost.services import applications as service
from dost.services import public_numbers
from dost.services.actors import Actor
from dost.services.deadlines import deadlines_for
from dost.services.errors import DomainError, NotFound
from dost.timeutil import today
from tests.conftest import SEAL_A_ASAN, SEAL_A_CARD, SEAL_B_CARD, confirm_on_phone, sign_in_asan, sign_in_card

BASE = "https://ssh.dost.gov.az"


def employee(session, voen="9802091761", index=0, employed=True):
    """A demo person with a current (or ended) contract at the insurer, and their active certificate."""
    insurer = session.scalar(select(Insurer).where(Insurer.voen == voen))
    contracts = session.scalars(
        select(EmploymentContract).where(EmploymentContract.insurer_id == insurer.id).order_by(EmploymentContract.id)
    ).all()
    chosen = [c for c in contracts if (c.end_date is None) == employed][index]
    person = session.get(Person, chosen.person_id)
    certificate = session.scalar(select(Certificate).where(Certificate.person_id == person.id))
    return insurer, person, certificate


def actor_for(insurer, credential_id=1):
    return Actor(kind="employer", label="test", credential_id=credential_id, insurer_id=insurer.id,
                 role="seal_holder", authority="seal")


def identity(person, certificate, document_type=None):
    return service.IdentityInput(document_type or person.document_type.value, person.fin, certificate.ssn)


def wizard_post(client, **fields):
    data = {"step": "identity", "document_type": "din", "fin": "", "ssn": "", "reason": "", "application_id": "",
            "submission_key": "k" * 43}
    data.update(fields)
    return client.post("/ssh/wizard", data=data)


# --- service rules ---------------------------------------------------------------------------------------------

def test_lookup_fills_person_from_population_registry(session):
    insurer, person, certificate = employee(session)
    lookup = service.validate_person(session, insurer.id, identity(person, certificate), today())
    assert lookup.person.surname == person.surname and lookup.certificate.ssn == certificate.ssn


@pytest.mark.parametrize("mutate,field,code", [
    (lambda p, c: ("din", "", c.ssn), "fin", "required"),
    (lambda p, c: ("din", "ABC", c.ssn), "fin", "format"),
    (lambda p, c: ("din", "X" * 10_000, c.ssn), "fin", "format"),
    (lambda p, c: ("din", "ZZZZZZZ", c.ssn), "fin", "unknown_fin"),
    (lambda p, c: ("din", p.fin, "123"), "ssn", "format"),
    (lambda p, c: ("din", p.fin, "1" * 13), "ssn", "fin_ssn_mismatch"),
    (lambda p, c: ("nonsense", p.fin, c.ssn), "document_type", "document_type"),
    (lambda p, c: ("migration", p.fin, c.ssn), "document_type", "document_type_mismatch"),
])
def test_identity_rules_name_the_field(session, mutate, field, code):
    insurer, person, certificate = employee(session)
    document_type, fin, ssn = mutate(person, certificate)
    with pytest.raises(DomainError) as caught:
        service.validate_person(session, insurer.id, service.IdentityInput(document_type, fin, ssn), today())
    errors = getattr(caught.value, "errors", [caught.value])
    assert any(e.field == field and e.code == code for e in errors), [(e.field, e.code) for e in errors]


def test_fin_and_ssn_of_different_people_are_refused(session):
    insurer, person, _ = employee(session, index=0)
    _, _, other_certificate = employee(session, index=1)
    with pytest.raises(DomainError) as caught:
        service.validate_person(session, insurer.id, service.IdentityInput(
            person.document_type.value, person.fin, other_certificate.ssn), today())
    assert caught.value.code == "fin_ssn_mismatch"


def test_person_not_employed_here_today_is_refused(session):
    insurer, person, certificate = employee(session, employed=False)
    with pytest.raises(DomainError) as caught:
        service.validate_person(session, insurer.id, identity(person, certificate), today())
    assert caught.value.code == "not_employed"
    other = session.scalar(select(Insurer).where(Insurer.voen == "1403558271"))
    _, person_a, certificate_a = employee(session)
    with pytest.raises(DomainError):
        service.validate_person(session, other.id, identity(person_a, certificate_a), today())


def test_one_open_application_per_person_and_insurer(session):
    insurer, person, certificate = employee(session)
    actor = actor_for(insurer)
    service.save_draft(session, actor, identity(person, certificate), None, today())
    with pytest.raises(DomainError) as caught:
        service.save_draft(session, actor, identity(person, certificate), "lost", today())
    assert caught.value.code == "open_application_exists"
    with pytest.raises(DomainError):
        service.confirm_new(session, actor, identity(person, certificate), "lost", today(), "x" * 43, BASE)


def test_confirm_assigns_number_hash_deadline_and_one_notice(session):
    insurer, person, certificate = employee(session)
    actor = actor_for(insurer)
    result = service.confirm_new(session, actor, identity(person, certificate), "lost", today(), "a" * 43, BASE)
    application = result.application
    assert application.status == ApplicationStatus.SUBMITTED
    assert public_numbers.NUMBER_RE.fullmatch(application.registration_number)
    assert application.registration_number.startswith(f"DSMF-{today().year}-")
    assert application.application_type.value == "duplicate"
    assert application.content_sha256 == hashlib.sha256(service.canonical_content(application)).hexdigest()
    # 30 calendar days, moved to the next working day when the 30th is a rest day.
    limits = deadlines_for(session, ServiceCode.SSN_CERTIFICATE, today())
    assert application.deadline == limits.total and 30 <= (application.deadline - today()).days <= 45
    assert application.signed_authority == "seal"
    notice = session.scalar(select(Notice).where(Notice.application_id == application.id))
    assert notice.pdf.startswith(b"%PDF") and notice.pdf_sha256 == hashlib.sha256(notice.pdf).hexdigest()
    assert notice.signature and notice.verification_code
    # The same form submitted again finds the same application: one registration, one notice.
    again = service.confirm_new(session, actor, identity(person, certificate), "lost", today(), "a" * 43, BASE)
    assert again.already_confirmed and again.application.id == application.id
    assert session.scalar(select(func.count()).select_from(Notice)) == 1


@pytest.mark.parametrize("reason,kind", [("document_changed", "change"), ("lost", "duplicate"),
                                         ("data_error", "change"), ("damaged", "duplicate")])
def test_application_type_follows_the_reason(session, reason, kind):
    insurer, person, certificate = employee(session)
    application = service.save_draft(session, actor_for(insurer), identity(person, certificate), reason, today())
    assert application.application_type.value == kind


def test_confirmed_application_cannot_be_edited_or_deleted(session):
    insurer, person, certificate = employee(session)
    actor = actor_for(insurer)
    application = service.confirm_new(session, actor, identity(person, certificate), "damaged", today(),
                                      "b" * 43, BASE).application
    with pytest.raises(DomainError) as edit:
        service.save_draft(session, actor, identity(person, certificate), "lost", today(), application.id)
    assert "dəyişmək olmaz" in str(edit.value.message) or edit.value.code.startswith("not_")
    with pytest.raises(DomainError) as delete:
        service.delete_draft(session, actor, application.id)
    assert delete.value.code == "not_draft"


def test_another_insurers_application_is_not_found(session):
    insurer, person, certificate = employee(session)
    application = service.save_draft(session, actor_for(insurer), identity(person, certificate), "lost", today())
    other = session.scalar(select(Insurer).where(Insurer.voen == "1403558271"))
    stranger = actor_for(other, credential_id=4)
    for call in (
        lambda: service.get_for_insurer(session, stranger, application.id),
        lambda: service.delete_draft(session, stranger, application.id),
        lambda: service.confirm_draft(session, stranger, application.id, today(), BASE),
        lambda: service.notice_for_download(session, stranger, application.id),
    ):
        with pytest.raises(NotFound):
            call()


def test_every_state_change_is_audited(session):
    insurer, person, certificate = employee(session)
    actor = actor_for(insurer)
    draft = service.save_draft(session, actor, identity(person, certificate), None, today())
    service.save_draft(session, actor, identity(person, certificate), "lost", today(), draft.id)
    service.confirm_draft(session, actor, draft.id, today(), BASE)
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_type == "application", AuditEvent.object_id == draft.id)
    ).all()
    assert actions == ["application.draft_created", "application.draft_updated", "application.confirmed"]
    authorities = session.scalars(select(AuditEvent.authority).where(
        AuditEvent.object_type == "application", AuditEvent.object_id == draft.id)).all()
    assert set(authorities) == {"seal"}


def test_search_follows_azerbaijani_case_rules(session):
    insurer, person, certificate = employee(session)
    actor = actor_for(insurer)
    service.save_draft(session, actor, identity(person, certificate), None, today())
    from dost import validation

    typed = validation.az_lower(person.surname[:4])
    page = service.registry_page(session, actor, service.RegistryFilters(surname=typed), 1, 20)
    assert [row.fin for row in page.rows] == [person.fin]
    assert service.registry_page(session, actor, service.RegistryFilters(fin=person.fin.lower()), 1, 20).total == 1
    assert service.registry_page(session, actor, service.RegistryFilters(surname="ZZZ"), 1, 20).total == 0


def test_search_key_handles_dotted_and_dotless_i():
    from dost import validation

    assert validation.search_key("ismayılov") == "İSMAYILOV"
    assert validation.search_key("qələyev") == "QƏLƏYEV"


# --- views -----------------------------------------------------------------------------------------------------

def test_wizard_flow_axtar_next_reason_save_then_find_in_registry(app, seal_client, session):
    _, person, certificate = employee(session)
    page = seal_client.get("/ssh/new").get_data(as_text=True)
    assert "DSMF məlumatları" in page and "Vəsiqə məlumatları" in page and "Müraciət səbəbi" in page
    found = wizard_post(seal_client, action="search", fin=person.fin.lower(), ssn=certificate.ssn)
    assert found.status_code == 200
    text = html.unescape(found.get_data(as_text=True))
    assert person.surname in text and person.birthplace in text
    nxt = wizard_post(seal_client, action="next", fin=person.fin, ssn=certificate.ssn)
    assert "Şəxsiyyəti təsdiq edən sənəddəki dəyişiklik" in nxt.get_data(as_text=True)
    back = wizard_post(seal_client, step="reason", action="prev", fin=person.fin, ssn=certificate.ssn, reason="lost")
    back_text = back.get_data(as_text=True)
    assert f'value="{person.fin}"' in back_text and 'name="reason" value="lost"' in back_text
    saved = wizard_post(seal_client, step="reason", action="save", fin=person.fin, ssn=certificate.ssn,
                        reason="lost")
    assert saved.status_code == 302
    registry = html.unescape(seal_client.get(f"/ssh/?surname={person.surname[:3].lower()}").get_data(as_text=True))
    assert person.fin in registry and "Qaralama" in registry and "1 nəticə" in registry


def test_wizard_errors_appear_beside_the_fields(seal_client, session):
    response = wizard_post(seal_client, action="search", fin="<script>alert(1)</script>", ssn="12")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(r'id="fin-error"[^>]*>.*7 simvol', page, re.S)
    assert re.search(r'id="ssn-error"[^>]*>.*13 rəqəm', page, re.S)
    assert "<script>alert(1)</script>" not in page


def test_wizard_fragment_for_htmx(seal_client, session):
    _, person, certificate = employee(session)
    response = seal_client.post("/ssh/wizard", data={"step": "identity", "action": "search", "document_type": "din",
                                                     "fin": person.fin, "ssn": certificate.ssn},
                                headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="wizard"') and "<html" not in body


def _confirm_via_wizard(client, person, certificate, key="c" * 43, pin="1111"):
    return wizard_post(client, step="sign", action="sign", fin=person.fin, ssn=certificate.ssn, reason="lost",
                       submission_key=key, pin=pin)


def test_confirm_asks_the_pin_again(seal_client, session):
    _, person, certificate = employee(session)
    to_sign = wizard_post(seal_client, step="reason", action="confirm", fin=person.fin, ssn=certificate.ssn,
                          reason="lost")
    assert 'name="pin"' in to_sign.get_data(as_text=True)
    wrong = _confirm_via_wizard(seal_client, person, certificate, pin="9999")
    assert wrong.status_code == 400 and "PIN kod yanlışdır." in wrong.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Application)) == 0


def test_double_submit_gives_one_registration_and_one_notice(seal_client, session):
    _, person, certificate = employee(session)
    first = _confirm_via_wizard(seal_client, person, certificate)
    second = _confirm_via_wizard(seal_client, person, certificate)
    assert first.status_code == 302 and second.status_code == 302
    assert first.location == second.location
    assert session.scalar(select(func.count()).select_from(Application)) == 1
    assert session.scalar(select(func.count()).select_from(Notice)) == 1


def test_notice_download_is_byte_identical_pdf_with_azerbaijani_text_and_qr(seal_client, session):
    _, person, certificate = employee(session)
    detail = _confirm_via_wizard(seal_client, person, certificate).location
    application_id = int(detail.rstrip("/").split("/")[-1])
    first = seal_client.get(f"/ssh/{application_id}/notice.pdf")
    second = seal_client.get(f"/ssh/{application_id}/notice.pdf")
    assert first.status_code == 200 and first.headers["Content-Type"] == "application/pdf"
    assert first.data == second.data
    assert "filename*=UTF-8''bildiri%C5%9F-DSMF-" in first.headers["Content-Disposition"]
    text = PdfReader(io.BytesIO(first.data)).pages[0].extract_text()
    assert "BİLDİRİŞ" in text and person.fin in text and "9802091761" in text
    assert "Dövlət sosial sığorta şəhadətnaməsinin itirilməsi" in text


def test_registry_operations_are_refused_by_the_server_when_not_allowed(seal_client, session):
    _, person, certificate = employee(session)
    detail = _confirm_via_wizard(seal_client, person, certificate).location
    application_id = int(detail.rstrip("/").split("/")[-1])
    # A confirmed application: deletion and confirmation are refused, download is offered.
    response = seal_client.post("/ssh/operations", data={"selected": application_id, "operation": "delete"})
    assert response.status_code == 302
    assert "mümkün deyil" in seal_client.get(response.location).get_data(as_text=True)
    deleted = seal_client.post(f"/ssh/{application_id}/delete")
    assert deleted.status_code == 302
    assert session.get(Application, application_id) is not None
    bar = seal_client.get(f"/ssh/operations?selected={application_id}").get_data(as_text=True)
    assert re.search(r'value="delete"[^>]*disabled', bar) and not re.search(r'value="download"[^>]*disabled', bar)


def test_delete_draft_asks_first_then_deletes(seal_client, session):
    _, person, certificate = employee(session)
    wizard_post(seal_client, step="reason", action="save", fin=person.fin, ssn=certificate.ssn, reason="lost")
    draft_id = session.scalar(select(Application.id))
    ask = seal_client.get(f"/ssh/{draft_id}/delete")
    assert "əminsiniz" in ask.get_data(as_text=True)
    assert seal_client.post(f"/ssh/{draft_id}/delete").status_code == 302
    assert session.scalar(select(func.count()).select_from(Application)) == 0


def test_resume_draft_and_confirm_from_registry(seal_client, session):
    _, person, certificate = employee(session)
    wizard_post(seal_client, step="reason", action="save", fin=person.fin, ssn=certificate.ssn, reason="")
    draft = session.scalar(select(Application))
    resumed = seal_client.get(f"/ssh/{draft.id}/edit").get_data(as_text=True)
    assert f'value="{person.fin}"' in resumed
    sign_page = seal_client.get(f"/ssh/{draft.id}/sign")
    assert sign_page.status_code == 400 and "səbəbini seçin" in sign_page.get_data(as_text=True)
    wizard_post(seal_client, step="reason", action="save", fin=person.fin, ssn=certificate.ssn, reason="damaged",
                application_id=str(draft.id))
    done = wizard_post(seal_client, step="sign", action="sign", fin=person.fin, ssn=certificate.ssn,
                       reason="damaged", application_id=str(draft.id), pin="1111")
    assert done.status_code == 302
    session.expire_all()
    assert session.get(Application, draft.id).status == ApplicationStatus.SUBMITTED


def test_other_insurer_gets_404_for_every_object_route(app, seal_client, session):
    _, person, certificate = employee(session)
    detail = _confirm_via_wizard(seal_client, person, certificate).location
    application_id = int(detail.rstrip("/").split("/")[-1])
    other = app.test_client()
    sign_in_card(other, SEAL_B_CARD)
    for url in (f"/ssh/{application_id}", f"/ssh/{application_id}/notice.pdf", f"/ssh/{application_id}/edit",
                f"/ssh/{application_id}/sign", f"/ssh/{application_id}/delete",
                f"/ssh/operations?selected={application_id}"):
        assert other.get(url).status_code == 404, url
    assert other.post(f"/ssh/{application_id}/delete").status_code == 404
    assert other.post("/ssh/operations", data={"selected": application_id, "operation": "details"}).status_code == 404


def test_detail_shows_signature_and_timeline(seal_client, session):
    _, person, certificate = employee(session)
    detail = seal_client.get(_confirm_via_wizard(seal_client, person, certificate).location)
    page = html.unescape(detail.get_data(as_text=True))
    assert "Statusların tarixçəsi" in page and "Möhür vurmaq səlahiyyəti" in page
    assert "SƏMİR QƏLƏYEV NƏZƏR OĞLU" in page and "DSMF-" in page


def test_html_in_fields_is_rendered_inert(seal_client):
    page = seal_client.get('/ssh/?surname=<img src=x onerror=alert(1)>').get_data(as_text=True)
    assert "<img src=x" not in page and "&lt;img" in page


def test_asan_signing_waits_for_the_phone(app, client, session):
    _, person, certificate = employee(session)
    assert sign_in_asan(client, SEAL_A_ASAN).status_code == 302
    waiting = wizard_post(client, step="sign", action="sign", fin=person.fin, ssn=certificate.ssn, reason="lost")
    page = waiting.get_data(as_text=True)
    token = re.search(r"/ssh/sign/([^/]+)/status", page).group(1)
    code = re.search(r'class="verification-code"[^>]*>(\d{4})<', page).group(1)
    assert session.scalar(select(func.count()).select_from(Application)) == 0
    # The signing request waits on the demo identity provider's phone, beside sign-ins.
    confirm_on_phone(app, SEAL_A_ASAN[0], code)
    before = client.get_cookie("session").value  # the twin request carries the cookie from before the answer
    done = client.get(f"/ssh/sign/{token}/status")
    assert done.status_code == 302 and "/ssh/" in done.location
    assert session.scalar(select(Application.status)) == ApplicationStatus.SUBMITTED
    # A repeat lands on the confirmed application, and so does a twin poll that lost the phone's confirmation.
    assert client.get(f"/ssh/sign/{token}/status").location == done.location
    client.set_cookie("session", before)
    assert client.get(f"/ssh/sign/{token}/status").location == done.location
    assert session.scalar(select(func.count()).select_from(Application)) == 1


@contextmanager
def _provider_down(app):
    """The signing provider (the demo identity provider's back channel) at an address where nothing listens."""
    from dost.extensions import db
    from dost.registries import _signatures, bind_signatures
    from dost.registries.demo_remote import ProviderSignatures
    from tests.conftest import free_port

    with app.app_context():
        engine = db.engine
    working = _signatures[engine]
    bind_signatures(engine, lambda s: ProviderSignatures(s, f"http://127.0.0.1:{free_port()}/demo-idp", "c", "s", 1))
    try:
        yield
    finally:
        bind_signatures(engine, working)


@pytest.mark.parametrize("method", ["card", "asan"])
def test_signing_while_the_provider_is_down_says_so_and_creates_nothing(app, client, session, method):
    _, person, certificate = employee(session)
    assert (sign_in_card(client) if method == "card" else sign_in_asan(client, SEAL_A_ASAN)).status_code == 302
    with _provider_down(app):
        response = wizard_post(client, step="sign", action="sign", fin=person.fin, ssn=certificate.ssn,
                               reason="lost", pin=SEAL_A_CARD[1])
    assert response.status_code == 503, response.get_data(as_text=True)[:500]
    assert "İmza provayderi hazırda cavab vermir" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Application)) == 0


def test_concurrent_confirms_of_one_draft_make_one_registration(app, session):
    from dost.extensions import db

    insurer, person, certificate = employee(session)
    actor = actor_for(insurer)
    draft = service.save_draft(session, actor, identity(person, certificate), "lost", today())
    session.commit()
    draft_id = draft.id
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def confirm():
        with app.app_context():
            barrier.wait()
            try:
                result = service.confirm_draft(db.session, actor, draft_id, today(), BASE)
                db.session.commit()
                outcomes.append("already" if result.already_confirmed else "confirmed")
            except DomainError as error:
                db.session.rollback()
                outcomes.append(error.code)
            except Exception as error:  # SQLite may report the writer lock instead
                db.session.rollback()
                outcomes.append(type(error).__name__)

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    session.expire_all()
    assert outcomes.count("confirmed") == 1, outcomes
    assert session.scalar(select(func.count()).select_from(Notice)) == 1
    assert session.get(Application, draft_id).status == ApplicationStatus.SUBMITTED


def test_certificate_status_column(seal_client, session):
    _, person, certificate = employee(session)
    wizard_post(seal_client, step="reason", action="save", fin=person.fin, ssn=certificate.ssn, reason="lost")
    page = seal_client.get("/ssh/?certificate_status=active").get_data(as_text=True)
    assert "Qüvvədədir" in page
    # Axtarış offers the statuses the column can show: the replaced certificate's, never the new one's.
    options = re.search(r'<select id="s-cert-status".*?</select>', page, re.S).group(0)
    assert re.findall(r'<option value="(\w*)"', options) == ["", "active", "replaced"]
    assert session.scalar(select(Certificate.status).where(Certificate.id == certificate.id)) == \
        CertificateStatus.ACTIVE


def test_downloads_are_authorized_before_the_byte_cache_is_consulted(app, seal_client, session):
    _, person, certificate = employee(session)
    detail = _confirm_via_wizard(seal_client, person, certificate).location
    application_id = int(detail.rstrip("/").split("/")[-1])
    notice = session.scalar(select(Notice).where(Notice.application_id == application_id))
    first = seal_client.get(f"/ssh/{application_id}/notice.pdf")
    assert service._ISSUED_PDFS.get(notice.pdf_sha256) == first.data == notice.pdf
    assert seal_client.get(f"/ssh/{application_id}/notice.pdf").data == first.data
    other = app.test_client()
    sign_in_card(other, SEAL_B_CARD)
    assert other.get(f"/ssh/{application_id}/notice.pdf").status_code == 404


def test_bytes_that_do_not_match_their_issued_hash_are_never_cached(seal_client, session):
    _, person, certificate = employee(session)
    detail = _confirm_via_wizard(seal_client, person, certificate).location
    application_id = int(detail.rstrip("/").split("/")[-1])
    notice = session.scalar(select(Notice).where(Notice.application_id == application_id))
    service._ISSUED_PDFS.pop(notice.pdf_sha256, None)
    notice.pdf = notice.pdf + b"% edited in the database"
    session.commit()
    assert seal_client.get(f"/ssh/{application_id}/notice.pdf").status_code == 200
    assert notice.pdf_sha256 not in service._ISSUED_PDFS


def test_the_registry_total_is_the_insurer_count_kept_by_the_database(seal_client, session):
    from tests.staff_support import submit

    insurer, person, certificate = employee(session)

    def kept() -> int:
        session.expire_all()
        return session.get(Insurer, insurer.id).application_count

    def counted() -> int:
        return session.scalar(select(func.count()).select_from(Application)
                              .where(Application.insurer_id == insurer.id))

    assert kept() == counted() == 0
    wizard_post(seal_client, step="reason", action="save", fin=person.fin, ssn=certificate.ssn, reason="lost")
    submit(session, person=employee(session, index=1)[1])
    submit(session, voen=None, centre_code="BAK1")  # a walk-in without an employer counts for nobody
    session.commit()
    assert kept() == counted() == 2
    page = seal_client.get("/ssh/").get_data(as_text=True)
    assert "2 nəticə" in page
    draft_id = session.scalar(select(Application.id).where(Application.status == ApplicationStatus.DRAFT))
    assert seal_client.post(f"/ssh/{draft_id}/delete").status_code == 302
    assert kept() == counted() == 1
    # A filtered search still counts its matches.
    assert "0 nəticə" in seal_client.get("/ssh/?surname=zzz").get_data(as_text=True)
