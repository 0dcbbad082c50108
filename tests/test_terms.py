"""`demo/terms.py` marks the words the page shows that are data elsewhere: its lists must be
their sources' exactly, so that a new class, quadrant, kind or family cannot reach the page
without an entry for the catalogs."""

from __future__ import annotations

import json
from pathlib import Path

from core import data
from core.kinds import KINDS
from demo import terms, url

MANIFEST = Path(__file__).resolve().parents[1] / "models" / "models.json"


def test_the_class_names_are_core_s():
    assert terms.CLASS_NAMES == data.CLASS_NAMES


def test_the_quadrant_names_are_core_s():
    assert terms.QUADRANT_NAMES == data.QUADRANT_NAMES
    assert terms.EMPTY == url.EMPTY  # the quadrant choice "empty", shown as a word


def test_the_kind_titles_are_the_kinds():
    assert tuple(kind.title for kind in KINDS.values()) == terms.KIND_TITLES


def test_the_family_titles_are_the_manifest_s():
    families = json.loads(MANIFEST.read_text())["families"]
    assert tuple(family["title"] for family in families) == terms.FAMILY_TITLES


def test_a_word_outside_a_page_is_shown_as_it_is():
    assert terms.term("cat") == "cat"
    assert terms.term("not a marked word") == "not a marked word"
