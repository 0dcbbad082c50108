"""The loss lab in a real browser: every listed loss trained with the page's own controls, in
Debian's Chromium at projector size (1280x720)."""

from __future__ import annotations

import pytest
from conftest import ARTIFACTS, BROWSER_TEST, IDLE, app_served_in

from core.kinds import KINDS

SCREEN = {"width": 1280, "height": 720}

pytestmark = BROWSER_TEST


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lab-server")
    with app_served_in(folder) as url:
        yield url


def choose_loss(page, title: str) -> None:
    """Open the "Ending and loss" list and click `title`, as a student does."""
    from playwright.sync_api import expect

    box = page.locator('[data-testid="stSelectbox"]', has_text="Ending and loss")
    box.click()
    page.get_by_role("option", name=title, exact=True).click()
    page.wait_for_selector(IDLE, timeout=90_000)
    expect(box.get_by_role("combobox")).to_have_value(title, timeout=30_000)


def runs_in_table(page, count: int) -> list[str]:
    """The first column of the runs table (the first data frame on the page) once it has
    `count` rows, read from the grid's accessible cells (the header row has none); the grid
    redraws a moment after the script's run ends."""
    from playwright.sync_api import expect

    grid = page.locator('[data-testid="stDataFrame"]').first.locator('[role="grid"]')
    rows = grid.locator('[role="row"]:has([role="gridcell"])')
    expect(rows).to_have_count(count, timeout=30_000)
    return [row.locator('[role="gridcell"]').first.inner_text() for row in rows.all()]


def horizontal_overflow(page) -> int:
    """How many pixels the page is wider than the screen (0 when nothing sticks out)."""
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


def test_every_loss_trains_in_the_lab_at_projector_size(server, chromium):
    ARTIFACTS.mkdir(exist_ok=True)
    page = chromium.new_page(viewport=SCREEN)
    page.goto(f"{server}/?lab=1")
    page.get_by_role("button", name="Train", exact=True).wait_for(timeout=180_000)
    page.wait_for_selector(IDLE, timeout=180_000)
    train = page.get_by_role("button", name="Train", exact=True)
    box = train.bounding_box()
    assert box is not None and box["y"] + box["height"] <= SCREEN["height"]  # above the fold
    page.screenshot(path=str(ARTIFACTS / "lab-start.png"))
    for number, kind in enumerate(KINDS.values(), start=1):
        choose_loss(page, kind.title)
        train.click()
        page.wait_for_selector(IDLE, timeout=90_000)
        page.wait_for_function(
            f"() => document.body.innerText.includes('{number}. {kind.short},')", timeout=90_000
        )
        assert page.locator('[data-testid="stException"]').count() == 0
        page.screenshot(path=str(ARTIFACTS / f"lab-{number}-{kind.short}.png"))
    assert page.locator('[data-testid="stException"]').count() == 0
    assert "Busy:" not in page.inner_text("body")
    table = page.locator('[data-testid="stDataFrame"]').first
    names = runs_in_table(page, len(KINDS))
    assert [name.split(",")[0] for name in names] == [
        f"{number}. {kind.short}" for number, kind in enumerate(KINDS.values(), start=1)
    ]
    table.scroll_into_view_if_needed()
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    assert charts.count() == 4  # loss, exact match, best threshold, the composite's outputs
    assert horizontal_overflow(page) <= 0
    page.screenshot(path=str(ARTIFACTS / "lab-all-runs.png"))
    page.locator('[data-testid="stImage"]').first.scroll_into_view_if_needed()
    outputs = charts.last.bounding_box()
    assert outputs is not None and outputs["height"] <= SCREEN["height"]  # fits on one screen
    page.screenshot(path=str(ARTIFACTS / "lab-composite.png"))
    page.close()
