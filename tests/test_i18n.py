"""The page in Japanese: every message of the code has a translation that keeps its placeholders,
the committed template is the code's, and no page of the app shows English in Japanese."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import decision_panels, start_app

from demo import i18n, lesson

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "demo" / "app.py")
TEMPLATE = i18n.LOCALES / f"{i18n.DOMAIN}.pot"
TRANSLATED = [code for code in i18n.LANGUAGES if code != i18n.SOURCE_LANGUAGE]
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}")


def extracted() -> dict[str, tuple]:
    """{msgid: message id as Babel writes it (a tuple for plurals)} of the code's messages now."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    found = {}
    with (REPO / "babel.cfg").open() as mapping:
        method_map, options_map = parse_mapping_cfg(mapping)
    extracting = extract_from_dir(REPO, method_map, options_map, keywords=KEYWORDS)
    for _, _, message, _, _ in extracting:
        found[message[0] if isinstance(message, tuple) else message] = message
    return found


def catalog(path: Path, language: str | None = None):
    from babel.messages import pofile

    with path.open("rb") as source:
        return pofile.read_po(source, locale=language)


def test_the_template_holds_exactly_the_code_s_messages():
    """The README's extraction was run after the last change of a message."""
    in_template = {
        message.id if isinstance(message.id, str) else message.id[0]
        for message in catalog(TEMPLATE)
        if message.id
    }
    assert in_template == set(extracted()), "run the extraction in README's Translations"


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated_with_its_placeholders(language):
    translations = catalog(i18n.LOCALES / language / "LC_MESSAGES" / f"{i18n.DOMAIN}.po", language)
    missing, fuzzy, dropped = [], [], []
    for msgid, message_id in extracted().items():
        message = translations.get(message_id)
        strings = (
            []
            if message is None
            else (list(message.string) if isinstance(message.string, tuple) else [message.string])
        )
        if message is None or not all(strings):
            missing.append(msgid)
            continue
        if message.fuzzy:
            fuzzy.append(msgid)
        wanted = placeholders(msgid)
        if isinstance(message_id, tuple):
            wanted |= placeholders(message_id[1])
        for text in strings:
            if placeholders(text) != wanted or text.count("**") % 2 or text.count("`") % 2:
                dropped.append((msgid, text))
    assert not missing, f"{len(missing)} messages have no {language} translation: {missing[:10]}"
    assert not fuzzy, f"fuzzy (unchecked) translations: {fuzzy[:10]}"
    assert not dropped, f"placeholders or Markdown not kept: {dropped[:5]}"


def placeholders(text: str) -> set[str]:
    return {match.group(1) for match in PLACEHOLDER.finditer(text)}


def test_a_dropped_placeholder_is_found():
    """The check above can fail: a translation that loses `{count}` does not pass it."""
    assert placeholders("Step {number} of {count}") == {"number", "count"}
    assert placeholders("ステップ {number}") != placeholders("Step {number} of {count}")
    assert placeholders("{threshold:.2f} で") == {"threshold"}


def test_the_language_comes_from_the_address_then_the_browser():
    assert i18n.language_of_locale("ja-JP") == "ja" and i18n.language_of_locale("ja") == "ja"
    assert i18n.language_of_locale("en-GB") == "en"
    assert i18n.language_of_locale("fr-FR") is None and i18n.language_of_locale(None) is None
    japanese = i18n.translations("ja")
    assert japanese.gettext("Reveal") != "Reveal"
    assert i18n.translations("en").gettext("Reveal") == "Reveal"


# ---------------------------------------------------------------------------------------------
# The pages, in Japanese
# ---------------------------------------------------------------------------------------------

# What may stay in Latin letters on a Japanese page: model labels and kinds, the data set, units.
ALLOWED_WORDS = {
    "BCE",
    "CCE",
    "MSE",
    "ASL",
    "softmax",
    "CIFAR",
    "PIN",
    "QR",
    "CAM",
    "top",
    "SGD",
    "Adam",
    "ln",
    "gamma",
    "XLA",
    "CPU",
    "PNG",
    "JPEG",
    "URL",
    "ID",
    "mAP",
    "Dense",
    "Keras",
    "AdamW",
    "any",  # in the labels of the models trained on objects anywhere: "BCE any"
}
# Code, addresses, links' targets, HTML tags and the placeholders the browser fills in.
CODE = re.compile(r"`[^`]*`|https?://\S+|\?[a-z]+=[\w.,-]*|\((?:\?|\./)[^)]*\)|<[^>]+>|\{\w+\}")
WORD = re.compile(r"[A-Za-z]{2,}")


def english_words(text: str, also: frozenset[str] = frozenset()) -> list[str]:
    """The Latin-letter words of a Japanese page's text that are neither code, an address, nor
    an allowed name (nor one of `also`, such as a room's code)."""
    stripped = CODE.sub(" ", text)
    for name in also:  # a room's code may mix letters and digits: "KG6BS"
        stripped = stripped.replace(name, " ")
    return [word for word in WORD.findall(stripped) if word not in ALLOWED_WORDS]


def test_the_check_finds_english_and_spares_names():
    assert english_words("Decision threshold: 0.50") == ["Decision", "threshold"]
    assert english_words("ルーム KG6BS", frozenset({"KG6BS"})) == []
    assert english_words("BCE の判定しきい値は `t=0.50`（softmax）") == []


def shown_texts(at) -> list[str]:
    """Every text an AppTest page shows: Markdown, captions, headings, alerts, widget labels,
    options and help, the decisions panel's words and the charts' titles and descriptions."""
    texts = [
        str(e.value)
        for kind in (
            "markdown",
            "caption",
            "title",
            "header",
            "subheader",
            "info",
            "warning",
            "error",
            "success",
        )
        for e in getattr(at, kind)
    ]
    for kind in (
        "button",
        "radio",
        "selectbox",
        "number_input",
        "slider",
        "toggle",
        "text_input",
        "pills",
        "multiselect",
    ):
        for widget in getattr(at, kind, []):
            texts.append(str(widget.label))
            texts += [str(option) for option in getattr(widget, "options", []) or []]
            help_text = getattr(widget.proto, "help", "")
            if help_text:
                texts.append(help_text)
    for panel in decision_panels(at):
        texts += walk_strings(panel["text"]) + [model["note"] for model in panel["models"]]
        texts += [model["title"] for model in panel["models"]] + panel.get("class_labels", [])
    for chart in at.get("arrow_vega_lite_chart") + at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec) if chart.proto.spec else {}
        texts += chart_words(spec)
    for image in at.get("image"):
        texts += [text for i in image.proto.imgs for text in (i.caption, i.alt)]
    return texts


def walk_strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in walk_strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in walk_strings(item)]
    return []


def chart_words(spec) -> list[str]:
    """A chart spec's titles, descriptions and axis titles (not its data or field names)."""
    found = []
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key in ("title", "description") and isinstance(value, str):
                found.append(value)
            elif key == "title" and isinstance(value, dict) and isinstance(value.get("text"), str):
                found.append(value["text"])
            elif key not in ("datasets", "data", "field", "datum", "expr", "test", "as"):
                found += chart_words(value)
    elif isinstance(spec, list):
        for item in spec:
            found += chart_words(item)
    return found


def assert_japanese(at, where: str, also: frozenset[str] = frozenset()) -> None:
    assert not at.exception, where
    leftovers = {text: words for text in shown_texts(at) if (words := english_words(text, also))}
    assert not leftovers, f"English on the Japanese {where}: {list(leftovers.items())[:6]}"


@pytest.mark.slow
def test_the_free_page_and_the_lab_in_japanese(fixture_models, monkeypatch):
    at = start_app(APP, fixture_models, monkeypatch, {"lang": "ja"})
    assert_japanese(at, "free page")
    assert_japanese(start_app(APP, fixture_models, monkeypatch, {"lang": "ja", "lab": "1"}), "lab")


@pytest.mark.slow
@pytest.mark.parametrize("number", range(1, len(lesson.STEPS) + 1))
def test_every_lesson_step_in_japanese_before_and_after_its_reveal(
    fixture_models, monkeypatch, number
):
    step = lesson.STEPS[number - 1]
    at = start_app(APP, fixture_models, monkeypatch, {"lang": "ja", "step": str(number)})
    assert_japanese(at, f"step {number}")
    if step.question is None:
        return
    choice = at.pills(key=f"guess_{step.slug}")
    choice.set_value([choice.options[0]] if step.question.several else choice.options[0]).run()
    at.button(key=f"reveal_{step.slug}").click().run()
    assert_japanese(at, f"step {number} after the reveal")


@pytest.mark.slow
def test_a_class_room_in_japanese(fixture_models, monkeypatch, tmp_path):
    from demo.app_pages import room as classroom_page

    monkeypatch.setenv("MULTILABEL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv(classroom_page.PASSPHRASE_VARIABLE, raising=False)
    teacher = start_app(APP, fixture_models, monkeypatch, {"room": "new", "lang": "ja"})
    assert_japanese(teacher, "start form")
    teacher.text_input[-1].input("271828")
    teacher.button[0].click().run()
    code = teacher.query_params["room"]
    code = code[0] if isinstance(code, list) else code
    also = frozenset({code})
    assert_japanese(teacher, "teacher's page", also)
    student = start_app(APP, fixture_models, monkeypatch, {"room": code, "lang": "ja"})
    assert_japanese(student, "student's page", also)
    first = lesson.STEPS[0]
    student.pills(key="room_guess_1").set_value(first.question.choices[0]).run()
    teacher.button(key="room_reveal").click().run()
    assert_japanese(teacher, "teacher's page after the reveal", also)
    student.run()
    assert_japanese(student, "student's page after the reveal", also)
