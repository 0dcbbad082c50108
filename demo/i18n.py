"""The page's languages: one gettext catalog per language, `demo/locales/<code>/LC_MESSAGES/
messages.po`, read with Babel (no compiled `.mo` files to keep in step).

    from demo.i18n import N_, _

    st.button(_("Reveal"))                  # translated now, into the language of this page
    TITLE = N_("The threshold decides the set")  # marked at import, translated where shown
    _(TITLE)

A page is in the language its address names (`?lang=ja`), else in the browser's language when a
catalog exists for it (`st.context.locale`), else in English, the language of the source. The
language is chosen once per full run of the page and kept in session state, so that a fragment's
run speaks it too. Strings with placeholders are translated first and filled in afterwards:
`_("Step {number} of {count}").format(number=..., count=...)`.

Adding a language: see "Translations" in the README (extract, init, translate, add it to
LANGUAGES).
"""

from __future__ import annotations

import functools
import gettext
import io
from pathlib import Path

import streamlit as st

LOCALES = Path(__file__).resolve().parent / "locales"
DOMAIN = "messages"
SOURCE_LANGUAGE = "en"
# Every language with a catalog, by its code in the address, named in its own language.
LANGUAGES = {"en": "English", "ja": "日本語"}
STATE_KEY = "language"


def N_(message: str) -> str:  # noqa: N802 - gettext's conventional name for the marker
    """Marks `message` for extraction without translating it (it is translated where shown)."""
    return message


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalog of `language`, compiled in memory once per process."""
    if language == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    from babel.messages import mofile, pofile

    path = LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as source:
        catalog = pofile.read_po(source, locale=language)
    compiled = io.BytesIO()
    mofile.write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def language_of_locale(locale: str | None) -> str | None:
    """The catalog for a browser's `navigator.language` ("ja-JP" -> "ja"), or None."""
    if not locale:
        return None
    code = locale.split("-", 1)[0].split("_", 1)[0].lower()
    return code if code in LANGUAGES else None


def choose_language(asked: str | None) -> str:
    """The language of this page: `asked` (the address's, already checked) or the browser's,
    kept in session state for the fragments' runs."""
    language = asked or language_of_locale(st.context.locale) or SOURCE_LANGUAGE
    st.session_state[STATE_KEY] = language
    return language


def current_language() -> str:
    """The language of the page being drawn; the source language outside a page."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx(suppress_warning=True) is None:  # a CLI, a test of a pure function
        return SOURCE_LANGUAGE
    return st.session_state.get(STATE_KEY, SOURCE_LANGUAGE)


def _(message: str) -> str:
    """`message` in the language of the page being drawn."""
    return translations(current_language()).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """The singular or plural form of a message for `count`, in the page's language."""
    return translations(current_language()).ngettext(singular, plural, count)
