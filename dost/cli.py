"""`flask --app app dost ...` commands."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from dost.extensions import db

dost_cli = AppGroup("dost", help="DOST SSŞ administration commands.")


@dost_cli.command("demo")
@click.option("--if-empty", is_flag=True, help="Only load when the database has no insurers.")
def demo_command(if_empty: bool) -> None:
    """Load the demo data set (idempotent) and print every sign-in detail."""
    from dost import demo
    from dost.models import Insurer

    if if_empty and db.session.scalar(select(func.count()).select_from(Insurer)):
        click.echo("Database already has data; demo load skipped.")
        report = demo.load(db.session, current_app.instance_path)
        db.session.rollback()
    else:
        report = demo.load(db.session, current_app.instance_path)
        db.session.commit()
    click.echo(demo.format_report(report))


@dost_cli.command("api-token")
@click.argument("name")
def api_token_command(name: str) -> None:
    """Create a token for the authorization API; it is printed once and only its SHA-256 is stored."""
    from dost.services import grants
    from dost.services.actors import Actor
    from dost.services.errors import DomainError

    try:
        token, plain = grants.create_api_token(db.session, Actor.system("cli"), name)
    except DomainError as error:
        db.session.rollback()
        raise click.BadParameter(str(error.message), param_hint="NAME") from None
    db.session.commit()
    click.echo(f"API token #{token.id} ({token.name}) created. Store it now; it cannot be shown again:")
    click.echo(plain)


keys_cli = AppGroup("keys", help="Notice signing keys (Ed25519).")
dost_cli.add_command(keys_cli)


@keys_cli.command("rotate")
def keys_rotate_command() -> None:
    """Add a new signing key; earlier keys stop signing but their notices still verify."""
    from dost.services import signing
    from dost.services.actors import Actor

    row = signing.rotate_keys(db.session, Actor.system("cli: dost keys rotate"))
    db.session.commit()
    click.echo(f"New signing key: {row.kid}")


@keys_cli.command("compromise")
@click.argument("kid")
def keys_compromise_command(kid: str) -> None:
    """Declare a key compromised: its notices show 'signature key revoked' (other processes within a minute)."""
    from dost.services import signing
    from dost.services.actors import Actor
    from dost.services.errors import DomainError

    try:
        row = signing.compromise_key(db.session, Actor.system("cli: dost keys compromise"), kid.strip())
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(str(error.message)) from None
    db.session.commit()
    click.echo(f"Key {row.kid} marked compromised at {row.compromised_at.isoformat()}.")


@keys_cli.command("list")
def keys_list_command() -> None:
    """Key ids with their state."""
    from dost.services import signing

    for row in signing.list_keys(db.session):
        state = "revoked" if row.compromised_at else ("retired" if row.retired_at else "current")
        click.echo(f"{row.kid}  {state:8}  created {row.created_at:%Y-%m-%d %H:%M}")


@dost_cli.command("sweep")
def sweep_command() -> None:
    """Deadline sweep for cron (idempotent): reminders one working day before deadlines, overdue flags."""
    from dost.services import processing
    from dost.timeutil import today

    result = processing.sweep(db.session, today())
    db.session.commit()
    click.echo(f"Checked {result.checked} open applications: {result.reminders} reminders posted, "
               f"{result.overdue} flagged overdue.")


audit_cli = AppGroup("audit", help="The tamper-evident audit log.")
dost_cli.add_command(audit_cli)


@audit_cli.command("verify")
def audit_verify_command() -> None:
    """Check the audit hash chain; report the first edited, inserted or deleted event."""
    from dost.services import audit

    report = audit.verify_chain(db.session)
    if report.ok:
        click.echo(f"Audit chain intact: {report.checked} events.")
        return
    problems = {
        "edited": "was edited (its content no longer matches its hash)",
        "inserted": "was inserted (it claims to start a new chain)",
        "deleted_before": "does not follow the event before it (an event before it was deleted or inserted)",
    }
    raise click.ClickException(
        f"Audit chain broken at event #{report.event_id}: it {problems[report.problem]}; "
        f"{report.checked} events before it are intact."
    )


@dost_cli.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, writable=True))
def backup_command(target: str) -> None:
    """Consistent copy of the SQLite database through SQLite's online backup API (the app may keep running)."""
    import sqlite3

    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database:
        raise click.ClickException("backup copies SQLite databases; for PostgreSQL use pg_dump (see README).")
    source = sqlite3.connect(url.database)
    destination = sqlite3.connect(target)
    try:
        with destination:
            source.backup(destination)
    finally:
        destination.close()
        source.close()
    click.echo(f"Backed up {url.database} to {target}.")


def register_cli(app: Flask) -> None:
    app.cli.add_command(dost_cli)
