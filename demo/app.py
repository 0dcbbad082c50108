"""Multi-label vs multi-class: a Streamlit demo on CIFAR-10 composites.

    streamlit run demo/app.py

The frame of every page: the page's configuration and language, the navigation over the table of
pages (`demo.routes`), old addresses forwarded to their pages, and the reconnect timer. The pages
themselves are in `demo/app_pages/`, one module each.

The models come from `models/models.json` (set MULTILABEL_MODELS_DIR to read another folder).
"""

from __future__ import annotations

import importlib

import streamlit as st

from demo import i18n, routes, url
from demo.i18n import _
from demo.serve import patches

# The page is projected at 1280x720: less blank space above the first line than Streamlit's.
# Streamlit marks the keyboard's focus on a radio option or a toggle with a faint grey background
# only, and on a select box or a number field with a 1-pixel border, which a projector loses:
# they get the decisions panel's focus ring.
FOCUS_RING = "outline: 3px solid #0072b2; outline-offset: 2px; border-radius: 4px;"
COMPACT = (
    "<style>[data-testid='stMainBlockContainer'] {padding-top: 4rem;}"
    "[data-testid='stImage'] img {image-rendering: pixelated;}"
    "[data-testid='stRadioOption']:has(input:focus-visible),"
    "[data-testid='stCheckbox'] label:has(input:focus-visible),"
    "[data-testid='stSelectbox'] div:has(> input:focus-visible),"
    "[data-testid='stNumberInputContainer']:has(input:focus-visible)"
    f" {{{FOCUS_RING}}}</style>"
)
RECONNECT_CHECK = 3600  # seconds: what matters is that a timer exists, not how often it fires


@st.fragment(run_every=RECONNECT_CHECK)
def rerun_after_reconnecting() -> None:
    """Draws nothing. Streamlit's browser client asks for a fresh run of the page when it
    reconnects only if the page has a fragment on a timer (or its last run was cut off or was a
    fragment's); without one, a student whose worker died and who lands on another worker would
    keep a stale page until the next click. With it, the new worker rebuilds the page from the
    address at once. The timer's length does not change that, so it fires once an hour."""


def configure_page() -> None:
    st.set_page_config(
        page_title=_("Multi-label vs multi-class"),
        page_icon="🧩",
        layout="wide",
        initial_sidebar_state="collapsed",
    )
    patches.server_sockets_without_nagle()
    patches.keep_keras_session()
    patches.bounded_uploads()
    st.html(COMPACT)


def streamlit_pages() -> dict[str, st.Page]:
    """{route name: st.Page} for every route of `demo.routes`."""
    pages = {}
    for route in routes.ROUTES:
        draw = importlib.import_module(route.module).page
        options = {"url_path": route.url_path} if route.url_path else {"default": True}
        pages[route.name] = st.Page(draw, title=_(route.title), **options)
    return pages


def forward_an_old_address(current: st.Page, pages: dict[str, st.Page]) -> None:
    """An address without a path that chose its page by a parameter (`/?step=3&hide=threshold`,
    `/?room=CODE`, `/?lab=1`) moves to that page's path with every parameter kept."""
    if current is not pages[routes.WORKBENCH.name]:
        return
    old = routes.old_route(st.query_params)
    if old is not None:
        st.switch_page(pages[old.name], query_params=st.query_params.to_dict())


def main() -> None:
    i18n.choose_language(url.language())
    configure_page()
    pages = streamlit_pages()
    current = st.navigation(list(pages.values()), position="hidden")
    forward_an_old_address(current, pages)
    current.run()
    rerun_after_reconnecting()
    patches.freeze_loaded_objects()


if __name__ == "__main__":
    main()
