"""The names a page and its simulated students share: widget keys, the address parameters that
choose a view, the fragment timer the class-room benchmark tells apart by its interval, and the
one message it looks for (the lab's busy warning).

The pages draw their widgets with these keys and `bench/` (the classroom benchmark, which speaks
Streamlit's websocket protocol as a browser does) finds the widgets by them, so renaming a
widget here renames it for both, and the benchmark never matches a page's wording. Nothing here
imports Streamlit or the models: the benchmark and `demo.warmup` import it as plain data.

A widget's key is the `key=` Streamlit is given; the browser sends its state under an id that
ends with the key (`demo.serve.wire.widget_key`).
"""

from __future__ import annotations

# The address parameters that chose a page before pages had paths (`demo.routes`): ?room=CODE,
# ?lab=1; `room` still holds the room's code.
ROOM_VIEW = "room"
LAB_VIEW = "lab"

# The free page (`demo.ui.panels`)
RANDOM_COMPOSITE = "random"  # the "Random composite" button
# The decision threshold and top-k (0 = use the threshold) in session state; the threshold's is
# also the key of its slider on a page that decides on the server (older commits).
THRESHOLD = "threshold"
TOP_K = "top_k"
# The decisions panel (`demo.ui.decisions`), a component that decides in the browser and sends the
# rule back, debounced, as its state {"rule": {"threshold": ..., "top_k": ...}}.
DECISIONS = "decisions"
DECISIONS_RULE = "rule"

# The loss lab (`demo.app_pages.lab`)
LAB_TRAIN = "lab_train"  # the Train button
LAB_BUSY = "Busy: other students' runs are training right now. Press Train again."  # its warning

# A class room (`demo.app_pages.room`)
ROOM_GUESS = "room_guess_{step}"  # a student's answer to step `step`'s question (st.pills)
FOLLOW_EVERY = "2s"  # the timer of the fragment by which a student's page follows the teacher


def room_guess(step: int) -> str:
    """The key of a student's answer to lesson step `step` (numbered from 1)."""
    return ROOM_GUESS.format(step=step)


def every_seconds(every: str) -> float:
    """Seconds of a fragment timer written as Streamlit's `run_every` takes it ("2s")."""
    return float(every.removesuffix("s"))
