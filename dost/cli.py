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
    click.echo(demo.format_provider_note(current_app.config["DEMO_PROVIDERS"],
                                         current_app.config["DEMO_IDP_ISSUER"] if "demo_idp" in current_app.extensions
                                         else ""))


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


def _checkpoint_files(files: tuple[str, ...]) -> list[str]:
    return list(files) or [current_app.config["AUDIT_CHECKPOINT_FILE"]]


@audit_cli.command("verify")
@click.option("--checkpoints", "files", multiple=True, type=click.Path(dir_okay=False),
              help="Checkpoint file to check against (repeatable; default: AUDIT_CHECKPOINT_FILE).")
def audit_verify_command(files: tuple[str, ...]) -> None:
    """Check the audit chain against its keyed hashes and signed checkpoints; report every problem found, first
    affected event first (edited, inserted, deleted, recomputed, truncated, forged checkpoint)."""
    from dost.audit_log import checkpointer
    from dost.services import audit, audit_checkpoints
    from dost.timeutil import as_utc

    key = checkpointer(current_app).key
    paths = _checkpoint_files(files)
    checkpoints, rejected, missing = audit_checkpoints.read(paths, key)
    report = audit.verify_chain(db.session, checkpoints, rejected, key=key)
    db.session.rollback()
    for path in missing:
        click.echo(f"Checkpoint file {path} does not exist.")
    if report.ok:
        click.echo(f"Audit chain intact: {report.total} events, hashed with the audit key (key id {key.kid}).")
        if report.legacy:
            click.echo(f"The first {report.legacy} events predate the audit key (plain SHA-256); event "
                       f"#{report.legacy_sealed_by} sealed them.")
        if report.covered is not None:
            covered = report.covered
            newer = report.total - covered.count
            click.echo(f"Newest checkpoint matched: event #{covered.event_id} ({covered.count} events) at "
                       f"{as_utc(covered.at):%Y-%m-%d %H:%M:%S} UTC, {covered.source}"
                       + (f"; {newer} newer events are not checkpointed yet." if newer else "."))
        return
    click.echo(f"Audit chain NOT intact: {len(report.findings)} problem(s) found; first affected event: "
               + (f"#{report.event_id}." if report.event_id is not None else "see below."))
    for finding in report.findings:
        click.echo(f"- {finding.message}")
    click.echo(f"{report.total} events in the chain; {len(checkpoints)} valid checkpoint(s) read from "
               f"{', '.join(paths)}.")
    raise SystemExit(1)


@audit_cli.command("checkpoint")
@click.option("--force", is_flag=True, help="Write even if the newest checkpoint already names the chain head.")
def audit_checkpoint_command(force: bool) -> None:
    """Append a signed checkpoint of the chain head to the checkpoint file (run from cron, e.g. every minute)."""
    from dost.audit_log import checkpointer
    from dost.services.errors import DomainError

    writer = checkpointer(current_app)
    try:
        checkpoint = writer.write(unless_unchanged=not force)
    except DomainError as error:
        raise click.ClickException(f"No checkpoint written: {error.message}.") from None
    if checkpoint is None:
        click.echo(f"No checkpoint written: the chain is empty or {writer.path} already names its head.")
        return
    click.echo(f"Checkpoint written to {writer.path}: event #{checkpoint.event_id} ({checkpoint.count} events).")


@audit_cli.command("seal-legacy")
@click.option("--checkpoints", "files", multiple=True, type=click.Path(dir_okay=False),
              help="Checkpoint file to check against (repeatable; default: AUDIT_CHECKPOINT_FILE).")
def audit_seal_legacy_command(files: tuple[str, ...]) -> None:
    """Once, after upgrading a database from before the audit key: seal its unkeyed (plain SHA-256) events with a
    keyed event naming their head. Check them against a backup first: whatever they say now is sealed."""
    from dost.audit_log import checkpointer
    from dost.services import audit, audit_checkpoints
    from dost.services.actors import Actor
    from dost.services.errors import DomainError

    writer = checkpointer(current_app)
    checkpoints, rejected, _ = audit_checkpoints.read(_checkpoint_files(files), writer.key)
    if rejected:
        raise click.ClickException("Not sealed: " + " ".join(finding.message for finding in rejected))
    try:
        seal = audit.seal_legacy(db.session, Actor.system("cli: dost audit seal-legacy"), checkpoints,
                                 key=writer.key)
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(f"Not sealed: {error.message}") from None
    db.session.commit()
    changes = seal.changes
    click.echo(f"Sealed events #1-#{changes['legacy_head_id']} ({changes['legacy_events']} events from before the "
               f"audit key) with event #{seal.id}.")
    checkpoint = writer.write(unless_unchanged=True)
    if checkpoint is not None:
        click.echo(f"Checkpoint written to {writer.path}: event #{checkpoint.event_id} ({checkpoint.count} events).")


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
