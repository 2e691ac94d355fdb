"""Benchmarks (never part of the test run): `uv run python bench/run.py --size s|m|l`; see README.md."""
