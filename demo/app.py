"""Multi-label vs multi-class: a Streamlit demo on CIFAR-10 composites.

    streamlit run demo/app.py

The frame of every page: the page's configuration and language, the page an address asks for,
and the reconnect timer. The pages themselves are in `demo/app_pages/`, one module each.

The models come from `models/models.json` (set MULTILABEL_MODELS_DIR to read another folder).
"""

from __future__ import annotations

import streamlit as st

from demo import i18n, keys, url
from demo.app_pages import lab, lesson, room, workbench
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
    st.html(COMPACT)


# (the address parameter that selects a page, the page): the first one in the address draws it;
# with none of them, the workbench does.
ROUTES = ((keys.ROOM_VIEW, room.page), ("step", lesson.page), (keys.LAB_VIEW, lab.page))


def main() -> None:
    i18n.choose_language(url.language())
    configure_page()
    next((page for name, page in ROUTES if name in st.query_params), workbench.page)()
    rerun_after_reconnecting()
    patches.freeze_loaded_objects()


if __name__ == "__main__":
    main()
