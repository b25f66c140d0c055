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


def register_cli(app: Flask) -> None:
    app.cli.add_command(dost_cli)
