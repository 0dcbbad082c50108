"""Benchmarks, not tests: `python bench/bench.py` (core), `python bench/lab.py` (the loss lab's
costs) and `python bench/classroom.py` (simulated classes through the server), whose parts are
the modules here."""
