"""`python -m bench [generate] [registry] [verify]` — the benchmarks of issues 3 and 5 (`make bench` runs all);
`python -m bench load|scale-out` — issue 8 (bench/load); `python -m bench signin` — issue 14 (bench/signin.py).

Results go to bench/results/*.json and, for the full 1,000,000-application data set (or with --markdown),
to the generated section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time

from bench import report
from bench.common import FULL_SIZE, load_average, machine, write_json

PARTS = ("generate", "registry", "verify")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("parts", nargs="*", metavar="PART",
                        help="generate, registry, verify (default: all, in that order)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both",
                        help="registry benchmark backend(s) (verify always uses PostgreSQL)")
    parser.add_argument("--applications", type=int, default=int(os.environ.get("BENCH_APPLICATIONS", FULL_SIZE)),
                        help="data set size (default 1,000,000; e.g. 20000 for a quick run)")
    parser.add_argument("--regenerate", action="store_true", help="rebuild the cached databases")
    parser.add_argument("--runs", type=int, default=300, help="timed rounds per registry item (default 300)")
    parser.add_argument("--notice-runs", type=int, default=200, help="notice PDF renders (default 200)")
    parser.add_argument("--duration", type=int, default=20, help="seconds per wrk run (default 20)")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of wrk warm-up per route (default 5)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--threads", type=int, default=None,
                        help="gunicorn --threads (default: none, sync workers as `gunicorn -w 2 app:app`)")
    parser.add_argument("--compare-threads", type=int, default=4,
                        help="also run verify, unjudged, with `--threads N` as `make run` serves (0: skip; default 4)")
    parser.add_argument("--explain", action="store_true", help="print query plans even for targets that pass")
    markdown = parser.add_mutually_exclusive_group()
    markdown.add_argument("--markdown", dest="markdown", action="store_true", default=None,
                          help="write BENCHMARKS.md even for a reduced data set")
    markdown.add_argument("--no-markdown", dest="markdown", action="store_false")
    args = parser.parse_args(argv)
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}")
    args.parts = [part for part in PARTS if part in args.parts] or list(PARTS)
    if args.applications < 1000:
        parser.error("--applications must be at least 1000")
    return args


def main(argv: list[str] | None = None) -> int:
    if (sys.argv[1:] if argv is None else argv)[:1] == ["signin"]:
        from bench import signin

        return signin.main((sys.argv[1:] if argv is None else argv)[1:])
    if (sys.argv[1:] if argv is None else argv)[:1] in (["load"], ["scale-out"]):
        # Own options and own PostgreSQL cluster (port 5433): `python -m bench load --help`.
        from bench.load import main as load_main

        return load_main(sys.argv[1:] if argv is None else argv)
    args = parse(argv)
    command = " ".join(["python -m bench", shlex.join(sys.argv[1:] if argv is None else argv)]).strip()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    started = time.monotonic()
    print(f"DOST SSŞ benchmarks: {', '.join(args.parts)}; {args.applications:,} applications; "
          f"load average {' '.join(f'{x:.2f}' for x in load_average())}", flush=True)
    docs = []

    from bench import generate

    needed = set(backends) if "registry" in args.parts else set()
    if "verify" in args.parts:
        needed.add("postgresql")
    if "generate" in args.parts and not needed:
        needed = set(backends)
    generate.ensure(sorted(needed, key=["sqlite", "postgresql"].index), args.applications,
                    regenerate=args.regenerate,
                    log=lambda text: print(text, flush=True))

    if "registry" in args.parts:
        from bench import registry

        for backend in backends:
            doc = registry.run(backend, args.applications, runs=args.runs, notice_runs=args.notice_runs,
                               log=lambda text: print(text, flush=True))
            write_json(f"registry-{backend}-{args.applications}.json", doc)
            registry.print_report(doc, explain=args.explain)
            docs.append(doc)

    if "verify" in args.parts:
        from bench import verify_load

        doc = verify_load.run(args.applications, duration=args.duration, warmup=args.warmup,
                              connections=args.connections, workers=args.workers, gunicorn_threads=args.threads,
                              log=lambda text: print(text, flush=True))
        write_json(f"verify-{args.applications}.json", doc)
        verify_load.print_report(doc)
        docs.append(doc)
        if args.compare_threads and not args.threads:
            doc = verify_load.run(args.applications, duration=args.duration, warmup=args.warmup,
                                  connections=args.connections, workers=args.workers,
                                  gunicorn_threads=args.compare_threads, log=lambda text: print(text, flush=True))
            doc["informational"] = True
            write_json(f"verify-threads-{args.applications}.json", doc)
            verify_load.print_report(doc)

    report.print_summary(docs)
    write_markdown = args.markdown if args.markdown is not None else args.applications == FULL_SIZE
    if docs and write_markdown:
        path = report.write_markdown(args.applications, machine(), command)
        print(f"\nwrote {path.name} (results of every part for {args.applications:,} applications)")
    print(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
