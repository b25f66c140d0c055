"""The verification floor (bench only): the real app plus two routes that do only part of a check's work.

`gunicorn bench.floor_app:app` serves everything `app:app` serves, and also
- /floor/check/<token>: the check itself (the status query on an autocommit connection and the Ed25519 signature
  check), answered with the bare reason code: no template, no rate limit, no check log;
- /floor/query/<token>: the status query alone.
Measured against /healthz on the same server, they show how much of the hello-world throughput a verification
page could reach at best in this stack, whatever its page and logging cost.
"""

from __future__ import annotations

from app import app
from dost.blueprints.verify.views import _reading
from dost.extensions import limiter
from dost.services import signing, verification


@limiter.exempt
def floor_check(token: str):
    """The check's work only: query, signature, reason."""
    with _reading() as reader:
        return verification.check_token(reader, token).reason.value


@limiter.exempt
def floor_query(token: str):
    """The status query only."""
    parsed = signing.parse_token(token)
    if parsed is None:
        return "invalid", 404
    with _reading() as reader:
        notice = verification._load(reader, parsed.number)
    return ("found", 200) if notice is not None else ("not found", 404)


app.add_url_rule("/floor/check/<path:token>", view_func=floor_check)
app.add_url_rule("/floor/query/<path:token>", view_func=floor_query)
