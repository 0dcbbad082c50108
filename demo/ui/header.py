"""The top of a page: its title with the language switch beside it."""

from __future__ import annotations

import streamlit as st

from demo import i18n, keys, routes
from demo.i18n import _

# The widgets that show their options through a translated `format_func`, on the pages that have
# the language switch. The browser holds such a widget's value as the text it shows: after a
# change of language it would send the old language's text back, which is no option any more.
TRANSLATED_CHOICES = (
    keys.DATA,
    keys.VIEW,
    keys.SOURCE,
    *(keys.class_key(quadrant) for quadrant in range(4)),
    keys.CAM_CLASS,
    "lab_loss",
    "lab_optimizer",
    "lab_data",
)


def switch_language() -> None:
    """The switch's callback: its language into the address, which the next run reads. The
    translated choices' values are set again, so that the run sends each of them to the browser
    as the new language shows it."""
    chosen = st.session_state.get("lang_choice")
    if chosen not in i18n.LANGUAGES:
        return
    st.query_params[routes.LANGUAGE_PARAM] = chosen
    for key in TRANSLATED_CHOICES:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def language_switch() -> None:
    """日本語 / English, each named in its own language: a choice writes `?lang=` (the rest of
    the address stays) and the page reruns in it."""
    st.session_state.lang_choice = i18n.current_language()
    st.segmented_control(
        _("Language"),
        list(i18n.LANGUAGES),
        key=keys.LANGUAGE_CHOICE,
        format_func=i18n.LANGUAGES.get,
        required=True,
        on_change=switch_language,
        label_visibility="collapsed",
    )


def title_bar(title: str) -> None:
    """The page's title, with the language switch at its right."""
    left, right = st.columns([5, 1], vertical_alignment="center")
    left.subheader(title)
    with right, st.container(horizontal=True, horizontal_alignment="right"):
        language_switch()
