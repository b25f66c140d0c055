"""Mixed-traffic load, the database outage exercise and the two-process scale-out proof (issue 8).

`python -m bench load [--duration S] [--outage]` and `python -m bench scale-out`; both run on their own
PostgreSQL cluster `15 loadtest` on port 5433 (created if missing), never on the shared one on 5432.
"""

from __future__ import annotations


def main(argv: list[str]) -> int:
    """Dispatch `load` / `scale-out` with their own options."""
    part, rest = argv[0], argv[1:]
    if part == "load":
        from bench.load import run

        return run.main(rest)
    from bench.load import scale_out

    return scale_out.main(rest)
