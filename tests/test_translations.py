"""Languages: complete az/en/ru catalogs that match the sources, the switcher remembered per user, dates,
numbers and plural forms in the reader's locale, and stored messages shown in the reader's language."""

from __future__ import annotations

import html
import re
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask import session
from flask_babel import force_locale, ngettext, refresh
from sqlalchemy import select

from dost import i18n, labels
from dost.models import ApplicationStatusChange, ApplicationType, Credential, Notification, StaffUser
from dost.services import processing
from tests.conftest import SEAL_A_CARD, sign_in_card
from tests.staff_support import ready_and_refused, sign_in_staff, submit

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "dost" / "translations"
LOCALES = ("az", "en", "ru")
ON = date(2026, 11, 3)


def _catalog(path: Path):
    with path.open("rb") as handle:
        return read_po(handle)


def _ids(catalog) -> set:
    return {message.id for message in catalog if message.id}


# --- the catalogs --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_catalog_is_complete(locale):
    catalog = _catalog(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po")
    template = _ids(_catalog(TRANSLATIONS / "messages.pot"))
    assert _ids(catalog) == template, "run `make translations-update` and translate the new messages"
    problems = []
    for message in catalog:
        if not message.id:
            continue
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy:
            problems.append(("fuzzy", message.id))
        if not forms or not all(form and form.strip() for form in forms):
            problems.append(("empty", message.id))
        if message.pluralizable and len(forms) != catalog.num_plurals:
            problems.append(("plural forms", message.id))
    assert not problems, problems
    # Placeholders (%(name)s) of every translation match its msgid.
    errors = [(message.id, [str(error) for error in errors]) for message, errors in catalog.check()]
    assert not errors, errors


def test_russian_has_three_plural_forms():
    catalog = _catalog(TRANSLATIONS / "ru" / "LC_MESSAGES" / "messages.po")
    assert catalog.num_plurals == 3


def test_template_is_up_to_date_with_the_sources(tmp_path):
    extracted = tmp_path / "messages.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F", "babel.cfg", "-k", "_l",
         "-k", "lazy_gettext", "-o", str(extracted), "."],
        cwd=ROOT, check=True, capture_output=True,
    )
    committed, fresh = _ids(_catalog(TRANSLATIONS / "messages.pot")), _ids(_catalog(extracted))
    assert fresh - committed == set(), "new messages: run `make translations-update` and translate them"
    assert committed - fresh == set(), "messages no longer used: run `make translations-update`"


# --- the switcher ----------------------------------------------------------------------------------------------


def _page(client, path: str) -> str:
    return html.unescape(client.get(path).get_data(as_text=True))


@pytest.mark.parametrize(("locale", "heading", "switcher"), [
    ("az", "Milli giriş sistemi ilə daxil olmaq", "Dil"),
    ("en", "Sign in with the national login", "Language"),
    ("ru", "Войти через национальную систему входа", "Язык"),
])
def test_switching_the_language_renders_pages_in_it(client, locale, heading, switcher):
    response = client.post("/language", data={"locale": locale, "next": "/sign-in"})
    assert response.status_code == 302
    page = _page(client, "/sign-in")
    assert f'<html lang="{locale}">' in page
    assert heading in page and f">{switcher}</label>" in page
    assert f'<option value="{locale}" selected>' in page


def test_anonymous_choice_is_kept_in_a_long_lived_cookie(app, client):
    response = client.post("/language", data={"locale": "ru", "next": "/verify"})
    cookie = next(value for value in response.headers.getlist("Set-Cookie") if value.startswith("dost_locale="))
    assert "dost_locale=ru" in cookie and "Max-Age=31536000" in cookie and "HttpOnly" in cookie
    # A new session of the same browser (the session cookie gone, the language cookie kept).
    fresh = app.test_client()
    fresh.set_cookie("dost_locale", "ru")
    assert '<html lang="ru">' in _page(fresh, "/verify")
    # Anything else in the cookie is ignored.
    fresh.set_cookie("dost_locale", "xx")
    assert '<html lang="az">' in _page(fresh, "/verify")


def test_employer_choice_is_stored_on_the_credential_and_applied_at_sign_in(app, client, session):
    assert sign_in_card(client).status_code == 302
    client.post("/language", data={"locale": "en", "next": "/insurer"})
    credential = session.scalar(select(Credential).where(Credential.card_number == SEAL_A_CARD[0]))
    assert credential.locale == "en"
    assert "Insurer's details" in _page(client, "/insurer")
    client.post("/sign-out")
    # Another browser, nothing chosen there: the stored language applies at sign-in.
    other = app.test_client()
    assert '<html lang="az">' in _page(other, "/sign-in")
    assert sign_in_card(other).status_code == 302
    page = _page(other, "/insurer")
    assert '<html lang="en">' in page and "Insurer's details" in page


def test_stored_choice_wins_over_the_browser_at_sign_in(app, client, session):
    credential = session.scalar(select(Credential).where(Credential.card_number == SEAL_A_CARD[0]))
    credential.locale = "ru"
    session.commit()
    client.post("/language", data={"locale": "en", "next": "/sign-in"})
    assert sign_in_card(client).status_code == 302
    assert '<html lang="ru">' in _page(client, "/insurer")


def test_without_a_stored_choice_the_browser_language_is_kept_at_sign_in(client):
    client.post("/language", data={"locale": "en", "next": "/sign-in"})
    assert sign_in_card(client).status_code == 302
    assert '<html lang="en">' in _page(client, "/insurer")


def test_staff_choice_is_stored_on_the_account(client, session):
    assert sign_in_staff(client, "agent.bak1").status_code == 302
    client.post("/language", data={"locale": "ru", "next": "/staff/"})
    assert session.scalar(select(StaffUser.locale).where(StaffUser.username == "agent.bak1")) == "ru"
    assert "Очередь заявлений" in _page(client, "/staff/")


def test_staff_stored_choice_is_applied_at_sign_in(client, session):
    user = session.scalar(select(StaffUser).where(StaffUser.username == "agent.bak1"))
    user.locale = "en"
    session.commit()
    assert sign_in_staff(client, "agent.bak1").status_code == 302
    page = _page(client, "/staff/")
    assert '<html lang="en">' in page and "Application queue" in page


# --- dates, numbers and plural forms ----------------------------------------------------------------------------


@pytest.mark.parametrize(("locale", "day", "moment"), [
    ("az", "02.01.2026", "02.01.2026 19:04"),
    ("en", "Jan 2, 2026", "Jan 2, 2026, 7:04\u202fPM"),
    ("ru", "02.01.2026", "02.01.2026, 19:04"),
])
def test_dates_follow_the_locale(app, locale, day, moment):
    # 15:04 UTC is 19:04 in Baku.
    with app.test_request_context(), force_locale(locale):
        template = app.jinja_env.from_string("{{ day | d }}|{{ moment | dt }}|{{ none | d }}")
        rendered = template.render(day=date(2026, 1, 2), moment=datetime(2026, 1, 2, 15, 4, tzinfo=UTC))
        assert rendered == f"{day}|{moment}|-"
        assert str(i18n.Day(date(2026, 1, 2))) == day


@pytest.mark.parametrize(("locale", "count", "share", "median"), [
    ("az", "12.345", "75,5%", "3,5"),
    ("en", "12,345", "75.5%", "3.5"),
    ("ru", "12\xa0345", "75,5\xa0%", "3,5"),  # CLDR: no-break spaces in Russian
])
def test_numbers_follow_the_locale(app, locale, count, share, median):
    with app.test_request_context(), force_locale(locale):
        template = app.jinja_env.from_string(
            "{{ 12345 | num }}|{{ 0.755 | share }}|{{ 3.5 | num(1) }}|{{ none | num }}")
        assert template.render() == f"{count}|{share}|{median}|-"


@pytest.mark.parametrize(("locale", "expected"), [
    ("az", {1: "1 nəticə", 2: "2 nəticə", 5: "5 nəticə"}),
    ("en", {1: "1 result", 2: "2 results", 5: "5 results", 0: "0 results"}),
    ("ru", {1: "1 результат", 2: "2 результата", 5: "5 результатов", 11: "11 результатов", 21: "21 результат",
            22: "22 результата", 0: "0 результатов"}),
])
def test_plural_forms_follow_the_locale(app, locale, expected):
    with app.test_request_context(), force_locale(locale):
        for count, text in expected.items():
            assert ngettext("%(num)d nəticə", "%(num)d nəticə", count) == text


def test_pager_and_report_figures_on_pages(client, session):
    client.post("/language", data={"locale": "ru", "next": "/sign-in"})
    sign_in_staff(client, "supervisor.baki")
    page = _page(client, "/staff/")
    assert re.search(r"\d+ (результат|результата|результатов)<", page)
    client.post("/language", data={"locale": "en", "next": "/staff/"})
    page = _page(client, "/staff/reports?start=01.10.2026&end=30.11.2026")
    assert "Completeness of applications and speed of responses" in page and "Median, working days" in page


# --- stored messages in the reader's language -----------------------------------------------------------------


def test_inbox_messages_are_stored_in_azerbaijani_and_shown_in_the_reader_language(seal_client, session):
    ready, refused = ready_and_refused(session, ON)
    stored = session.scalars(select(Notification).where(Notification.application_id == refused.id)).one()
    assert "İmtina əsası: Hüquqi əsası yoxdur." in stored.message
    assert stored.message_key["params"]["message"]["params"]["ground"] == {"msgid": "Hüquqi əsası yoxdur"}
    assert "İmtina əsası: Hüquqi əsası yoxdur." in _page(seal_client, "/inbox/")
    seal_client.post("/language", data={"locale": "en", "next": "/inbox/"})
    page = _page(seal_client, "/inbox/")
    assert f"Application No. {refused.registration_number}" in page
    assert "Ground for refusal: No legal basis. Comment: Şəxs bu sığortaedənin işçisi deyil" in page
    assert "can be collected from 1 saylı Bakı DOST Mərkəzi" in page and "status “Verified”" in page
    seal_client.post("/language", data={"locale": "ru", "next": "/inbox/"})
    page = _page(seal_client, "/inbox/")
    assert "Основание для отказа: Отсутствует правовое основание." in page and "статус «Проверено»" in page


def test_status_notes_are_shown_in_the_reader_language(client, session):
    ready, _ = ready_and_refused(session, ON)
    note = session.scalar(select(ApplicationStatusChange.note).where(
        ApplicationStatusChange.application_id == ready.id, ApplicationStatusChange.note.like("%SSN%")))
    assert note.startswith("Yeni şəhadətnamə sifariş edildi (SSN ")
    client.post("/language", data={"locale": "en", "next": "/sign-in"})
    sign_in_staff(client, "agent.bak1")
    page = _page(client, f"/staff/applications/{ready.id}")
    assert "New certificate ordered (SSN " in page and "“Monitoring”: a certificate of the person in force" in page


def test_deadline_reminder_date_follows_the_reader_locale(seal_client, session):
    application = submit(session, deadline=date(2026, 11, 20))
    processing.sweep(session, date(2026, 11, 19))
    session.commit()
    stored = session.scalars(select(Notification).where(Notification.application_id == application.id)).one()
    assert "20.11.2026 tarixində başa çatır" in stored.message
    seal_client.post("/language", data={"locale": "en", "next": "/inbox/"})
    assert "ends on Nov 20, 2026" in _page(seal_client, "/inbox/")


def test_the_systems_own_name_is_shown_in_the_reader_language(client, session, app):
    application = submit(session, deadline=date(2026, 11, 20))
    processing.sweep(session, date(2026, 11, 21))  # overdue: the sweep flags it, audited as the system
    session.commit()
    client.post("/language", data={"locale": "en", "next": "/sign-in"})
    sign_in_staff(client, "agent.bak1")
    page = _page(client, f"/staff/applications/{application.id}")
    assert "system: deadline monitoring" in page and "sistem: müddətlərə nəzarət" not in page
    with app.test_request_context(), force_locale("ru"):
        assert labels.actor_label("sistem: müddətlərə nəzarət") == "система: контроль сроков"
        assert labels.actor_label("LALƏ MƏMMƏDOVA") == "LALƏ MƏMMƏDOVA"  # a person's name, as stored


def test_a_stored_message_without_a_key_is_shown_as_stored(app):
    with app.test_request_context(), force_locale("en"):
        assert i18n.localized("Köhnə mətn") == "Köhnə mətn"
        # A key whose translation no longer fits falls back to the stored text instead of failing.
        broken = {"msgid": "Müraciət № %(number)s (%(person)s): status «%(status)s».", "params": {"number": "1"}}
        assert i18n.localized("Köhnə mətn", broken) == "Köhnə mətn"


def test_template_gettext_escapes_variables_and_follows_a_locale_change_within_the_request(app):
    with app.test_request_context("/"):
        rendered = app.jinja_env.from_string('{{ _("Bu səhifə rəsmi ünvanda açılmayıb (%(host)s).", host=h) }}')
        assert "&lt;b&gt;" in rendered.render(h="<b>")
        assert i18n.text(labels.APPLICATION_TYPE[ApplicationType.DUPLICATE]) == "Dublikat"
        session["locale"] = "en"
        refresh()
        i18n.forget_request_translations()
        assert i18n.text(labels.APPLICATION_TYPE[ApplicationType.DUPLICATE]) == "Duplicate"
        assert app.jinja_env.from_string('{{ ngettext("%(num)d nəticə", "%(num)d nəticə", 3) }}').render() == \
            "3 results"
    # Outside a request: the Azerbaijani text of record.
    assert i18n.text(labels.APPLICATION_TYPE[ApplicationType.DUPLICATE]) == "Dublikat"
