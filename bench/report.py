"""The benchmark's tables, in Markdown: p50 / p95 / max in milliseconds, counts, errors, the
server's CPU and memory."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from bench.server import Load
from bench.tally import Tally

NONE = "–"


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def milliseconds(seconds: float) -> str:
    return NONE if math.isnan(seconds) else f"{seconds * 1000:.0f}"


def timing(values: Sequence[float]) -> str:
    """p50 / p95 / max in ms, or – for none."""
    if not values:
        return NONE
    return (
        f"{statistics.median(values) * 1000:.0f} / {percentile(values, 0.95) * 1000:.0f} / "
        f"{max(values) * 1000:.0f}"
    )


def threshold_timing(tally: Tally) -> str:
    """The threshold moves' timing, or "in the browser" with their count where the browser
    decided them alone (no run to time), with the timing of the rule's debounced sync."""
    if not tally.browser_moves:
        return timing(tally.threshold_moves)
    in_browser = f"in the browser ({tally.browser_moves})"
    if tally.threshold_syncs:
        in_browser += f"; sync {timing(tally.threshold_syncs)}"
    return f"{timing(tally.threshold_moves)}, {in_browser}" if tally.threshold_moves else in_browser


def server_name(workers: int) -> str:
    return "1 process" if workers == 1 else f"serve-local, {workers} workers"


# ---------------------------------------------------------------------------------------------
# Classes on the free page
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassResult:
    """One class on the free page: what its students measured and what the server used."""

    students: int
    tally: Tally
    load: Load
    students_cpu_seconds: float  # CPU seconds the simulated students themselves used

    @property
    def runs(self) -> int:
        """Page loads and interactions the server ran."""
        return len(self.tally.page_loads) + len(self.tally.free_page_runs)

    @property
    def server_cpu_per_run(self) -> float:
        return self.load.cpu_seconds / max(self.runs, 1)


def class_line(workers: int, result: ClassResult) -> str:
    """One class in a line, printed as soon as it ends."""
    tally, load = result.tally, result.load
    return (
        f"  {workers} process(es), {result.students} students: page load "
        f"{timing(tally.page_loads)}, threshold {threshold_timing(tally)}, new composite "
        f"{timing(tally.new_composites)} ms; errors {tally.error_count}; server CPU "
        f"{result.server_cpu_per_run * 1000:.0f} ms per run, {load.cpu_per_second:.2f} s per s "
        f"of class, students' CPU {result.students_cpu_seconds:.0f} s; RSS "
        f"{load.resident_before:.0f} -> {load.resident_peak:.0f} -> {load.resident_after:.0f} MiB"
    )


def class_table(
    workers: int, idle_mib: float, results: list[ClassResult], settle: list[tuple[float, float]]
) -> str:
    """Every class in one table; `settle`: (seconds after the last class, MiB)."""
    lines = [
        f"\nClassroom benchmark, {server_name(workers)}, idle RSS {idle_mib:.0f} MiB "
        "(p50 / p95 / max, ms)\n",
        "| students | page load | threshold move | new composite | interactions | errors | "
        "server CPU per run | server CPU-s per s of class | RSS before / peak / after (MiB) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        tally, load = result.tally, result.load
        lines.append(
            f"| {result.students} | {timing(tally.page_loads)} | {threshold_timing(tally)} | "
            f"{timing(tally.new_composites)} | {len(tally.free_page_runs)} | "
            f"{tally.error_count} | {result.server_cpu_per_run * 1000:.0f} ms | "
            f"{load.cpu_per_second:.2f} | {load.resident_before:.0f} / "
            f"{load.resident_peak:.0f} / {load.resident_after:.0f} |"
        )
    if settle:
        lines.append(
            "\nMemory after the students left: "
            + ", ".join(f"{seconds:.0f} s: {mib:.0f} MiB" for seconds, mib in settle)
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The soak
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SoakMinute:
    minute: int  # 1, 2, ...
    end: float  # time.monotonic() at its end
    resident_mib: dict[str, float]  # each worker's own resident memory at its end


@dataclass(frozen=True)
class Kill:
    worker: str  # "worker1"
    at: float  # time.monotonic()


def memory_slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (x, y) points."""
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    spread = sum((x - mean_x) ** 2 for x, _ in points) or 1.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def soak_table(minutes: list[SoakMinute], kill: Kill | None, tally: Tally) -> tuple[str, int]:
    """The per-minute table and the number of errors not caused by the kill."""
    names = list(minutes[0].resident_mib)
    lines = [
        "| minute | interactions | p95 (ms) | errors | errors on the killed worker | "
        + " | ".join(f"{name} RSS (MiB)" for name in names)
        + " |",
        "|---" * (5 + len(names)) + "|",
    ]
    unexpected = 0
    for row in minutes:
        begin = row.end - 60
        times = [
            answered.seconds for answered in tally.answered_log if begin <= answered.at < row.end
        ]
        errors = [event for event in tally.error_log if begin <= event.at < row.end]
        caused = [e for e in errors if kill and e.worker == kill.worker and e.at >= kill.at]
        unexpected += len(errors) - len(caused)
        p95 = milliseconds(percentile(times, 0.95))
        memory = " | ".join(f"{row.resident_mib[name]:.0f}" for name in names)
        lines.append(
            f"| {row.minute} | {len(times)} | {p95} | {len(errors) - len(caused)} | "
            f"{len(caused)} | {memory} |"
        )
    last = minutes[-5:]
    slopes = [
        f"{name} {memory_slope([(row.minute, row.resident_mib[name]) for row in last]):+.1f} "
        "MiB/min"
        for name in names
    ]
    lines.append(f"\nMemory slope over the last {len(last)} minutes: " + ", ".join(slopes))
    if kill:
        minute = int((kill.at - minutes[0].end + 60) // 60) + 1
        lines.append(f"{kill.worker} killed with SIGKILL in minute {minute}.")
    return "\n".join(lines), unexpected


# ---------------------------------------------------------------------------------------------
# A class room
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoomResult:
    code: str
    sent: int  # answers whose run finished
    stored: int  # answers the store counts
    on_teacher_page: int  # answers the teacher's tally counted last
    complete_after_last: float | None  # seconds from the last answer to a complete tally
    store_seconds_per_answer: float  # the store's own time for one answer, called directly


def room_table(
    store: str, workers: int, students: int, seconds: float, result: RoomResult, tally: Tally
) -> str:
    answer_p50 = statistics.median(tally.answers) if tally.answers else float("nan")
    after = result.complete_after_last
    per_answer = result.store_seconds_per_answer
    return "\n".join(
        [
            f"\nClass room, {store}, {server_name(workers)}: {students} students answer within "
            f"{seconds:.0f} s\n",
            "| answers sent | stored | on the teacher's page | answer p50 / p95 / max (ms) | "
            "follow the teacher p50 / p95 / max (ms) | tally complete after the last answer | "
            "store per answer | errors |",
            "|---|---|---|---|---|---|---|---|",
            f"| {result.sent} | {result.stored} | {result.on_teacher_page} | "
            f"{timing(tally.answers)} | {timing(tally.follows)} | "
            f"{NONE if after is None else f'{after:.2f} s'} | "
            f"{per_answer * 1000:.2f} ms ({per_answer / answer_p50:.1%} of the p50) | "
            f"{tally.error_count} |",
        ]
    )


# ---------------------------------------------------------------------------------------------
# The loss lab
# ---------------------------------------------------------------------------------------------


def lab_table(workers: int, lab_students: int, others: int, seconds: float, tally: Tally) -> str:
    other = tally.free_page_runs
    trains = tally.trains
    return "\n".join(
        [
            f"\nLoss lab, {server_name(workers)}: {lab_students} students press Train at once, "
            f"then every 1-4 s, for {seconds:.0f} s; {others} others use the free page (ms)\n",
            "| lab students | Train p50 | Train p95 | trained | refused as busy | others' "
            "interactions | their p95 | errors |",
            "|---|---|---|---|---|---|---|---|",
            f"| {lab_students} | {milliseconds(statistics.median(trains) if trains else math.nan)} "
            f"| {milliseconds(percentile(trains, 0.95))} | {len(trains)} | "
            f"{tally.busy_refusals} | {len(other)} | {milliseconds(percentile(other, 0.95))} | "
            f"{tally.error_count} |",
        ]
    )


def examples(tally: Tally) -> str:
    """The errors quoted, one a line (empty without errors)."""
    return "\n".join(f"    {example}" for example in tally.error_examples)
