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
CAMERA_PHOTO = "camera_photo"  # the camera's photo (st.camera_input)
SOURCE = "source"  # where the image comes from: CIFAR-10 tiles, an upload, the camera
DATA = "data"  # the training-data family shown
VIEW = "view"  # all the family's models, or one kind
UPLOAD_WHOLE = "upload_whole"  # one uploaded image
CAM_CLASS = "cam_class"  # the class whose activation maps are shown
WHY_CCE = "why_cce"  # the toggle of the scale experiment
CCE_SCALE = "cce_scale"  # its slider
LANGUAGE_CHOICE = "lang_choice"  # the language switch

# The lesson (`demo.app_pages.lesson`)
LESSON_BACK = "lesson_back"
LESSON_NEXT = "lesson_next"
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
# After the lesson (`demo.ui.room_summary`): the teacher's buttons to the class's summary and
# back, and the downloads of the class's record.
ROOM_SUMMARY = "room_summary"
ROOM_SUMMARY_BACK = "room_summary_back"
ROOM_RECORD_CSV = "room_record_csv"
ROOM_RECORD_JSON = "room_record_json"
# The teacher's tools against a flood of joiners: how many minutes back, and the two removals.
ROOM_REMOVE_MINUTES = "room_remove_minutes"
ROOM_REMOVE_RECENT = "room_remove_recent"
ROOM_REMOVE_SILENT = "room_remove_silent"


def room_guess(step: int) -> str:
    """The key of a student's answer to lesson step `step` (numbered from 1)."""
    return ROOM_GUESS.format(step=step)


def every_seconds(every: str) -> float:
    """Seconds of a fragment timer written as Streamlit's `run_every` takes it ("2s")."""
    return float(every.removesuffix("s"))


def class_key(quadrant: int) -> str:
    """The key of the class picker of `quadrant` (0..3: top-left, top-right, bottom-left, ...)."""
    return f"class_{quadrant}"


def sample_key(quadrant: int) -> str:
    """The key of the gallery image number of `quadrant`."""
    return f"sample_{quadrant}"


def upload_tile_key(quadrant: int) -> str:
    return f"upload_tile_{quadrant}"


def lesson_guess(slug: str) -> str:
    """The key of a lesson step's answer (the step's slug names it)."""
    return f"guess_{slug}"


def lesson_reveal(slug: str) -> str:
    return f"reveal_{slug}"
