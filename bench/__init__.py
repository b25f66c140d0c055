"""Benchmarks of DOST SSŞ (`make bench`, or `python -m bench --help`); not part of the test suite."""
