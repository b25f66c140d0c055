"""Helpers shared by the blueprints: page-or-fragment rendering, domain errors to form errors, toasts."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from flask import current_app, make_response, redirect, render_template, request
from flask_wtf import FlaskForm

from dost.extensions import db
from dost.services.errors import DomainError


def is_htmx() -> bool:
    """An htmx request that wants a fragment (boosted navigation wants the full page)."""
    return bool(getattr(request, "htmx", False)) and not request.htmx.boosted


def render(page: str, fragment: str | None = None, /, status: int = 200, **context):
    """The fragment for htmx requests, the full page otherwise; both from the same context."""
    template = fragment if fragment is not None and is_htmx() else page
    return render_template(template, **context), status


def reads_only(view: Callable) -> Callable:
    """For views that only read: their statements (the signed-in user's too) run in autocommit, which spares
    the BEGIN and ROLLBACK round trips. Consistency is what PostgreSQL's default READ COMMITTED gives anyway:
    each statement its own snapshot. Put it above the sign-in guard, so the user is loaded the same way."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        return view(*args, **kwargs)

    return wrapped


def attach_error(form: FlaskForm, error: DomainError) -> None:
    """Show each domain error beside its field, or above the form when it concerns no single field."""
    for item in getattr(error, "errors", None) or [error]:
        field = getattr(form, item.field, None) if item.field else None
        if field is not None:
            field.errors = [*list(field.errors or []), str(item.message)]
        else:
            form.form_errors.append(str(item.message))


def public_base_url() -> str:
    """The official address printed in notices: configured, or the host the request came to."""
    return current_app.config.get("PUBLIC_BASE_URL") or request.host_url.rstrip("/")


def official_host() -> str | None:
    """The host of the configured public URL: the only one a page may call official (the request's Host header is
    whatever the client, or a site proxying to this one, put there). None when no public URL is configured."""
    return configured_host(current_app.config.get("PUBLIC_BASE_URL"))


def configured_host(base_url: str | None) -> str | None:
    """The host (and any port but the scheme's default, as request.host has it) of an http(s) URL, lower-cased;
    None for anything else."""
    try:
        parts = urlsplit((base_url or "").strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default = 443 if parts.scheme == "https" else 80
    return host if port in (None, default) else f"{host}:{port}"


# A path on this site: one leading slash, then no second slash or backslash (browsers read "//host" and "/\\host"
# as another site), and no control character or space (browsers drop tabs and newlines, turning "/\t/host" into
# "//host"; a newline cannot go into a Location header at all).
_LOCAL_PATH = re.compile(r"/(?![/\\])[^\x00-\x20\x7f\\]*")


def local_path(target: str | None, prefix: str = "/") -> str | None:
    """The target if it is a path on this site (under prefix) to redirect to, else None: never an open redirect."""
    target = target or ""
    return target if _LOCAL_PATH.fullmatch(target) and target.startswith(prefix) else None


def redirect_to(target: str):
    """A redirect that also works for htmx requests (which need HX-Redirect to leave the page)."""
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def toast(response, message: str, level: str = "success"):
    """Ask the page to show a toast (htmx reads HX-Trigger; plain requests get a flash instead)."""
    response.headers["HX-Trigger"] = json.dumps({"showToast": {"message": message, "level": level}})
    return response


def commit() -> None:
    """End the request's unit of work."""
    db.session.commit()
