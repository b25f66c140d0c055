"""Who may do what: EVERY route in the URL map, walked as eight kinds of user, against one declared table.

Users: anonymous; insurer A's seal holder; a delegate of A holding the SSŞ (SSN_CERTIFICATE) grant; a delegate of A
holding only another service; a delegate of A whose grant's end date passed while signed in; insurer B's seal
holder; a staff agent of another centre (agent.sum, Sumqayıt: A's online applications route to 1 saylı Bakı); the
staff administrator. URL parameters are real ids of insurer A's objects (a draft and a confirmed application, its
notice's QR token, a grant, an inbox message), so B's column proves object access is checked (404, never 403).
Routes taking an application id are walked twice: with the draft and with the confirmed application.

Each cell is the exact status code, or "→endpoint" for a redirect (the Location resolved against the URL map). A
route (or method, or variant) missing from TABLE fails test_every_route_is_in_the_table, so no route can ship
without a decision about who may use it. Every request starts from the session cookie the user had right after
signing in, so a sign-out or an ended session in one cell cannot change the next one."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from flask import Flask, url_for
from sqlalchemy import update
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from dost.extensions import db
from dost.models import Application, ApplicationStatus, Grant, NonWorkingDay, Notification, ServiceCode
from dost.services import applications, signing
from dost.timeutil import today
from tests.conftest import NO_SEAL_A_CARD, SEAL_A_CARD, SEAL_B_CARD, sign_in_card
from tests.staff_support import sign_in_staff, staff
from tests.test_grants import SEAL_A, actor_for, make_grant
from tests.test_signing import demo_person

USERS = ("anonymous", "seal_a", "delegate_ssn", "delegate_other", "delegate_expired", "seal_b", "agent_sum", "admin")
BASE_URL = "http://localhost"


def R(endpoint: str) -> str:
    """A redirect to this endpoint."""
    return "→" + endpoint


EMP = R("auth.sign_in")  # employer routes send the unauthenticated (or ended) employer to the sign-in page
END = "→? /demo-idp/session/end"  # the national login's end-session endpoint, which comes back to the sign-in page
STF = R("staff.sign_in")  # staff routes send everyone who is not staff to the staff sign-in page


def row(anonymous, seal_a, delegate_ssn, delegate_other, delegate_expired, seal_b, agent_sum, admin):
    return (anonymous, seal_a, delegate_ssn, delegate_other, delegate_expired, seal_b, agent_sum, admin)


def everyone(outcome):
    return row(*[outcome] * len(USERS))


def employer(a, ssn, other, b):
    """An employer route: anonymous and staff are sent to the employer sign-in, the expired delegate too."""
    return row(EMP, a, ssn, other, EMP, b, EMP, EMP)


def staff_only(agent, admin):
    """A staff route: employers and anonymous are sent to the staff sign-in page."""
    return row(STF, STF, STF, STF, STF, STF, agent, admin)


def seal_only(ok):
    """Delegation is the seal holder's alone; the two insurers each see their own."""
    return employer(ok, "403", "403", ok)


def seal_only_a(ok):
    """The same on one of A's objects: B gets 404, as if the id did not exist."""
    return employer(ok, "403", "403", "404")


def ssn(ok):
    """The SSŞ service: seal holders and delegates holding its grant."""
    return employer(ok, ok, "403", ok)


def ssn_a(ok):
    return employer(ok, ok, "403", "404")


def admin_only(ok):
    return staff_only("403", ok)


OK = "200"
INSURER, QUEUE = R("employer.insurer"), R("staff.queue")

# Key: (endpoint, method) or, for routes taking an application id, (endpoint, method, "draft" | "confirmed").
# Value: one outcome per user, in the order of USERS (row() names them).
TABLE: dict[tuple, tuple] = {
    # --- public pages, health checks, static files
    ("pages.healthz", "GET"): everyone(OK),
    ("pages.readyz", "GET"): everyone(OK),
    ("pages.manual", "GET"): everyone(OK),
    ("pages.regulation", "GET"): everyone(OK),
    ("pages.video", "GET"): everyone(OK),  # Video təlimat
    ("pages.language", "POST"): everyone("400"),  # no language chosen
    ("static", "GET"): everyone(OK),
    # --- employer sign-in
    ("auth.index", "GET"): row(EMP, INSURER, INSURER, INSURER, INSURER, INSURER, QUEUE, QUEUE),
    ("auth.sign_in", "GET"): everyone(OK),
    # The national login (here the demo identity provider at /demo-idp): anyone may set out to sign in; a callback
    # that answers no sign-in of this browser's is refused.
    ("auth.national_sign_in", "GET"): everyone("→? /demo-idp/authorize"),
    ("auth.national_callback", "GET"): everyone("400"),
    ("auth.choose_insurer", "GET"): everyone(EMP),  # nothing pending: back to the sign-in page
    ("auth.choose_insurer", "POST"): everyone(EMP),
    # ÇIXIŞ of an employer ends the session at the national login too (RP-initiated logout).
    ("auth.sign_out", "POST"): row(EMP, END, END, END, END, END, EMP, EMP),
    # The demo provider's simulated phone: on in the suite's app, off (404) unless DOST_DEMO_PROVIDERS=1.
    # --- employer cabinet
    ("employer.insurer", "GET"): employer(OK, OK, OK, OK),
    ("employer.feedback", "GET"): employer(OK, OK, OK, OK),
    ("employer.feedback", "POST"): employer("400", "400", "400", "400"),  # empty form
    # --- delegation
    ("grants.index", "GET"): seal_only(OK),
    ("grants.wizard", "GET"): seal_only(R("grants.index")),
    ("grants.wizard", "POST"): seal_only(OK),
    ("grants.registry", "GET"): seal_only(OK),
    ("grants.export", "GET"): seal_only(OK),
    ("grants.revoke_confirm", "GET"): seal_only_a(OK),
    ("grants.revoke", "POST"): seal_only_a(R("grants.registry")),
    # --- SSŞ applications
    ("applications.registry", "GET"): ssn(OK),
    ("applications.new", "GET"): ssn(OK),
    ("applications.operations", "GET"): ssn_a(OK),  # ?selected=<A's confirmed application>
    ("applications.run_operation", "POST"): ssn_a(R("applications.detail")),
    # AXTAR on A's employee: B's registry lookup is refused beside the field (no contract with B).
    ("applications.wizard", "POST"): employer(OK, OK, "403", "400"),
    ("applications.sign_status", "GET"): ssn("404"),  # a signing token nobody started
    ("applications.detail", "GET", "draft"): ssn_a(OK),
    ("applications.detail", "GET", "confirmed"): ssn_a(OK),
    ("applications.edit", "GET", "draft"): ssn_a(OK),
    ("applications.edit", "GET", "confirmed"): ssn_a(R("applications.detail")),
    ("applications.sign_draft", "GET", "draft"): ssn_a(OK),
    ("applications.sign_draft", "GET", "confirmed"): ssn_a(R("applications.detail")),
    ("applications.notice", "GET", "draft"): ssn_a(R("applications.registry")),
    ("applications.notice", "GET", "confirmed"): ssn_a(OK),
    ("applications.delete", "GET", "draft"): ssn_a(OK),
    ("applications.delete", "GET", "confirmed"): ssn_a(R("applications.registry")),
    ("applications.delete", "POST", "draft"): ssn_a(R("applications.registry")),
    ("applications.delete", "POST", "confirmed"): ssn_a(R("applications.registry")),  # refused with a message
    # --- inbox: its messages are about SSŞ applications, so it is the SSŞ service's
    ("inbox.index", "GET"): ssn(OK),
    ("inbox.read", "POST"): ssn_a(R("inbox.index")),
    ("inbox.read_all", "POST"): ssn(R("inbox.index")),
    # --- authorization API: a Bearer token, never a session cookie
    ("api.authorizations", "GET"): everyone("401"),
    ("api.authorizations_other_methods", "POST"): everyone("405"),
    ("api.authorizations_other_methods", "PUT"): everyone("405"),
    ("api.authorizations_other_methods", "PATCH"): everyone("405"),
    ("api.authorizations_other_methods", "DELETE"): everyone("405"),
    # --- verification: public
    ("verify.form", "GET"): everyone(OK),
    ("verify.check", "POST"): everyone("400"),  # no number and code
    ("verify.scan", "GET"): everyone(OK),
    ("verify.keys", "GET"): everyone(OK),
    ("verify.public", "GET"): everyone(OK),
    ("verify.public", "POST"): everyone(OK),
    ("verify.verify_api.api_verify", "POST"): everyone(OK),
    ("verify.verify_api.api_verify_other_methods", "GET"): everyone("405"),
    ("verify.verify_api.api_verify_other_methods", "PUT"): everyone("405"),
    ("verify.verify_api.api_verify_other_methods", "PATCH"): everyone("405"),
    ("verify.verify_api.api_verify_other_methods", "DELETE"): everyone("405"),
    ("verify.verify_api.openapi", "GET"): everyone(OK),
    # --- staff back office
    ("staff.sign_in", "GET"): row(OK, OK, OK, OK, OK, OK, QUEUE, QUEUE),
    ("staff.sign_in", "POST"): everyone("400"),
    ("staff.sign_out", "POST"): everyone(STF),
    ("staff.queue", "GET"): staff_only(OK, OK),
    # The agent of another centre orders nothing of A's (the row reports it); the administrator only reads.
    ("staff.bulk_order", "POST"): staff_only(OK, "403"),
    # Drafts are the employer's own: no staff user sees them. A's online application is served by 1 saylı Bakı.
    ("staff.application", "GET", "draft"): staff_only("404", "404"),
    ("staff.application", "GET", "confirmed"): staff_only("404", OK),
    ("staff.notice", "GET", "draft"): staff_only("404", "404"),
    ("staff.notice", "GET", "confirmed"): staff_only("404", OK),
    ("staff.act", "POST", "draft"): staff_only("404", "404"),
    ("staff.act", "POST", "confirmed"): staff_only("404", "403"),
    ("staff.refuse", "POST", "draft"): staff_only("404", "404"),
    ("staff.refuse", "POST", "confirmed"): staff_only("404", "403"),
    ("staff.walk_in", "GET"): staff_only(OK, "403"),  # agents receive walk-in applications
    ("staff.walk_in", "POST"): staff_only("400", "403"),
    ("staff.reports_page", "GET"): staff_only(OK, OK),
    ("staff.reports_csv", "GET"): staff_only(OK, OK),
    ("staff.admin_users", "GET"): admin_only(OK),
    ("staff.admin_create_user", "POST"): admin_only("400"),
    ("staff.admin_deactivate_user", "POST"): admin_only(R("staff.admin_users")),
    ("staff.admin_activate_user", "POST"): admin_only(R("staff.admin_users")),
    ("staff.admin_unlock_user", "POST"): admin_only(R("staff.admin_users")),
    ("staff.admin_reset_totp", "POST"): admin_only(OK),
    ("staff.admin_calendar", "GET"): admin_only(OK),
    ("staff.admin_add_day", "POST"): admin_only("400"),
    ("staff.admin_delete_day", "POST"): admin_only(R("staff.admin_calendar")),
    ("staff.admin_settings", "GET"): admin_only(OK),
    ("staff.admin_settings", "POST"): admin_only("400"),
}


def _walk_key(endpoint: str, method: str, variant: str | None) -> tuple:
    return (endpoint, method, variant) if variant else (endpoint, method)


# ---------------------------------------------------------------- set-up


def _objects(app: Flask) -> dict[str, object]:
    """Insurer A's objects named by the URL parameters (the same in every user's test)."""
    assert sign_in_card(app.test_client(), SEAL_A_CARD).status_code == 302  # activates insurer A
    with app.app_context():
        session = db.session
        actor = actor_for(session, SEAL_A)
        person, certificate, _ = demo_person(session, index=0)
        draft = applications.save_draft(session, actor, applications.IdentityInput(
            person.document_type.value, person.fin, certificate.ssn), "lost", today())
        person, certificate, _ = demo_person(session, index=1)
        confirmed = applications.confirm_new(session, actor, applications.IdentityInput(
            person.document_type.value, person.fin, certificate.ssn), "lost", today(), secrets.token_urlsafe(16),
            BASE_URL).application
        notification = Notification(insurer_id=actor.insurer_id, application_id=confirmed.id, kind="test",
                                    message="Sınaq bildirişi")
        day = NonWorkingDay(day=date(today().year, 12, 30), description="Sınaq")
        session.add_all([notification, day])
        session.commit()
        third, third_certificate, _ = demo_person(session, index=2)
        return {
            "draft": draft.id,
            "confirmed": confirmed.id,
            "versions": {"draft": draft.version, "confirmed": confirmed.version},
            "lookup": {"document_type": third.document_type.value, "fin": third.fin, "ssn": third_certificate.ssn},
            "notice_token": signing.verification_token(confirmed.notice),
            "notification_id": notification.id,
            "item_id": day.id,
            "user_id": staff(session, "agent.bak1").id,
        }


def _sign_in(app: Flask, client, user: str) -> int | None:
    """Sign the client in as the user; returns the id of the grant the route parameters use."""
    with app.app_context():
        if user == "delegate_other":
            grant = make_grant(db.session, service=ServiceCode.REPORTS)
        elif user == "delegate_expired":
            grant = make_grant(db.session, start=today(), end=today() + timedelta(days=5))
        else:
            grant = make_grant(db.session)
        grant_id = grant.id
    if user in ("agent_sum", "admin"):
        assert sign_in_staff(client, {"agent_sum": "agent.sum", "admin": "admin"}[user]).status_code == 302
    elif user != "anonymous":
        card = {"seal_a": SEAL_A_CARD, "seal_b": SEAL_B_CARD}.get(user, NO_SEAL_A_CARD)
        assert sign_in_card(client, card).status_code == 302
    if user == "delegate_expired":
        # Time passes while the delegate is signed in: the grant's end date is now behind us.
        with app.app_context():
            db.session.execute(update(Grant).where(Grant.id == grant_id).values(
                start_date=today() - timedelta(days=10), end_date=today() - timedelta(days=1)))
            db.session.commit()
    return grant_id


# ---------------------------------------------------------------- walking


def walks(app: Flask) -> list[tuple[str, str, str | None, object]]:
    """(endpoint, method, variant, rule) for every route and method of the URL map; reads first, writes last,
    among the writes those that delete or end something at the end, and sign-out last of all (it ends every
    session of the user, so the cells after it would see a dead cookie)."""
    found = []
    for rule in app.url_map.iter_rules():
        variants = ("draft", "confirmed") if "application_id" in rule.arguments else (None,)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for variant in variants:
                found.append((rule.endpoint, method, variant, rule))
    last = ("sign_out", "delete", "revoke", "deactivate")
    return sorted(found, key=lambda w: (w[1] != "GET", any(word in w[0] for word in last), "sign_out" in w[0],
                                        w[2] == "draft", w[0], w[1]))


def _url(app: Flask, endpoint: str, rule, variant: str | None, values: dict) -> str:
    params = {}
    for name in rule.arguments:
        if name == "application_id":
            params[name] = values[variant]
        elif name == "token":
            params[name] = values["notice_token"] if endpoint == "verify.public" else "no-such-token"
        elif name == "filename":
            params[name] = "css/app.css"
        elif name == "action":
            params[name] = "verify"
        else:
            assert name in values, f"{endpoint}: give the matrix a value for the URL parameter {name}"
            params[name] = values[name]
    with app.test_request_context():
        return url_for(endpoint, **params)


def _body(endpoint: str, variant: str | None, values: dict) -> dict:
    """What the request carries besides the URL: enough for the route to reach its object and authority checks
    (an empty form would often stop at validation first). None of these can succeed for a user of the table who
    is not allowed to act, and what succeeds for A's own users is harmless to the cells after it."""
    version = str(values["versions"][variant]) if variant else ""
    bodies = {
        "applications.operations": {"query_string": {"selected": values["confirmed"]}},
        "applications.run_operation": {"data": {"operation": "details", "selected": values["confirmed"]}},
        "applications.wizard": {"data": {"step": "identity", "action": "search", **values["lookup"]}},
        "staff.act": {"data": {"version": version}},
        "staff.refuse": {"data": {"version": version, "ground": "incomplete_documents", "comment": "Sınaq"}},
        "staff.bulk_order": {"data": {"ids": f"{values['confirmed']}:{values['versions']['confirmed']}"}},
        "verify.verify_api.api_verify": {"json": {"url": f"{BASE_URL}/v/{values['notice_token']}"}},
    }
    return bodies.get(endpoint, {"data": {}})


def outcome(app: Flask, response) -> str:
    """The status code, or → the endpoint a redirect goes to."""
    if 300 <= response.status_code < 400:
        path = urlsplit(response.headers["Location"]).path
        try:
            endpoint, _ = app.url_map.bind("localhost").match(path, method="GET")
        except (NotFound, MethodNotAllowed, RequestRedirect):
            return f"→? {path}"
        return R(endpoint)
    return str(response.status_code)


def walk(app: Flask, client, user: str) -> tuple[dict[tuple, str], dict]:
    values = _objects(app)
    values["grant_id"] = _sign_in(app, client, user)
    cookie = client.get_cookie("session")
    seen = {}
    for endpoint, method, variant, rule in walks(app):
        # Every cell starts from the session the user had right after signing in.
        client.delete_cookie("session")
        if cookie is not None:
            client.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path=cookie.path)
        url = _url(app, endpoint, rule, variant, values)
        response = client.open(url, method=method, **_body(endpoint, variant, values))
        seen[_walk_key(endpoint, method, variant)] = outcome(app, response)
        response.close()  # a static file's stream
    return seen, values


# ---------------------------------------------------------------- tests


def test_every_route_is_in_the_table(app):
    present = {_walk_key(endpoint, method, variant) for endpoint, method, variant, _ in walks(app)}
    missing = sorted(present - TABLE.keys(), key=str)
    assert not missing, f"routes without an entry in the authorization table: {missing}"
    stale = sorted(TABLE.keys() - present, key=str)
    assert not stale, f"table entries for routes that no longer exist: {stale}"


@pytest.mark.parametrize("user", USERS)
def test_routes_as(app, client, user):
    seen, values = walk(app, client, user)
    column = USERS.index(user)
    mismatches = [f"{key}: expected {TABLE[key][column]}, got {got}"
                  for key, got in seen.items() if key in TABLE and TABLE[key][column] != got]
    errors = [f"{key}: {got}" for key, got in seen.items() if got.startswith("5")]
    assert not errors, f"as {user}, server errors:\n" + "\n".join(errors)
    assert not mismatches, f"as {user}:\n" + "\n".join(mismatches)

    # Nobody in the table may act on A's confirmed application: after every route it is as it was.
    with app.app_context():
        confirmed = db.session.get(Application, values["confirmed"])
        assert (confirmed.status, confirmed.version) == (ApplicationStatus.SUBMITTED, values["versions"]["confirmed"])


@pytest.mark.parametrize("username,shown", [("agent.sum", False), ("agent.bak1", True), ("admin", True)])
def test_the_queue_shows_an_online_application_only_to_the_centre_it_is_routed_to(app, client, username, shown):
    values = _objects(app)
    with app.app_context():
        number = db.session.get(Application, values["confirmed"]).registration_number
    assert sign_in_staff(client, username).status_code == 302
    page = client.get("/staff/?status=all").get_data(as_text=True)
    assert (number in page) is shown
    assert (client.get(f"/staff/applications/{values['confirmed']}").status_code == 200) is shown
