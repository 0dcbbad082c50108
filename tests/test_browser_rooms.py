"""A class room in real Chromium, tried as a room of students with phones would: the projected
address and text, a second browser, two tabs, another student's address, Back and reload."""

from __future__ import annotations

import re

import pytest
from conftest import ARTIFACTS, BROWSER_TEST, IDLE, app_served_in
from test_browser import wait_for_text

from demo import rooms
from demo.rooms.sqlite_store import SQLiteStore

pytestmark = BROWSER_TEST
PIN = "teach2026"
TEACHER_BUTTONS = (
    "Back",
    "Next",
    "Reveal",
    "Close room",
    "Reopen room",
    "Lock joining",
    "Let new students join",
)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rooms")
    with app_served_in(folder) as url:
        yield url, SQLiteStore(folder / "rooms.sqlite3")


def settled(page) -> None:
    page.wait_for_selector(IDLE, timeout=120_000)


def teacher_buttons(page) -> list[str]:
    return [name for name in TEACHER_BUTTONS if page.get_by_role("button", name=name).count()]


def start_a_room(context, url: str):
    """(page, code): a teacher's page that started a room from the start form."""
    page = context.new_page()
    page.goto(f"{url}/?room=new")
    settled(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "room-start.png"))
    page.get_by_label("Choose a teacher PIN (6 or more letters or digits)", exact=True).fill(PIN)
    page.get_by_role("button", name="Start a room").click()
    wait_for_text(page, "Scan to join")
    settled(page)
    code = re.search(r"room=([A-Z0-9]{5})$", page.url)[1]
    return page, code


def browser_of(context) -> str:
    """The browser id the server signed into `context`'s cookie."""
    token = next(c["value"] for c in context.cookies() if c["name"] == rooms.BROWSER_COOKIE)
    return token.partition(".")[0]


def answer(page, choice: str) -> None:
    page.locator('[data-testid="stButtonGroup"] button', has_text=re.compile(f"^{choice}$")).click()
    wait_for_text(page, "Your answer is counted")
    settled(page)


def test_the_projected_address_and_text_give_a_second_browser_no_control(served, chromium):
    url, store = served
    teacher, code = start_a_room(chromium.new_context(viewport={"width": 1280, "height": 720}), url)
    assert teacher.url.endswith(f"/room?room={code}")  # no key, nothing secret in the address
    assert teacher_buttons(teacher) == ["Back", "Next", "Reveal", "Close room", "Lock joining"]
    ARTIFACTS.mkdir(exist_ok=True)
    teacher.screenshot(path=str(ARTIFACTS / "room-teacher.png"))
    shown = teacher.inner_text("body")
    links = [m for m in re.findall(r"https?://\S+", shown)] + [teacher.url]
    student = chromium.new_context(viewport={"width": 390, "height": 844}).new_page()
    for address in links:
        student.goto(address)
        wait_for_text(student, "Step 1 of")
        settled(student)
        assert teacher_buttons(student) == [], address
    student.screenshot(path=str(ARTIFACTS / "room-student-phone.png"))
    student.get_by_text("I am this room's teacher").click()
    for guess in ("123456", code, "000000", "teach2025", "password", PIN):
        student.get_by_label("The room's teacher PIN").fill(guess)
        student.get_by_role("button", name="Sign in").click()
        wait_for_text(student, "PIN")
        settled(student)
    wait_for_text(student, "Too many tries from this network address")  # the guesser waits
    assert teacher_buttons(student) == []
    teacher.reload()  # the teacher's own browser still leads, from its cookie
    wait_for_text(teacher, "Scan to join")
    assert "Next" in teacher_buttons(teacher)


def test_two_tabs_count_once_and_another_student_s_address_changes_nothing(served, chromium):
    url, store = served
    _, code = start_a_room(chromium.new_context(viewport={"width": 1280, "height": 720}), url)
    alice = chromium.new_context()
    first = alice.new_page()
    first.goto(f"{url}/?room={code}")
    wait_for_text(first, "Step 1 of")
    answer(first, "3")
    second = alice.new_page()  # a second tab of the same browser
    second.goto(f"{url}/?room={code}")
    wait_for_text(second, "Your answer is counted")
    answer(second, "4 or more")
    assert store.tally(code, 1) == {"4 or more": 1} and store.joined(code) == 1
    bob = chromium.new_context().new_page()  # opens Alice's address, id and all
    bob.goto(f"{first.url}&me={browser_of(alice)}")
    wait_for_text(bob, "Choose your answer")
    answer(bob, "0")
    assert store.tally(code, 1) == {"4 or more": 1, "0": 1} and store.joined(code) == 2
    assert store.answer_of(code, 1, browser_of(alice)) == "4 or more"


def test_back_and_reload_on_the_teacher_s_page_create_no_room(served, chromium):
    url, store = served
    context = chromium.new_context(viewport={"width": 1280, "height": 720})
    teacher, code = start_a_room(context, url)
    mine = store.rooms_of(browser_of(context))
    teacher.go_back()
    wait_for_text(teacher, "Start a class room")
    settled(teacher)
    teacher.reload()
    wait_for_text(teacher, "Start a class room")
    settled(teacher)
    assert store.rooms_of(browser_of(context)) == mine == [code]
    teacher.go_forward()
    wait_for_text(teacher, "Scan to join")
    assert "Next" in teacher_buttons(teacher)
    assert rooms.normal_code(code) == code


# A student's page on a phone: where the question and the choices are, how big, how they are
# reached (the texts are the label's paragraph, the pills' buttons and their paragraphs).
PHONE = {"width": 390, "height": 844}
PHONE_LAYOUT = """() => {
    const box = node => {
        const rect = node.getBoundingClientRect();
        return {text: node.innerText.trim(), top: rect.top, bottom: rect.bottom,
                height: rect.height, width: rect.width,
                font: parseFloat(getComputedStyle(node).fontSize)};
    };
    const group = document.querySelector('[data-testid="stButtonGroup"]');
    const label = group.querySelector('[data-testid="stWidgetLabel"]');
    return {question: box(label.querySelector('p') || label),
            choices: [...group.querySelectorAll('button')].map(button => ({
                ...box(button), textFont: parseFloat(getComputedStyle(
                    button.querySelector('p') || button).fontSize)}))};
}"""
FOCUS = """() => {
    const element = document.activeElement;
    const shows = node => {
        const style = getComputedStyle(node);
        return (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0)
            || (style.boxShadow && style.boxShadow !== 'none');
    };
    return {text: (element.innerText || '').trim(), tag: element.tagName,
            visible: shows(element)};
}"""


def wait_until(page, condition, seconds: float = 30) -> None:
    """Let `page` run until `condition()` holds (a store that the page writes to, say)."""
    for _ in range(int(seconds * 4)):
        if condition():
            return
        page.wait_for_timeout(250)
    assert condition()


def in_language(language: str, message: str) -> str:
    from demo import i18n

    return i18n.translations(language).gettext(message)


def has_catalog(language: str) -> bool:
    from demo import i18n

    catalog = i18n.LOCALES / language / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
    return language == i18n.SOURCE_LANGUAGE or catalog.exists()


@pytest.mark.parametrize("language", ["en", "ja"])
def test_a_student_s_phone_shows_the_question_above_the_fold_and_answers_by_keyboard(
    served, chromium, language
):
    if not has_catalog(language):
        pytest.skip(f"no {language} catalog in demo/locales yet")
    from demo import lesson

    url, store = served
    teacher, code = start_a_room(chromium.new_context(viewport={"width": 1280, "height": 720}), url)
    step = lesson.STEPS[0]
    shown = [in_language(language, choice) for choice in step.question.choices]
    student = chromium.new_context(viewport=PHONE).new_page()
    student.goto(f"{url}/?room={code}" + ("" if language == "en" else f"&lang={language}"))
    student.locator('[data-testid="stButtonGroup"] button').first.wait_for(timeout=90_000)
    settled(student)
    layout = student.evaluate(PHONE_LAYOUT)
    ARTIFACTS.mkdir(exist_ok=True)
    student.screenshot(path=str(ARTIFACTS / f"room-student-phone-{language}.png"))
    question, choices = layout["question"], layout["choices"]
    assert [choice["text"] for choice in choices] == shown
    for drawn in (question, *choices):  # above the fold of a 390x844 phone, none cut off
        assert 0 <= drawn["top"] < drawn["bottom"] <= PHONE["height"], drawn
    assert question["font"] >= 16, question
    for choice in choices:
        assert choice["font"] >= 16 and choice["textFont"] >= 16, choice
        assert choice["height"] >= 44 and choice["width"] >= 44, choice
    # Tab reaches the choices, the arrows go through every one of them, each showing its focus,
    # and Space chooses one: the teacher's tally counts it.
    for _ in range(20):
        student.keyboard.press("Tab")
        if student.evaluate(FOCUS)["text"] == shown[0]:
            break
    else:
        pytest.fail("Tab never reached the first choice")
    for index, text in enumerate(shown):
        if index:
            student.keyboard.press("ArrowRight")
        focused = student.evaluate(FOCUS)
        assert focused == {"text": text, "tag": "BUTTON", "visible": True}, focused
    student.keyboard.press("Space")
    counted = "Your answer is counted (you may change it until the reveal)."
    wait_for_text(student, in_language(language, counted))
    settled(student)
    student.screenshot(path=str(ARTIFACTS / f"room-student-phone-{language}-answered.png"))
    tally = rooms.TALLY_TEXT.replace("**", "")  # the teacher's page is in English
    wait_for_text(teacher, tally.format(joined=1, answered=1))
    assert store.tally(code, 1) == {step.question.choices[-1]: 1}
    # Enter chooses too: another choice replaces the first answer.
    student.keyboard.press("ArrowLeft")
    student.keyboard.press("Enter")
    settled(student)
    wait_until(student, lambda: store.tally(code, 1) == {step.question.choices[-2]: 1})
    student.close()
    teacher.close()
