"""What the simulated students of one run measured: the seconds of every kind of run they asked
for, the interactions that needed none, and their errors."""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass, field
from typing import NamedTuple

# The worker (the balancer's cookie) of the student whose task is running, to blame its errors.
STUDENT_WORKER = contextvars.ContextVar("student_worker", default="")
MOST_EXAMPLES = 5  # errors quoted in the report


class Answered(NamedTuple):
    """A free-page interaction the server answered."""

    at: float  # time.monotonic() when its run finished
    seconds: float  # from the request to `script_finished`


class ErrorEvent(NamedTuple):
    at: float  # time.monotonic()
    kind: str
    worker: str  # the student's worker (STUDENT_WORKER), "" with one process


@dataclass
class Tally:
    """Seconds from the request to `script_finished`, per kind of run, and counts."""

    # Every page
    page_loads: list[float] = field(default_factory=list)  # a free page's first run
    errors: dict[str, int] = field(default_factory=dict)  # how many of each kind
    error_examples: list[str] = field(default_factory=list)  # "kind: detail" of the first few
    error_log: list[ErrorEvent] = field(default_factory=list)  # every error, when and where
    # The free page
    new_composites: list[float] = field(default_factory=list)  # "Random composite" clicks
    threshold_moves: list[float] = field(default_factory=list)  # moves of a threshold slider
    browser_moves: int = 0  # threshold moves the browser decided alone, with no run
    threshold_syncs: list[float] = field(default_factory=list)  # their rule sent back, once still
    answered_log: list[Answered] = field(default_factory=list)  # the two above, in time
    # The loss lab
    trains: list[float] = field(default_factory=list)  # Train presses that trained
    busy_refusals: int = 0  # Train presses the page refused as busy
    # A class room
    answers: list[float] = field(default_factory=list)  # a student's answer to the question
    follows: list[float] = field(default_factory=list)  # a student's timer run: teacher moved?

    def error(self, kind: str, detail: str = "") -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        self.error_log.append(ErrorEvent(time.monotonic(), kind, STUDENT_WORKER.get()))
        if detail and len(self.error_examples) < MOST_EXAMPLES:
            self.error_examples.append(f"{kind}: {detail}")

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def free_page_runs(self) -> list[float]:
        """Seconds of every free-page interaction the server answered."""
        return self.new_composites + self.threshold_moves + self.threshold_syncs
