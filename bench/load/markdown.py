"""This package's own sections of BENCHMARKS.md, each between its markers, outside the generated `bench:results`."""

from __future__ import annotations

from bench.common import ROOT

PATH = ROOT / "BENCHMARKS.md"


def write_section(key: str, text: str) -> None:
    """Replace the section `key` if it is there, else append it at the end of the file."""
    start, end = f"<!-- bench:{key}:start (python -m bench {key.split('-outage')[0]}) -->", f"<!-- bench:{key}:end -->"
    block = f"{start}\n{text.strip()}\n{end}\n"
    current = PATH.read_text() if PATH.exists() else ""
    head, found, rest = current.partition(start.split(" (")[0])
    if found:
        _, found_end, tail = rest.partition(end)
        if found_end:
            PATH.write_text(head + block + tail.lstrip("\n"))
            return
    PATH.write_text(current.rstrip("\n") + "\n\n" + block)
