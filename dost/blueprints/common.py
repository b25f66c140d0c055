"""Helpers shared by the blueprints: page-or-fragment rendering, domain errors to form errors, toasts."""

from __future__ import annotations

import json

from flask import render_template, request
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


def attach_error(form: FlaskForm, error: DomainError) -> None:
    """Show a domain error beside its field, or above the form when it concerns no single field."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = [*field.errors, str(error.message)] if isinstance(field.errors, list) else [str(error.message)]
    else:
        form.form_errors.append(str(error.message))


def toast(response, message: str, level: str = "success"):
    """Ask the page to show a toast (htmx reads HX-Trigger; plain requests get a flash instead)."""
    response.headers["HX-Trigger"] = json.dumps({"showToast": {"message": message, "level": level}})
    return response


def commit() -> None:
    """End the request's unit of work."""
    db.session.commit()
