"""Every address ever handed out still opens its page in a real browser: the addresses from before
pages had paths (`/?step=3&hide=threshold`, `/?lab=1`, `/?room=CODE`, `/?room=new`, a printed QR
code's) move to the page's path with every parameter kept, and the new paths open directly."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import BROWSER_TEST, IDLE, app_served_in

from demo import routes
from demo.rooms.sqlite_store import SQLiteStore

pytestmark = BROWSER_TEST


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("routes")
    with app_served_in(folder) as url:
        yield url, SQLiteStore(folder / "rooms.sqlite3")


def settle(page, text: str) -> tuple[str, dict]:
    """Waits until the page shows `text` and has finished its run; (path, query) of its address."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(f"() => document.body.innerText.includes({text!r})", timeout=120_000)
    except PlaywrightTimeout:
        raise AssertionError(
            f"{page.url} never showed {text!r}: {page.inner_text('body')[:600]}"
        ) from None
    page.wait_for_selector(IDLE, timeout=120_000)
    address = urlsplit(page.url)
    return address.path, parse_qs(address.query)


def test_old_addresses_open_the_same_page_and_state(served, chromium):
    url, store = served
    room = store.create(teacher="a" * 32, pin="731946")
    page = chromium.new_page(viewport={"width": 1280, "height": 720})
    cases = [
        ("/?step=3&hide=threshold", "Step 3 of", "/lesson", {"step": ["3"], "hide": ["threshold"]}),
        ("/?step=2&lang=ja", "ステップ 2", "/lesson", {"step": ["2"], "lang": ["ja"]}),
        ("/?lab=1", "Loss lab", "/lab", {"lab": ["1"]}),
        ("/?room=new", "Start a class room", "/room", {"room": ["new"]}),
        (f"/?room={room.code}", "Step 1 of", "/room", {"room": [room.code]}),
    ]
    for old, shown, path, query in cases:
        page.goto(url + old)
        landed_path, landed_query = settle(page, shown)
        assert landed_path == path, old
        assert landed_query == query, old
        assert page.locator('[data-testid="stException"]').count() == 0, old
    # The state inside the page came along: the lesson's threshold input is hidden.
    page.goto(url + "/?step=3&hide=threshold")
    settle(page, "Step 3 of")
    assert page.locator(".ml-threshold-value").count() == 0
    page.close()


def test_the_new_paths_and_the_links_the_app_hands_out(served, chromium):
    url, _ = served
    page = chromium.new_page(viewport={"width": 1280, "height": 720})
    page.goto(url + "/lesson?step=4")
    assert settle(page, "Step 4 of")[0] == "/lesson"
    page.goto(url + "/?lang=ja")
    settle(page, "ラボ")
    lab_link = page.locator("a", has_text="ラボ").first
    assert lab_link.get_attribute("href") == routes.link("lab", "ja")
    page.goto(url + "/" + lab_link.get_attribute("href").removeprefix("./"))
    path, query = settle(page, "損失関数ラボ")
    assert path == "/lab" and query == {"lang": ["ja"]}
    page.close()
