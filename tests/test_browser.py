"""A real browser: `streamlit run demo/app.py` driven by Playwright in Debian's Chromium."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from conftest import streamlit_server

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("server")
    with streamlit_server(folder / "streamlit.log", {"MULTILABEL_DATA_DIR": str(folder)}) as url:
        yield url


def wait_for_query(page, fragment: str) -> None:
    """Wait until the app has written `fragment` into the address (fails after 90 s)."""
    page.wait_for_function(f"() => window.location.search.includes({fragment!r})", timeout=90_000)


def wait_for_text(page, text: str) -> None:
    page.wait_for_function(f"() => document.body.innerText.includes({text!r})", timeout=90_000)


def test_compose_threshold_and_charts_in_a_real_browser(server, chromium):
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    page = chromium.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{server}/?c0=frog&c1=truck&c2=bird&c3=horse&t=0.50")
    wait_for_text(page, "True label set:")
    page.wait_for_selector(IDLE, timeout=180_000)
    charts = page.locator(
        '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg'
    )
    charts.first.wait_for(timeout=90_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert "`frog`" not in page.content()  # markdown is rendered, not shown raw
    labels = page.locator('[data-testid="stMarkdownContainer"]', has_text="True label set:")
    shown = labels.inner_text().split(":", 1)[1].replace(",", " ").split()
    assert shown == ["bird", "frog", "horse", "truck"]
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

    # Move the threshold slider with the keyboard: the address and the slider follow.
    slider = page.get_by_role("slider").first
    slider.focus()
    for _ in range(10):
        slider.press("ArrowRight")
    wait_for_query(page, "t=0.60")
    expect(page.get_by_test_id("stSliderThumbValue").first).to_have_text("0.60")
    page.wait_for_selector(IDLE, timeout=90_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert charts.count() >= 2
    page.screenshot(path=str(ARTIFACTS / "app-after-interaction.png"), full_page=True)
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
            assert page.locator('[data-testid="stVegaLiteChart"]').count() == 0
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
            page.locator('[data-testid="stVegaLiteChart"]').first.wait_for(timeout=90_000)
        page.screenshot(path=str(ARTIFACTS / f"lesson-step-{number}.png"))
        if "bars" in step.panels:
            assert not below_the_fold(page, '[data-testid="stVegaLiteChart"]')
        if number < len(STEPS):
            page.get_by_role("button", name="Next").click()
            wait_for_query(page, f"step={number + 1}")
    page.get_by_role("button", name="Back").click()
    wait_for_query(page, f"step={len(STEPS) - 1}")
    page.close()


RECORD_RUNS = """() => {
    window.scriptRuns = [];
    const app = document.querySelector('[data-testid="stApp"]');
    new MutationObserver(() => window.scriptRuns.push(app.dataset.testScriptState))
        .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""


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
        expect(page.get_by_test_id("stSliderThumbValue").first).to_have_text("0.40")
        assert "data=one-to-four" in page.url and "t=0.40" in page.url
        assert page.locator('[data-testid="stException"]').count() == 0
        print(f"back on another worker {back_after:.1f} s after the kill")
        context.close()
