"""The teacher's count as the page shows it (`TALLY_TEXT`), and the reader that finds the two counts
in such a text in any of the page's languages (the class-room benchmark reads teachers' pages)."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from demo.rooms.model import N_

LOCALES = Path(__file__).resolve().parents[1] / "locales"  # demo.i18n's catalogs


# The teacher's count, as the page shows it (translated: `_(TALLY_TEXT).format(...)`).
TALLY_TEXT = N_("**{joined} joined · {answered} answered**")


TALLY_FIELDS = ("joined", "answered")


@functools.cache
def tally_pattern(template: str) -> re.Pattern:
    """What `template` filled in with two counts looks like: its own text around them, each
    count where the template puts it (a translation may put them in either order)."""
    pieces = re.split(r"\{(joined|answered)\}", template.strip())
    regex, named = "", set()
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            regex += re.escape(piece)
        else:  # a count: a group of digits the first time, the same digits again after that
            regex += f"(?P={piece})" if piece in named else f"(?P<{piece}>\\d+)"
            named.add(piece)
    return re.compile(regex)


@functools.cache
def tally_templates(folder: Path = LOCALES) -> tuple[str, ...]:
    """TALLY_TEXT and its translation in every catalog of `folder` (demo.i18n's, read here
    with Babel so that the benchmark, which reads teachers' pages, needs no Streamlit)."""
    from babel.messages import pofile

    templates = [TALLY_TEXT]
    for path in sorted(Path(folder).glob("*/LC_MESSAGES/messages.po")):
        with path.open("rb") as source:
            message = pofile.read_po(source).get(TALLY_TEXT)
        if message is not None and message.string and not message.fuzzy:
            templates.append(message.string)
    return tuple(dict.fromkeys(templates))


def counts_in_tally_text(text: str, templates=None) -> tuple[int, int] | None:
    """(joined, answered) of a text the page drew from TALLY_TEXT in any of its languages (or
    from one of `templates`), or None for another text."""
    for template in tally_templates() if templates is None else templates:
        found = tally_pattern(template).fullmatch(text.strip())
        if found and set(found.groupdict()) == set(TALLY_FIELDS):
            return int(found["joined"]), int(found["answered"])
    return None
