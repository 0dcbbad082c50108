"""Words the page shows that are defined as data outside the page's code (the class names, the
model kinds' titles, the training-data families' titles of `models/models.json`), marked here so
that the catalogs hold them. Show them through `term(...)`; a word with no translation is shown
as it is."""

from __future__ import annotations

from demo.i18n import N_, _

CLASS_NAMES = (
    N_("airplane"),
    N_("automobile"),
    N_("bird"),
    N_("cat"),
    N_("deer"),
    N_("dog"),
    N_("frog"),
    N_("horse"),
    N_("ship"),
    N_("truck"),
)
KIND_TITLES = (
    N_("sigmoids + binary cross-entropy"),
    N_("sigmoids + categorical cross-entropy"),
    N_("softmax + categorical cross-entropy"),
    N_("sigmoids + squared error"),
    N_("sigmoids + focal loss (gamma 2)"),
    N_("sigmoids + asymmetric loss (ASL)"),
)
FAMILY_TITLES = (
    N_("The article's: always four distinct classes"),
    N_("One to four objects"),
    N_("Objects anywhere, at any size"),
)
QUADRANT_NAMES = (N_("top-left"), N_("top-right"), N_("bottom-left"), N_("bottom-right"))
EMPTY = N_("empty")


def term(word: str) -> str:
    """A data-defined word in the page's language."""
    return _(word)
