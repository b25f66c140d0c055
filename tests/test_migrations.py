"""`upgrade` from an empty database gives exactly the schema of the models, on SQLite and PostgreSQL."""

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, text

from dost.extensions import db
from dost.models import Base
from tests.conftest import build_app

PG_URL = os.environ.get("DOST_TEST_DATABASE_URL")
SCHEMA = "migration_check"


def _urls(tmp_path):
    urls = [("sqlite", f"sqlite:///{tmp_path / 'migrated.sqlite3'}")]
    if PG_URL:
        separator = "&" if "?" in PG_URL else "?"
        urls.append(("postgresql", f"{PG_URL}{separator}options=-csearch_path%3D{SCHEMA}"))
    return urls


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_upgrade_from_empty_matches_the_models(backend, tmp_path):
    urls = dict(_urls(tmp_path))
    if backend not in urls:
        pytest.skip("DOST_TEST_DATABASE_URL not set")
    url = urls[backend]
    if backend == "postgresql":
        admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        admin.dispose()
    app = build_app(url, tmp_path)
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert diff == [], diff
        with db.engine.connect() as conn:
            if backend == "sqlite":
                triggers = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars()
            else:
                triggers = conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")).scalars()
            assert {name for name in triggers if name.startswith("application_count")}, "count triggers missing"
        downgrade(revision="base")
        with db.engine.connect() as conn:
            remaining = [t for t in db.inspect(conn).get_table_names() if t != "alembic_version"]
        assert remaining == []
        db.engine.dispose()
