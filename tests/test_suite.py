"""The suite itself: under CI=true nothing may skip; the fast lane leaves the slow tests out."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import REPO

SKIPPING = """
import pytest

@pytest.mark.skipif(True, reason="chromium is not installed")
def test_needs_a_browser():
    pass

def test_plain():
    pass
"""


def run_pytest(folder, *arguments, ci: str | None):
    environment = {key: value for key, value in os.environ.items() if key != "CI"}
    if ci is not None:
        environment["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *arguments],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_skip_fails_under_ci_and_only_there(tmp_path):
    (tmp_path / "conftest.py").write_text((REPO / "tests" / "conftest.py").read_text())
    (tmp_path / "test_example.py").write_text(SKIPPING)
    relaxed = run_pytest(tmp_path, ci=None)
    assert relaxed.returncode == 0 and "1 passed, 1 skipped" in relaxed.stdout
    strict = run_pytest(tmp_path, ci="true")
    assert strict.returncode != 0
    assert "skipped under CI=true" in strict.stdout and "chromium is not installed" in strict.stdout


@pytest.mark.slow  # collects the whole suite twice
def test_the_fast_lane_leaves_out_every_slow_test():
    collected = run_pytest(REPO, "--collect-only", "-m", "not slow", ci=None)
    everything = run_pytest(REPO, "--collect-only", ci=None)
    fast = [line for line in collected.stdout.splitlines() if "::" in line]
    every = [line for line in everything.stdout.splitlines() if "::" in line]
    assert 0 < len(fast) < len(every)
    for heavy in ("test_browser.py", "test_app.py", "test_serving.py::test_a_killed"):
        assert not any(heavy in line for line in fast), heavy
