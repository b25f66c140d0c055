"""Two app processes behind nginx share sessions, rate limits and request ids (issue 8).

Needs nginx (Debian package), Redis on 127.0.0.1:6379 and root for the bench's own PostgreSQL cluster on port
5433, so it runs only with DOST_TEST_SCALE_OUT=1: `DOST_TEST_SCALE_OUT=1 .venv/bin/pytest tests/test_scale_out.py`.
"""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.skipif(os.environ.get("DOST_TEST_SCALE_OUT") != "1",
                                reason="starts nginx, two gunicorn processes and a PostgreSQL cluster; "
                                       "set DOST_TEST_SCALE_OUT=1")


def test_two_processes_behind_nginx_share_sessions_limits_and_request_ids():
    from bench.load import scale_out

    doc = scale_out.run(log=lambda _text: None)

    failed = [check for check in doc["checks"] if not check["passed"]]
    assert doc["checks"], "no check ran"
    assert not failed, failed
