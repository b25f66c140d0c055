"""Wiring of the audit chain's key and checkpoints into the app (dost.services.audit, audit_checkpoints)."""

from __future__ import annotations

import atexit

from flask import Flask

from dost import config as config_module
from dost.extensions import db
from dost.services import audit, audit_checkpoints

EXTENSION = "dost.audit"


def init_app(app: Flask) -> None:
    """Bind the audit key to the app's database engine and start checkpointing the chain head."""
    secret = app.config.get("AUDIT_KEY") or config_module.load_or_create_secret_key(app.instance_path, "audit_key")
    try:
        key = audit.AuditKey(secret)
    except ValueError as error:
        raise RuntimeError(f"DOST_AUDIT_KEY: {error}") from None
    with app.app_context():
        engine = db.engine
    audit.bind_key(engine, key)
    checkpointer = audit_checkpoints.Checkpointer(engine, key, app.config["AUDIT_CHECKPOINT_FILE"],
                                                  float(app.config["AUDIT_CHECKPOINT_SECONDS"]))
    audit_checkpoints.register(engine, checkpointer)
    app.extensions[EXTENSION] = checkpointer
    if not app.testing:
        # Also gunicorn workers: they exit through sys.exit, which runs atexit handlers.
        atexit.register(checkpointer.close)


def checkpointer(app: Flask) -> audit_checkpoints.Checkpointer:
    return app.extensions[EXTENSION]
