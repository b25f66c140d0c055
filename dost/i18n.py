"""Locale-aware formatting (dates, numbers) and stored messages that are translated when they are read."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

import flask_babel
from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from flask import g, has_request_context
from flask_babel import force_locale, get_locale
from flask_babel.speaklater import LazyString
from markupsafe import Markup

from dost.timeutil import as_utc, local

# Azerbaijani keeps the manual's dd.mm.yyyy. The other languages use their CLDR style with a four-digit year:
# English "Jan 2, 2026" (medium: a numeric English date is ambiguous), Russian "02.01.2026" (short).
DATE_STYLES = {"az": "dd.MM.yyyy", "en": "medium", "ru": "short"}
DEFAULT_LOCALE = "az"


def request_translations():
    """This request's translations, looked up once (Flask-Babel looks them up again for every message)."""
    try:
        return g._dost_translations
    except AttributeError:
        g._dost_translations = translations = flask_babel.get_translations()
        return translations


def forget_request_translations() -> None:
    """After the request's locale changed (flask_babel.refresh), look the translations up again."""
    g.pop("_dost_translations", None)


def text(message: Any) -> str:
    """A message as text in the request's language; a plain lazy message goes through the request's translations
    (str() of a lazy string would look them up again through Flask-Babel)."""
    if (isinstance(message, LazyString) and message._func is flask_babel.gettext and len(message._args) == 1
            and not message._kwargs and has_request_context()):
        return request_translations().ugettext(message._args[0])
    return str(message)


def template_gettext(string: str, **variables: Any) -> Markup:
    """`_()` / `gettext()` in templates, as Jinja's "newstyle" gettext does it (a trusted translation, escaped
    variables) without its per-call context plumbing: a registry page calls it about a hundred times."""
    # The catalogs are trusted text (as in Jinja's own gettext); Markup's % escapes the variables.
    translated = Markup(request_translations().ugettext(string))  # noqa: S704
    return translated % variables if variables else translated


def template_ngettext(singular: str, plural: str, num: int, **variables: Any) -> Markup:
    """`ngettext()` in templates, newstyle: `num` is also available as %(num)s."""
    variables.setdefault("num", num)
    return Markup(request_translations().ungettext(singular, plural, num)) % variables  # noqa: S704


def install_jinja_gettext(jinja_env) -> None:
    """Templates translate through the request's translations (replaces Flask-Babel's per-message lookups)."""
    jinja_env.install_gettext_callables(
        gettext=lambda string: request_translations().ugettext(string),
        ngettext=lambda singular, plural, n: request_translations().ungettext(singular, plural, n),
        pgettext=lambda context, string: request_translations().upgettext(context, string),
        npgettext=lambda context, singular, plural, n: request_translations().unpgettext(context, singular, plural, n),
        newstyle=True,
    )
    # The expression forms, as plain functions ({% trans %} blocks keep the extension's callables above).
    jinja_env.globals.update(_=template_gettext, gettext=template_gettext, ngettext=template_ngettext)


def _locale() -> Locale:
    # Outside a request (CLI, service tests) there is no chosen locale: Azerbaijani.
    return get_locale() or Locale.parse(DEFAULT_LOCALE)


def _date_pattern(locale: Locale) -> str:
    style = DATE_STYLES.get(locale.language, "medium")
    # A CLDR style name, or (Azerbaijani) a fixed pattern.
    return locale.date_formats[style].pattern if style in ("short", "medium", "long", "full") else style


def format_day(value: date | datetime | None) -> str:
    """A calendar day in the reader's locale (dd.mm.yyyy in Azerbaijani), '-' for nothing."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        value = local(value).date()
    locale = _locale()
    if locale.language == DEFAULT_LOCALE:
        # The manual's dd.mm.yyyy, without Babel's pattern machinery (registry pages show 40 dates).
        return f"{value.day:02d}.{value.month:02d}.{value.year:04d}"
    return babel_dates.format_date(value, _date_pattern(locale), locale=locale)


def format_moment(value: datetime | None) -> str:
    """A moment, in Baku time, in the reader's locale (dd.mm.yyyy HH:mm in Azerbaijani), '-' for nothing."""
    if value is None:
        return "-"
    locale = _locale()
    if locale.language == DEFAULT_LOCALE:
        pattern = "dd.MM.yyyy HH:mm"
    else:
        glue = str(locale.datetime_formats["medium"])
        pattern = glue.replace("{1}", _date_pattern(locale)).replace("{0}", locale.time_formats["short"].pattern)
    return babel_dates.format_datetime(local(value), pattern, locale=locale)


def format_day_month(value: date) -> str:
    """Day and month only (chart labels): 02.01 in Azerbaijani, the locale's own order elsewhere."""
    locale = _locale()
    if locale.language == DEFAULT_LOCALE:
        return babel_dates.format_date(value, "dd.MM", locale=locale)
    return babel_dates.format_skeleton("dM", value, locale=locale)


def format_number(value: float | int | None, digits: int = 0) -> str:
    """A count or figure with the locale's separators, '-' for nothing."""
    if value is None:
        return "-"
    return babel_numbers.format_decimal(value, "#,##0" + ("." + "0" * digits if digits else ""), locale=_locale())


def format_share(value: float | None) -> str:
    """A share (0..1) as a percentage with one decimal, '-' for nothing."""
    if value is None:
        return "-"
    locale = _locale()
    # The locale's own percent pattern (e.g. Russian "75,5 %"), with one decimal.
    pattern = re.sub(r"0(?=[^0#]*%)", "0.0", locale.percent_formats[None].pattern, count=1)
    return babel_numbers.format_percent(value, pattern, locale=locale)


class Day:
    """A date inside a translated message: formatted in the reader's locale when the message is shown."""

    __slots__ = ("value",)

    def __init__(self, value: date | datetime):
        self.value = value

    def __str__(self) -> str:
        if isinstance(self.value, datetime):
            return format_moment(self.value)
        return format_day(self.value)


class DayMonth(Day):
    """Day and month only (chart labels), in the reader's locale."""

    __slots__ = ()

    def __str__(self) -> str:
        return format_day_month(self.value)


class Period:
    """Two days, "start – end", formatted in the reader's locale."""

    __slots__ = ("start", "end")

    def __init__(self, start: date, end: date):
        self.start, self.end = start, end

    def __str__(self) -> str:
        return f"{format_day(self.start)} – {format_day(self.end)}"


# Aliases, so message extraction does not take these calls (with variable msgids) for messages.
_translate = flask_babel.gettext
_translate_plural = flask_babel.ngettext


# --- stored messages --------------------------------------------------------------------------------------
# Inbox messages and timeline notes are written once and read later by people who chose different languages.
# They are stored twice: as Azerbaijani text (the language of record, and what older rows have) and as a
# "key": the msgid and its parameters, which `localized` translates into the reader's language.


def freeze(message: Any) -> Any:
    """A lazy message as JSON data (msgid, plural, parameters); anything else as its text."""
    if isinstance(message, LazyString):
        # flask_babel's lazy strings keep the function and its arguments (_func/_args/_kwargs).
        func, args, params = message._func, message._args, message._kwargs
        if func is flask_babel.gettext and len(args) == 1:
            data: dict[str, Any] = {"msgid": args[0]}
        elif func is flask_babel.ngettext and len(args) == 3:
            data = {"msgid": args[0], "plural": args[1], "num": args[2]}
        else:
            return str(message)
        if params:
            data["params"] = {name: freeze(value) for name, value in params.items()}
        return data
    if isinstance(message, Day):
        value = message.value
        return {"moment": as_utc(value).isoformat()} if isinstance(value, datetime) else {"date": value.isoformat()}
    if message is None or isinstance(message, (str, int, float)):
        return message
    return str(message)


def thaw(data: Any) -> Any:
    """Translate frozen message data into the current locale."""
    if not isinstance(data, dict):
        return data
    if "date" in data:
        return format_day(date.fromisoformat(data["date"]))
    if "moment" in data:
        return format_moment(datetime.fromisoformat(data["moment"]))
    params = {name: thaw(value) for name, value in (data.get("params") or {}).items()}
    if "plural" in data:
        return _translate_plural(data["msgid"], data["plural"], data["num"], **params)
    return _translate(data["msgid"], **params)


def record_text(key: Any) -> str:
    """The Azerbaijani text of a frozen message (what is stored as the text of record)."""
    with force_locale(DEFAULT_LOCALE):
        return str(thaw(key))


def localized(text: str | None, key: Any = None) -> str | None:
    """A stored message in the reader's language; the stored text when there is no key or it cannot be used."""
    if key is None:
        return text
    try:
        return str(thaw(key))
    except (KeyError, ValueError, TypeError):
        # A translation whose placeholders do not match: the Azerbaijani text is still right.
        return text
