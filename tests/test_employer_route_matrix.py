"""Every employer route in the URL map, walked as five principals, against one declared table of outcomes.

Principals: the seal holder of insurer A; a delegate of A holding the SSŞ (SSN_CERTIFICATE) grant; a delegate of A
holding only another service; a delegate of A whose grant's end date passed while signed in; the seal holder of
insurer B (A's object ids must look like no id at all to B). A route of an employer blueprint missing from the table
fails the test, so a new route cannot ship without a decision about who may use it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select, update

from dost import validation
from dost.extensions import db
from dost.models import (
    Application,
    ApplicationReason,
    ApplicationStatus,
    ApplicationType,
    Certificate,
    CertificateStatus,
    EmploymentContract,
    Grant,
    Notification,
    ServiceCode,
)
from dost.timeutil import today
from tests.conftest import NO_SEAL_A_CARD, SEAL_A_CARD, SEAL_B_CARD, sign_in_card
from tests.test_grants import SEAL_A, credential, make_grant

EMPLOYER_BLUEPRINTS = ("employer", "grants", "applications", "inbox")
PRINCIPALS = ("seal_a", "delegate_ssn", "delegate_other", "delegate_expired", "seal_b")

OK = "ok"  # served: any answer but 401/403/404/405, a 5xx or a redirect to sign-in (a 400 for an empty form is ok)
FORBIDDEN = "403"
NOT_FOUND = "404"
SIGN_IN = "sign-in"  # the session ends and the browser is sent to the sign-in page

#                     seal_a     delegate_ssn delegate_other delegate_expired seal_b
ANY_EMPLOYER = (OK, OK, OK, SIGN_IN, OK)
SEAL_ONLY = (OK, FORBIDDEN, FORBIDDEN, SIGN_IN, OK)
SEAL_ONLY_A_OBJECT = (OK, FORBIDDEN, FORBIDDEN, SIGN_IN, NOT_FOUND)
SSN = (OK, OK, FORBIDDEN, SIGN_IN, OK)
SSN_A_OBJECT = (OK, OK, FORBIDDEN, SIGN_IN, NOT_FOUND)
# A signing token nobody started: unknown to everyone who passes the grant check.
SSN_UNKNOWN_TOKEN = (NOT_FOUND, NOT_FOUND, FORBIDDEN, SIGN_IN, NOT_FOUND)

EXPECTED = {
    ("employer.insurer", "GET"): ANY_EMPLOYER,
    ("employer.feedback", "GET"): ANY_EMPLOYER,
    ("employer.feedback", "POST"): ANY_EMPLOYER,
    ("grants.index", "GET"): SEAL_ONLY,
    ("grants.wizard", "GET"): SEAL_ONLY,
    ("grants.wizard", "POST"): SEAL_ONLY,
    ("grants.registry", "GET"): SEAL_ONLY,
    ("grants.export", "GET"): SEAL_ONLY,
    ("grants.revoke_confirm", "GET"): SEAL_ONLY_A_OBJECT,
    ("grants.revoke", "POST"): SEAL_ONLY_A_OBJECT,
}
# The SSŞ applications blueprint is being built: its entries (and the inbox's below) are asserted only when the
# route exists, and a route it adds that is not listed here fails test_every_employer_route_is_in_the_table.
APPLICATIONS = {
    ("applications.registry", "GET"): SSN,
    ("applications.new", "GET"): SSN,
    ("applications.wizard", "POST"): SSN,
    ("applications.operations", "GET"): SSN,
    ("applications.run_operation", "POST"): SSN,
    ("applications.detail", "GET"): SSN_A_OBJECT,
    ("applications.edit", "GET"): SSN_A_OBJECT,
    ("applications.sign_draft", "GET"): SSN_A_OBJECT,
    ("applications.notice", "GET"): SSN_A_OBJECT,
    ("applications.delete", "GET"): SSN_A_OBJECT,
    ("applications.delete", "POST"): SSN_A_OBJECT,
    ("applications.sign_status", "GET"): SSN_UNKNOWN_TOKEN,
}
# The employer's inbox: messages about SSŞ applications, so the SSŞ service's; ids of A are 404 to B.
INBOX = {
    ("inbox.index", "GET"): SSN,
    ("inbox.read", "POST"): SSN_A_OBJECT,
    ("inbox.read_all", "POST"): SSN,
}
TABLE = {**EXPECTED, **APPLICATIONS, **INBOX}


def employer_routes(app: Flask) -> list[tuple[str, str, object]]:
    """(endpoint, method, rule) for every route of the employer blueprints, reads first, destructive last."""
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".", 1)[0] not in EMPLOYER_BLUEPRINTS:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((rule.endpoint, method, rule))
    return sorted(routes, key=lambda r: (r[1] != "GET", bool(r[2].arguments), r[0], r[1]))


def test_every_employer_route_is_in_the_table(app):
    present = {(endpoint, method) for endpoint, method, _ in employer_routes(app)}
    missing = sorted(present - TABLE.keys())
    assert not missing, f"employer routes without an entry in the authorization table: {missing}"
    stale = sorted(EXPECTED.keys() - present)
    assert not stale, f"table entries for routes that no longer exist: {stale}"


def _draft_of_a(insurer_id: int, credential_id: int) -> int:
    """A draft application of insurer A, for the routes that take an application id."""
    contract = db.session.scalar(
        select(EmploymentContract)
        .where(EmploymentContract.insurer_id == insurer_id, EmploymentContract.end_date.is_(None))
        .order_by(EmploymentContract.id).limit(1)
    )
    certificate = db.session.scalar(select(Certificate).where(
        Certificate.person_id == contract.person_id, Certificate.status == CertificateStatus.ACTIVE))
    person = certificate.person
    application = Application(
        insurer_id=insurer_id, person_id=person.id, certificate_id=certificate.id, document_type=person.document_type,
        reason=ApplicationReason.LOST, application_type=ApplicationType.DUPLICATE, status=ApplicationStatus.DRAFT,
        fin=person.fin, ssn=certificate.ssn, ssn_date=certificate.issue_date, surname=person.surname,
        name=person.name, patronymic=person.patronymic, surname_key=validation.search_key(person.surname),
        name_key=validation.search_key(person.name), patronymic_key=validation.search_key(person.patronymic),
        application_date=today(), created_by_credential_id=credential_id,
    )
    db.session.add(application)
    db.session.commit()
    return application.id


def _set_up(app: Flask, client, principal: str) -> dict[str, object]:
    """Sign the client in as the principal; return the values of the routes' URL parameters."""
    assert sign_in_card(app.test_client(), SEAL_A_CARD).status_code == 302  # activates insurer A
    with app.app_context():
        seal = credential(db.session, SEAL_A)
        if principal == "delegate_other":
            grant = make_grant(db.session, service=ServiceCode.REPORTS)
        elif principal == "delegate_expired":
            grant = make_grant(db.session, start=today(), end=today() + timedelta(days=5))
        else:
            grant = make_grant(db.session)
        grant_id = grant.id
        application_id = _draft_of_a(seal.seal_insurer_id, seal.id)
        notification = Notification(insurer_id=seal.seal_insurer_id, kind="test", message="Sınaq bildirişi")
        db.session.add(notification)
        db.session.commit()
        notification_id = notification.id
    card = {"seal_a": SEAL_A_CARD, "seal_b": SEAL_B_CARD}.get(principal, NO_SEAL_A_CARD)
    assert sign_in_card(client, card).status_code == 302
    if principal == "delegate_expired":
        # Time passes while the delegate is signed in: the grant's end date is now behind us.
        with app.app_context():
            db.session.execute(update(Grant).where(Grant.id == grant_id).values(
                start_date=today() - timedelta(days=10), end_date=today() - timedelta(days=1)))
            db.session.commit()
    return {"grant_id": grant_id, "application_id": application_id, "notification_id": notification_id,
            "token": "no-such-signing-token"}


def _outcome(response) -> str:
    if response.status_code in (301, 302, 303, 307, 308) and "/sign-in" in response.headers.get("Location", ""):
        return SIGN_IN
    if response.status_code in (401, 403):
        return FORBIDDEN
    if response.status_code in (404, 405):
        return NOT_FOUND
    if response.status_code >= 500:
        return f"server error {response.status_code}"
    return OK


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_employer_routes_as(app, client, principal):
    values = _set_up(app, client, principal)
    column = PRINCIPALS.index(principal)
    mismatches = []
    walked = 0
    for endpoint, method, rule in employer_routes(app):
        if (endpoint, method) not in TABLE:
            continue  # reported by test_every_employer_route_is_in_the_table
        unknown = set(rule.arguments) - values.keys()
        assert not unknown, f"{endpoint}: give the route matrix a value for URL parameter(s) {sorted(unknown)}"
        with app.test_request_context():
            from flask import url_for

            url = url_for(endpoint, **{name: values[name] for name in rule.arguments})
        response = client.open(url, method=method, data={})
        walked += 1
        got, expected = _outcome(response), TABLE[(endpoint, method)][column]
        if got != expected:
            mismatches.append(f"{method} {url} ({endpoint}): expected {expected}, got {got} [{response.status_code}]")
    assert walked >= len(EXPECTED)
    assert not mismatches, f"as {principal}:\n" + "\n".join(mismatches)
