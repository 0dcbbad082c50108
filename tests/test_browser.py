"""A real browser: `streamlit run demo/app.py` driven by Playwright in Debian's Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):

    folder = os.environ.get("MULTILABEL_MODELS_DIR")
    if folder is None and not (REPO / "models" / "bce.keras").exists():
        folder = str(make_models(tmp_path_factory.mktemp("browser-models")))
    port = free_port()
    env = dict(os.environ)
    if folder:
        env["MULTILABEL_MODELS_DIR"] = folder
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    with open(log, "w") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "demo/app.py",
                "--server.headless",
                "true",
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
            ],
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read().decode().strip() == "ok":
                        break
            except OSError:
                pass
            if time.time() > deadline or process.poll() is not None:
                pytest.fail(f"streamlit did not start:\n{log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def make_models(folder: Path) -> Path:
    import keras

    from core.model import build_model

    keras.utils.set_random_seed(0)
    for name in ("bce", "cce"):
        build_model().save(folder / f"{name}.keras")
    return folder


def wait_for_query(page, fragment: str) -> None:
    """Wait until the app has written `fragment` into the address (fails after 90 s)."""
    page.wait_for_function(f"() => window.location.search.includes({fragment!r})", timeout=90_000)


def wait_for_text(page, text: str) -> None:
    page.wait_for_function(f"() => document.body.innerText.includes({text!r})", timeout=90_000)


def test_compose_threshold_and_charts_in_a_real_browser(server):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 720})
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
        browser.close()
