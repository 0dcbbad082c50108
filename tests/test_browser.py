"""A real browser: `streamlit run demo/app.py` driven by Playwright in Debian's Chromium."""

from __future__ import annotations

import os
import time

import pytest
from conftest import ARTIFACTS, BROWSER_TEST, IDLE, app_served_in

pytestmark = BROWSER_TEST


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("server")
    with app_served_in(folder) as url:
        yield url


def wait_for_query(page, fragment: str) -> None:
    """Wait until the app has written `fragment` into the address (fails after 90 s)."""
    page.wait_for_function(f"() => window.location.search.includes({fragment!r})", timeout=90_000)


def wait_for_text(page, text: str) -> None:
    page.wait_for_function(f"() => document.body.innerText.includes({text!r})", timeout=90_000)


RECORD_RUNS = """() => {
    window.scriptRuns = [];
    const app = document.querySelector('[data-testid="stApp"]');
    new MutationObserver(() => window.scriptRuns.push(app.dataset.testScriptState))
        .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""

# What the decisions panel shows, read in one call: the rule, and per model its outputs, each
# class's outcome and bar colour, its predicted set; and the script runs seen so far.
READ_PANEL = """() => ({
    runs: window.scriptRuns.length,
    threshold: document.querySelector('.ml-threshold-value').textContent,
    models: [...document.querySelectorAll('.ml-model')].map(model => ({
        outputs: [...model.querySelectorAll('tr[data-output]')].map(r => +r.dataset.output),
        outcomes: [...model.querySelectorAll('tr[data-output]')].map(r => r.dataset.outcome),
        colours: [...model.querySelectorAll('.ml-bar')]
            .map(bar => getComputedStyle(bar).backgroundColor),
        predicted: model.querySelector('[data-predicted]').dataset.predicted,
    })),
})"""


def rgb(hex_colour: str) -> str:
    red, green, blue = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"


def assert_the_panel_follows_the_rule(shown: dict, truth: list[str], threshold, top_k) -> None:
    """Every model's predicted set, outcomes and bar colours are those of `core.evaluation`'s
    rule applied to the outputs the browser holds."""
    import numpy as np

    from core import evaluation
    from core.data import CLASS_NAMES
    from demo.charts import OUTCOME_COLOURS

    present = np.array([name in truth for name in CLASS_NAMES])
    for model in shown["models"]:
        outputs = np.array(model["outputs"])
        if top_k:
            decided = evaluation.top_k(outputs[None], top_k)[0]
        else:
            decided = evaluation.decide(outputs, threshold)
        outcomes = evaluation.outcomes(present, decided)
        assert model["outcomes"] == outcomes
        assert model["colours"] == [rgb(OUTCOME_COLOURS[outcome]) for outcome in outcomes]
        chosen = [name for name, kept in zip(CLASS_NAMES, decided, strict=True) if kept]
        assert model["predicted"] == ",".join(chosen)


def rerun_requests(sent: list) -> list:
    """The script runs the browser asked for among the websocket frames it `sent`."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    requests = []
    for payload in sent:
        message = BackMsg()
        message.ParseFromString(payload if isinstance(payload, bytes) else payload.encode())
        if message.WhichOneof("type") == "rerun_script":
            requests.append(message.rerun_script)
    return requests


def test_compose_threshold_and_panel_in_a_real_browser(server, chromium):
    ARTIFACTS.mkdir(exist_ok=True)
    page = chromium.new_page(viewport={"width": 1280, "height": 720})
    sent = []
    page.on("websocket", lambda socket: socket.on("framesent", lambda frame: sent.append(frame)))
    page.goto(f"{server}/?c0=frog&c1=truck&c2=bird&c3=horse&t=0.50")
    wait_for_text(page, "True label set:")
    page.wait_for_selector(IDLE, timeout=180_000)
    page.locator(".ml-model").first.wait_for(timeout=90_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator(".ml-model").count() == 3
    assert "`frog`" not in page.content()  # markdown is rendered, not shown raw
    labels = page.locator('[data-testid="stMarkdownContainer"]', has_text="True label set:")
    truth = labels.inner_text().split(":", 1)[1].replace(",", " ").split()
    assert truth == ["bird", "frog", "horse", "truck"]
    page.evaluate(RECORD_RUNS)
    assert_the_panel_follows_the_rule(page.evaluate(READ_PANEL), truth, 0.5, 0)
    page.screenshot(path=str(ARTIFACTS / "app-initial.png"))

    # Pick another class for the top-left quadrant: the label set and the address follow.
    page.locator('[data-testid="stSelectbox"]').first.click()
    page.keyboard.type("ship")  # the list is searchable; typing is what a student does
    page.keyboard.press("Enter")
    wait_for_query(page, "c0=ship")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=stMarkdownContainer]')].some("
        "e => e.innerText.startsWith('True label set:') && e.innerText.includes('ship')"
        " && !e.innerText.includes('frog'))",
        timeout=90_000,
    )
    page.wait_for_selector(IDLE, timeout=90_000)
    truth = ["bird", "horse", "ship", "truck"]

    # Move the threshold with the keyboard: every model re-decides in the page while the
    # browser asks the server for nothing; once the slider is still, one run of the panel's
    # fragment puts the threshold in the address.
    page.evaluate(RECORD_RUNS)
    before = len(rerun_requests(sent))
    slider = page.locator(".ml-threshold")
    slider.focus()
    for _ in range(20):
        slider.press("ArrowRight")
    moved = page.evaluate(READ_PANEL)
    assert moved["runs"] == 0 and len(rerun_requests(sent)) == before
    assert moved["threshold"] == "0.70"
    assert_the_panel_follows_the_rule(moved, truth, 0.70, 0)
    wait_for_query(page, "t=0.70")
    page.wait_for_selector(IDLE, timeout=90_000)
    (sync,) = rerun_requests(sent)[before:]
    assert sync.fragment_id  # the panel's fragment alone, not the page

    # Top-k 3: exactly three classes each, again decided in the page.
    page.evaluate(RECORD_RUNS)
    before = len(rerun_requests(sent))
    page.locator(".ml-top-k").fill("3")
    ranked = page.evaluate(READ_PANEL)
    assert ranked["runs"] == 0 and len(rerun_requests(sent)) == before
    assert_the_panel_follows_the_rule(ranked, truth, 0.70, 3)
    assert all(len(model["predicted"].split(",")) == 3 for model in ranked["models"])
    wait_for_query(page, "k=3")
    page.wait_for_selector(IDLE, timeout=90_000)
    assert len(rerun_requests(sent)[before:]) == 1
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(ARTIFACTS / "app-after-interaction.png"), full_page=True)

    # The copied address opens the same rule.
    address = page.evaluate("() => window.location.href")
    other = chromium.new_page(viewport={"width": 1280, "height": 720})
    other.goto(address)
    other.locator(".ml-model").first.wait_for(timeout=90_000)
    other.wait_for_selector(IDLE, timeout=90_000)
    assert other.locator(".ml-threshold").input_value() == "0.7"
    assert other.locator(".ml-top-k").input_value() == "3"
    other.evaluate(RECORD_RUNS)
    assert_the_panel_follows_the_rule(other.evaluate(READ_PANEL), truth, 0.70, 3)
    other.close()
    page.close()


def below_the_fold(page, selector: str) -> bool:
    """Whether the first element matching `selector` ends below a 720-pixel screen."""
    box = page.locator(selector).first.bounding_box()
    return box is None or box["y"] + box["height"] > 720


def test_a_teacher_walks_the_whole_lesson_at_projector_size(server, chromium):
    from demo.lesson import STEPS

    ARTIFACTS.mkdir(exist_ok=True)
    page = chromium.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{server}/?step=1")
    for number, step in enumerate(STEPS, start=1):
        wait_for_text(page, f"Step {number} of {len(STEPS)}: {step.title}")
        page.wait_for_selector(IDLE, timeout=180_000)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert not below_the_fold(page, '[data-testid="stImage"]')
        if step.question is not None:
            # Nothing of the answer before the reveal: no chart, no verdict.
            assert page.locator('[data-testid="stVegaLiteChart"], .ml-model').count() == 0
            assert "the answer is" not in page.inner_text("body")
            group = page.locator('[data-testid="stButtonGroup"]').first
            group.locator("button").first.click()
            page.wait_for_selector(IDLE, timeout=90_000)
            page.get_by_role("button", name="Reveal").click()
            wait_for_text(page, "the answer is")
            page.wait_for_selector(IDLE, timeout=90_000)
            verdict = page.get_by_text("the answer is").first
            verdict.wait_for(timeout=90_000)
        if "bars" in step.panels:
            page.locator(".ml-model").first.wait_for(timeout=90_000)
        page.screenshot(path=str(ARTIFACTS / f"lesson-step-{number}.png"))
        if "bars" in step.panels:
            assert not below_the_fold(page, ".ml-model tbody")
        if number < len(STEPS):
            page.get_by_role("button", name="Next").click()
            wait_for_query(page, f"step={number + 1}")
    page.get_by_role("button", name="Back").click()
    wait_for_query(page, f"step={len(STEPS) - 1}")
    page.close()


def test_a_student_whose_worker_is_killed_comes_back_to_the_same_page(tmp_path, chromium):
    """Through deploy/serve-local: kill -9 the worker that serves the page (named by the
    balancer's cookie); the browser reconnects to the other worker and rebuilds the page."""
    import shutil
    import signal

    from playwright.sync_api import expect
    from test_serving import serve_local, worker_pid

    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed")
    ARTIFACTS.mkdir(exist_ok=True)
    query = "c0=frog&c1=truck&c2=bird&c3=horse&s0=3&t=0.40&data=one-to-four"
    with serve_local(tmp_path / "serve-local.log") as (_, port):
        context = chromium.new_context(viewport={"width": 1280, "height": 720})
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{port}/?{query}")
        wait_for_text(page, "True label set:")
        page.wait_for_selector(IDLE, timeout=180_000)
        served_by = {c["name"]: c["value"] for c in context.cookies()}["SERVEDBY"]
        number = int(served_by.removeprefix("worker"))
        # Record every script run from now on: a run after the kill can only be the other
        # worker's, rebuilding the page for the reconnected client.
        page.evaluate(RECORD_RUNS)
        os.kill(worker_pid(port + number), signal.SIGKILL)
        killed_at = time.monotonic()
        page.wait_for_function("() => window.scriptRuns.includes('running')", timeout=90_000)
        page.wait_for_selector(IDLE, timeout=90_000)
        back_after = time.monotonic() - killed_at
        served_now = {c["name"]: c["value"] for c in context.cookies()}["SERVEDBY"]
        page.screenshot(path=str(ARTIFACTS / "after-worker-killed.png"))
        assert served_now != served_by
        wait_for_text(page, "True label set:")
        page.locator('[data-testid="stImage"] img').first.wait_for(timeout=90_000)
        labels = page.locator('[data-testid="stMarkdownContainer"]', has_text="True label set:")
        shown = labels.first.inner_text().split(":", 1)[1].replace(",", " ").split()
        assert shown == ["bird", "frog", "horse", "truck"]
        expect(page.locator(".ml-threshold-value")).to_have_text("0.40")
        assert "data=one-to-four" in page.url and "t=0.40" in page.url
        assert page.locator('[data-testid="stException"]').count() == 0
        print(f"back on another worker {back_after:.1f} s after the kill")
        context.close()
