"""A student's own picture in a real browser: an uploaded photo and one from a (fake) camera are
answered by the models trained on objects anywhere, with their activation maps; screenshots at a
projector's 1280x720 and a phone's 390x844."""

from __future__ import annotations

import io

import pytest
from conftest import ARTIFACTS, BROWSER_TEST, CHROMIUM, CHROMIUM_ARGS, IDLE, REPO, app_served_in
from PIL import Image

from core.manifest import load_manifest

CAMERA_ARGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]

pytestmark = BROWSER_TEST


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photo")
    with app_served_in(folder) as url:
        yield url


@pytest.fixture(scope="module")
def camera_browser(chromium):
    """A second Chromium of the same Playwright, with a fake camera that shows a test pattern
    and no permission prompt."""
    browser = chromium.browser_type.launch(
        executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *CAMERA_ARGS]
    )
    yield browser
    browser.close()


def anywhere_labels() -> list[str]:
    manifest = load_manifest(REPO / "models")
    return [entry.label for entry in manifest.in_family("anywhere")]


def photo_bytes() -> bytes:
    """A phone-sized JPEG: a warm blob on a cool background."""
    image = Image.new("RGB", (1600, 1200), (40, 90, 160))
    image.paste((210, 140, 60), (500, 300, 1100, 900))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def choose_source(page, name: str, shown: str) -> None:
    """Picks the image source `name` and waits until the page shows `shown`."""
    page.locator('[data-testid="stRadioOption"]', has_text=name).first.click()
    page.wait_for_function(f"() => document.body.innerText.includes({shown!r})", timeout=120_000)
    page.wait_for_selector(IDLE, timeout=120_000)


def the_answer_is_shown(page) -> None:
    """The photo family's models answer, each with a map, and the page says who answers."""
    page.wait_for_function(
        "() => document.body.innerText.includes('Your photo is answered by')", timeout=180_000
    )
    page.wait_for_selector(IDLE, timeout=180_000)
    page.locator(".ml-model").first.wait_for(timeout=120_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    shown = page.locator(".ml-model").all_inner_texts()
    labels = anywhere_labels()
    assert len(shown) == len(labels)
    assert all(any(label in text for text in shown) for label in labels)
    maps = page.locator('[data-testid="stImage"] img[alt^="Where"]')
    assert maps.count() == len(labels)
    # The screenshot shows the photo and the note of who answers it.
    page.get_by_text("Your photo is answered by").scroll_into_view_if_needed()


@pytest.mark.parametrize("viewport", [(1280, 720), (390, 844)])
def test_an_uploaded_photo_is_answered_with_its_maps(server, chromium, viewport):
    ARTIFACTS.mkdir(exist_ok=True)
    width, height = viewport
    page = chromium.new_page(viewport={"width": width, "height": height})
    page.goto(server)
    page.wait_for_selector(IDLE, timeout=180_000)
    choose_source(page, "Your image", "centre-cropped")
    page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(
        files=[{"name": "phone.jpg", "mimeType": "image/jpeg", "buffer": photo_bytes()}]
    )
    the_answer_is_shown(page)
    page.screenshot(path=str(ARTIFACTS / f"photo-upload-{width}x{height}.png"), full_page=False)
    page.close()


def test_a_photo_from_the_camera_is_answered_with_its_maps(server, camera_browser):
    ARTIFACTS.mkdir(exist_ok=True)
    context = camera_browser.new_context(viewport={"width": 1280, "height": 720})
    context.grant_permissions(["camera"])
    page = context.new_page()
    page.goto(server)
    page.wait_for_selector(IDLE, timeout=180_000)
    choose_source(page, "Camera", "https://")  # where the camera cannot open, it is said
    take = page.locator('[data-testid="stCameraInputButton"]')
    take.wait_for(timeout=60_000)
    # A click before the camera's first frame takes no picture: wait for the button and for
    # the video to show frames.
    page.wait_for_function(
        """() => {
            const button = document.querySelector('[data-testid="stCameraInputButton"]');
            const video = document.querySelector('[data-testid="stCameraInput"] video');
            return button && !button.disabled && video && video.readyState >= 2
                && video.videoWidth > 0;
        }""",
        timeout=60_000,
    )
    take.click()
    the_answer_is_shown(page)
    page.screenshot(path=str(ARTIFACTS / "photo-camera-1280x720.png"), full_page=False)
    context.close()
