"""The keyboard alone, in Chromium: a student answers a lesson question and reveals it with Tab,
Space and Enter, and moves the free page's threshold, always seeing where the focus is."""

from __future__ import annotations

import pytest
from conftest import ARTIFACTS, BROWSER_TEST, IDLE, app_served_in
from test_browser import wait_for_text

from demo import lesson

pytestmark = BROWSER_TEST
MOST_TABS = 60  # more than the controls of any page
# What a student operates (a scrolling container that takes the focus is not one of them).
CONTROLS = ("A", "BUTTON", "INPUT", "SELECT", "TEXTAREA")
ROLES = ("button", "checkbox", "combobox", "link", "option", "radio", "slider", "switch", "tab")

# The focused element: its text, role and whether something shows the focus (an outline or a
# ring drawn with a box shadow, on it or on the label that wraps a hidden input).
FOCUSED = """() => {
    const element = document.activeElement;
    const shows = node => {
        if (!node) return false;
        const style = getComputedStyle(node);
        const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
        return outline || (style.boxShadow && style.boxShadow !== 'none');
    };
    let visible = false;
    for (let node = element, depth = 0; node && depth < 4; node = node.parentElement, depth++) {
        visible = visible || shows(node);
    }
    return {text: (element.innerText || element.getAttribute('aria-label') || '').trim(),
            tag: element.tagName, visible, role: element.getAttribute('role') || '',
            className: String(element.className || '')};
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keyboard")
    with app_served_in(folder) as url:
        yield url


def tab_to(page, wanted) -> dict:
    """Press Tab until `wanted(focused)` holds; every stop on the way must show its focus."""
    for _ in range(MOST_TABS):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused["tag"] in CONTROLS or focused["role"] in ROLES:
            assert focused["visible"], f"no visible focus on {focused}"
        if wanted(focused):
            return focused
    pytest.fail(f"Tab never reached the control ({MOST_TABS} presses)")


def test_a_lesson_question_answered_and_revealed_with_the_keyboard(server, chromium):
    number, step = next(
        (n, s) for n, s in enumerate(lesson.STEPS, 1) if s.question and not s.question.several
    )
    page = chromium.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{server}/?step={number}")
    wait_for_text(page, step.title)
    page.wait_for_selector(IDLE, timeout=180_000)
    choice = step.question.choices[0]
    tab_to(page, lambda focused: focused["text"] == choice)
    page.keyboard.press("Space")
    page.wait_for_selector(IDLE, timeout=90_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('button')].some(b => b.innerText.trim() === "
        "'Reveal' && !b.disabled)",
        timeout=90_000,
    )
    tab_to(page, lambda focused: focused["text"] == "Reveal")
    page.screenshot(path=str(ARTIFACTS / "keyboard-reveal-focused.png"))
    page.keyboard.press("Enter")
    wait_for_text(page, "the answer is")
    assert f"You said {choice}" in page.inner_text("body")
    page.close()


def test_the_threshold_is_reached_with_tab_and_moved_with_the_arrows(server, chromium):
    page = chromium.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{server}/?c0=frog&c1=truck&c2=bird&c3=horse&t=0.50")
    page.locator(".ml-model").first.wait_for(timeout=180_000)
    page.wait_for_selector(IDLE, timeout=90_000)
    tab_to(page, lambda focused: "ml-threshold" in focused["className"])
    for _ in range(5):
        page.keyboard.press("ArrowLeft")
    assert page.locator(".ml-threshold-value").inner_text() == "0.45"
    page.screenshot(path=str(ARTIFACTS / "keyboard-threshold-focused.png"))
    page.close()
