"""The classroom benchmark's pure parts: what a threshold move sends, the wire client's reading
of a page, the report's figures, and the shared keys against the pages that define them."""

from __future__ import annotations

import asyncio
import math
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # bench/ is not installed: the repository's root holds it

from bench import report, students  # noqa: E402
from bench.browser import StudentPage  # noqa: E402
from bench.server import Load  # noqa: E402
from bench.tally import Answered, ErrorEvent, Tally  # noqa: E402
from demo import keys, rooms  # noqa: E402
from demo.serve import wire  # noqa: E402


def element_delta(kind: str, fragment_id: str = "", **fields):
    """A ForwardMsg delta drawing one new element of `kind`."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    message = ForwardMsg()
    message.delta.fragment_id = fragment_id
    body = getattr(message.delta.new_element, kind)
    for name, value in fields.items():
        setattr(body, name, value)
    return message


class FakeSocket:
    """A websocket that answers every request with the messages it was given."""

    def __init__(self, *messages):
        self.replies = [message.SerializeToString() for message in messages]
        self.sent: list[bytes] = []

    async def send(self, data: bytes) -> None:
        self.sent.append(data)

    async def recv(self) -> bytes:
        return self.replies.pop(0)


def finished(status: str = wire.FINISHED):
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    message = ForwardMsg()
    message.script_finished = ForwardMsg.ScriptFinishedStatus.Value(status)
    return message


def page_with(*widgets: wire.Widget) -> wire.Session:
    page = wire.Session(FakeSocket())
    page.widgets = {wire.widget_key(widget.id): widget for widget in widgets}
    return page


SLIDER = wire.Widget(f"$$ID-abc123-{keys.THRESHOLD}", "slider", "fragment-7")
RANDOM = wire.Widget(f"$$ID-def456-{keys.RANDOM_COMPOSITE}", "button", "fragment-3")


PANEL = wire.Widget(f"$$ID-fed789-{keys.DECISIONS}", "bidi_component", "fragment-9")


def test_a_threshold_slider_gets_its_new_value_with_its_fragment():
    state, fragment_id, in_browser = students.threshold_move(page_with(SLIDER, RANDOM), 0.42)
    assert (state.id, list(state.double_array_value.data)) == (SLIDER.id, [0.42])
    assert fragment_id == "fragment-7" and not in_browser


def test_the_decisions_panel_decides_in_the_browser_and_syncs_its_rule():
    import json

    state, fragment_id, in_browser = students.threshold_move(page_with(PANEL, RANDOM), 0.42)
    assert state.id == PANEL.id and fragment_id == "fragment-9" and in_browser
    assert json.loads(state.json_value) == {"rule": {"threshold": 0.42, "top_k": 0}}


@pytest.mark.parametrize(
    "widgets",
    [(RANDOM,), (RANDOM, wire.Widget(f"$$ID-0-{keys.THRESHOLD}", "bidi_component", ""))],
    ids=["no threshold control", "a threshold key that is no slider"],
)
def test_without_a_threshold_control_there_is_no_move(widgets):
    assert students.threshold_move(page_with(*widgets), 0.42) is None


class ThresholdDraw:
    """A student's random draws that always choose a threshold move."""

    def random(self) -> float:
        return 0.9  # >= 0.5: the threshold, not a new composite

    def uniform(self, low: float, high: float) -> float:
        return (low + high) / 2


def test_a_move_in_the_browser_is_counted_apart_and_its_sync_timed_apart():
    from streamlit.proto.BackMsg_pb2 import BackMsg

    socket = FakeSocket(finished(wire.FRAGMENT_FINISHED))
    page = StudentPage(socket, Tally())
    page.widgets = {keys.RANDOM_COMPOSITE: RANDOM, keys.DECISIONS: PANEL}
    assert asyncio.run(students.interact(page, ThresholdDraw())) is True
    assert page.tally.browser_moves == 1 and len(page.tally.threshold_syncs) == 1
    assert page.tally.threshold_moves == []
    assert BackMsg.FromString(socket.sent[0]).rerun_script.fragment_id == PANEL.fragment_id


def test_a_page_without_a_threshold_control_is_an_error_and_sends_nothing():
    socket = FakeSocket()
    page = StudentPage(socket, Tally())
    page.widgets = {keys.RANDOM_COMPOSITE: RANDOM}
    assert asyncio.run(students.interact(page, ThresholdDraw())) is False
    assert page.tally.errors == {"page incomplete": 1} and socket.sent == []


def test_a_slider_move_is_sent_and_timed():
    from streamlit.proto.BackMsg_pb2 import BackMsg

    socket = FakeSocket(finished(wire.FRAGMENT_FINISHED))
    page = StudentPage(socket, Tally())
    page.widgets = {keys.RANDOM_COMPOSITE: RANDOM, keys.THRESHOLD: SLIDER}
    assert asyncio.run(students.interact(page, ThresholdDraw())) is True
    request = BackMsg.FromString(socket.sent[0]).rerun_script
    assert request.fragment_id == SLIDER.fragment_id
    assert list(request.widget_states.widgets[0].double_array_value.data) == [0.5]
    assert len(page.tally.threshold_moves) == 1 and page.tally.browser_moves == 0


def test_widget_keys_come_from_widget_ids():
    assert wire.widget_key("$$ID-0123abcd-room_guess_1") == "room_guess_1"
    assert wire.widget_key("$$ID-0123abcd-a-key-with-dashes") == "a-key-with-dashes"
    assert wire.widget_key("$$ID-0123abcd-None") is None  # a widget without a key
    assert wire.widget_key("fragment-1") is None


def test_a_session_records_widgets_images_timers_and_reads_past_a_rerun():
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    timer = ForwardMsg()
    timer.auto_rerun.interval, timer.auto_rerun.fragment_id = 2.0, "follow"
    slider = element_delta("slider", "decide", id=SLIDER.id)
    socket = FakeSocket(finished(wire.EARLY_FOR_RERUN), slider, timer, finished())
    page = wire.Session(socket, query="c0=frog")
    assert asyncio.run(page.run()) == wire.FINISHED
    assert page.widgets == {keys.THRESHOLD: wire.Widget(SLIDER.id, "slider", "decide")}
    assert page.timers == {"follow": 2.0}
    from streamlit.proto.BackMsg_pb2 import BackMsg

    request = BackMsg.FromString(socket.sent[0])
    assert request.rerun_script.query_string == "c0=frog"


def test_the_warmup_does_not_read_past_a_stopped_run():
    page = wire.Session(FakeSocket(finished(wire.EARLY_FOR_RERUN)))
    assert asyncio.run(page.run(past_reruns=False)) == wire.EARLY_FOR_RERUN


def test_the_teacher_count_is_read_with_the_rooms_parser_and_errors_are_counted():
    tally = Tally()
    count = rooms.TALLY_TEXT.format(joined=7, answered=5)
    socket = FakeSocket(
        element_delta("markdown", "tally", body=count),
        element_delta("markdown", "", body="**7 joined**, 5 answered"),  # another text
        finished("FINISHED_WITH_COMPILE_ERROR"),
    )
    page = StudentPage(socket, tally)
    assert asyncio.run(page.send()) is False
    assert (page.teacher_count, page.teacher_count_fragment) == (5, "tally")
    assert tally.errors == {"failed script run": 1}


def test_server_cpu_per_second_of_class_beside_cpu_per_run():
    tally = Tally(page_loads=[0.1, 0.1], new_composites=[0.2], threshold_moves=[0.01])
    load = Load(900, 950, 940, cpu_seconds=3.0, wall_seconds=12.0)
    result = report.ClassResult(2, tally, load, students_cpu_seconds=1.0)
    assert result.runs == 4 and result.server_cpu_per_run == pytest.approx(0.75)
    assert load.cpu_per_second == pytest.approx(0.25)
    row = report.class_table(1, 900, [result], []).splitlines()[-1]
    assert row.split("|")[7:9] == [" 750 ms ", " 0.25 "]
    assert math.isnan(Load(0, 0, 0, 1.0, 0.0).cpu_per_second)


def test_the_threshold_column_says_in_the_browser_with_the_count():
    assert report.threshold_timing(Tally(browser_moves=4)) == "in the browser (4)"
    assert report.threshold_timing(Tally(threshold_moves=[0.01, 0.02])) == "15 / 20 / 20"
    assert report.threshold_timing(Tally()) == report.NONE
    assert "in the browser (4)" in report.class_line(
        1, report.ClassResult(1, Tally(browser_moves=4), Load(1, 1, 1, 1, 1), 0.0)
    )


def test_the_soak_blames_the_killed_worker_only_after_the_kill():
    tally = Tally(
        answered_log=[Answered(10.0, 0.1), Answered(70.0, 0.2)],
        error_log=[
            ErrorEvent(20.0, "dropped socket", "worker1"),  # before the kill: unexpected
            ErrorEvent(65.0, "dropped socket", "worker1"),  # after it, on it: expected
            ErrorEvent(66.0, "dropped socket", "worker2"),  # another worker: unexpected
        ],
    )
    minutes = [
        report.SoakMinute(1, 60.0, {"worker1": 900.0, "worker2": 910.0}),
        report.SoakMinute(2, 120.0, {"worker1": 905.0, "worker2": 912.0}),
    ]
    table, unexpected = report.soak_table(minutes, report.Kill("worker1", 61.0), tally)
    assert unexpected == 2
    assert "| 1 | 1 | 100 | 1 | 0 | 900 | 910 |" in table
    assert "| 2 | 1 | 200 | 1 | 1 | 905 | 912 |" in table
    assert "worker1 +5.0 MiB/min" in table and "killed with SIGKILL in minute 2" in table


def test_the_lab_table_without_a_single_training_says_so():
    row = report.lab_table(1, 2, 0, 10, Tally(busy_refusals=3)).splitlines()[-1]
    assert row.split("|")[2:6] == [" – ", " – ", " 0 ", " 3 "]


def test_the_shared_keys_are_the_pages_where_the_page_imports_none_yet():
    from demo import lesson
    from demo.app_pages import lab as lab_page

    assert keys.LAB_TRAIN == lab_page.TRAIN_KEY
    assert keys.LAB_BUSY == lab_page.BUSY_MESSAGE
    assert keys.room_guess(3) == "room_guess_3"
    assert keys.every_seconds(keys.FOLLOW_EVERY) == 2.0
    assert lesson.STEPS[0].question is not None  # the room's answers are its choices
