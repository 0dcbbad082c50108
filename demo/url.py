"""The page's state in its address: a link opens exactly the composite, threshold, training data
and models that were on the screen.

    ?c0=frog&c1=truck&c2=bird&c3=empty&s0=3&t=0.50&k=0&data=one-to-four&view=all

Every parameter is read from one table, `PARAMS`: its name, the session-state key of its widget,
how its text is parsed, how its value is written back, and its default. A link is typed, pasted
and shortened by people, so parsing accepts only short ASCII text of the expected shape, and a
value it refuses becomes the default and a short problem that names the parameter and what it
may hold, never what it held: problems are shown as Markdown, and a value shown there could
draw a link, a picture or worse.

Parameters with a widget key are restored into session state once per session and written back
as the controls move; the others (`hide`, `step`, `lang`) are read on every run and left in the
address as the link gave them. `room` is the class room's, read by `demo.app_pages.room`.

A problem is a message with the parameter's name in backticks (`{name}`), translated into the
page's language where it is reported (`parse`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from core.data import CLASS_NAMES
from core.evaluation import THRESHOLD
from core.manifest import LOSS_TITLES
from demo import keys
from demo.i18n import LANGUAGES, N_, _

DEFAULT_CLASSES = ("airplane", "cat", "ship", "dog")
EMPTY = "empty"  # a quadrant choice: no object, a flat grey tile
QUADRANT_CHOICES = (*CLASS_NAMES, EMPTY)
ALL_MODELS = "all"
VIEWS = (ALL_MODELS, *LOSS_TITLES)  # all the family's models side by side, or one loss
OLD_VIEWS = {"both": ALL_MODELS}  # links made before the third model still open
HIDEABLE = ("upload", "threshold", "models", "compose", "results")  # what ?hide= may leave out
MOST_TOP_K = 10

WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")
SIGNED_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,9}")
DECIMAL = re.compile(r"[0-9]{1,3}(\.[0-9]{0,8})?|\.[0-9]{1,8}")
MOST_HIDE_CHARACTERS = 200


class Refused(ValueError):
    """A value a parameter may not hold. `problem` says what it may hold (it never quotes the
    value): a message whose `{name}` is the parameter's name, its other placeholders filled from
    `fields`, translated where it is reported; `instead` is what to use in its place, None for
    the parameter's default."""

    def __init__(self, problem: str, instead: object = None, **fields: object):
        super().__init__(problem)
        self.problem = problem
        self.instead = instead
        self.fields = fields


@dataclass(frozen=True)
class Limits:
    """What some values are checked against: the manifest's families, the lesson's length."""

    families: tuple[str, ...] = ()
    step_count: int = 1


@dataclass(frozen=True)
class Param:
    """One address parameter."""

    name: str  # in the address
    key: str | None  # the session-state key of its widget; None: read on every run instead
    parse: Callable[[str, Limits], object]  # its text to a value; raises Refused
    write: Callable[[object], str]  # a value to its text
    default: Callable[[Limits], object]  # the value when the address has none


def one_of(raw: str, choices) -> str:
    if raw in choices:
        return raw
    raise Refused(N_("`{name}` is not one of {choices}"), choices=", ".join(choices))


def whole_number(raw: str, low: int, high: int, problem: str, **fields: object) -> int:
    if WHOLE_NUMBER.fullmatch(raw) and low <= int(raw) <= high:
        return int(raw)
    raise Refused(problem, **fields)


def parse_class(raw: str, limits: Limits) -> str:
    return one_of(raw, QUADRANT_CHOICES)


def parse_sample(raw: str, limits: Limits) -> int:
    """Any whole number: it is taken modulo the class's gallery size once the class is known."""
    return whole_number(raw, 0, 10**9, N_("`{name}` is not a whole number"))


def parse_threshold(raw: str, limits: Limits) -> float:
    if DECIMAL.fullmatch(raw) and 0.0 <= float(raw) <= 1.0:
        return round(float(raw), 2)
    raise Refused(N_("`{name}` is not a number from 0 to 1"))


def parse_top_k(raw: str, limits: Limits) -> int:
    problem = N_("`{name}` is not a whole number from 0 to {most}")
    return whole_number(raw, 0, MOST_TOP_K, problem, most=MOST_TOP_K)


def parse_family(raw: str, limits: Limits) -> str:
    return one_of(raw, limits.families)


def parse_view(raw: str, limits: Limits) -> str:
    return one_of(OLD_VIEWS.get(raw, raw), VIEWS)


def parse_language(raw: str, limits: Limits) -> str:
    return one_of(raw.lower(), tuple(LANGUAGES))


def parse_hidden(raw: str, limits: Limits) -> frozenset[str]:
    """The known names of a comma-separated list, in any case; unknown names are refused,
    the known ones kept."""
    names = [name.strip().lower() for name in raw[:MOST_HIDE_CHARACTERS].split(",")]
    names = [name for name in names if name]
    known = frozenset(name for name in names if name in HIDEABLE)
    if len(known) < len(names) or len(raw) > MOST_HIDE_CHARACTERS:
        raise Refused(
            N_("`{name}` may only list {names}"), instead=known, names=", ".join(HIDEABLE)
        )
    return known


def parse_step(raw: str, limits: Limits) -> int:
    """A step 1..count; one out of range opens the nearest, one that is not a number the first."""
    if not SIGNED_WHOLE_NUMBER.fullmatch(raw):
        raise Refused(N_("`{name}` is not a whole number; the lesson starts at step 1"), instead=1)
    number = int(raw)
    nearest = min(max(number, 1), limits.step_count)
    if nearest != number:
        raise Refused(
            N_("`{name}` is not 1..{count}; showing step {nearest}"),
            instead=nearest,
            count=limits.step_count,
            nearest=nearest,
        )
    return number


def write_hidden(hidden) -> str:
    return ",".join(name for name in HIDEABLE if name in hidden)


def always(value: object) -> Callable[[Limits], object]:
    return lambda limits: value


def first_family(limits: Limits) -> str:
    return limits.families[0]


def quadrant_params(quadrant: int) -> tuple[Param, Param]:
    """A quadrant's class and the index of its image in the gallery's pictures of that class."""
    default_class = always(DEFAULT_CLASSES[quadrant])
    return (
        Param(f"c{quadrant}", keys.class_key(quadrant), parse_class, str, default_class),
        Param(f"s{quadrant}", keys.sample_key(quadrant), parse_sample, str, always(0)),
    )


# Every parameter of the address but `room`, which `demo.app_pages.room` reads.
PARAMS = (
    *(param for quadrant in range(4) for param in quadrant_params(quadrant)),
    Param("t", keys.THRESHOLD, parse_threshold, "{:.2f}".format, always(THRESHOLD)),
    Param("k", keys.TOP_K, parse_top_k, str, always(0)),
    Param("data", "data", parse_family, str, first_family),
    Param("view", "view", parse_view, str, always(ALL_MODELS)),
    Param("hide", None, parse_hidden, write_hidden, always(frozenset())),
    Param("step", None, parse_step, str, always(None)),  # None: the free page, no lesson
    Param("lang", None, parse_language, str, always(None)),  # None: the browser's language
)
BY_NAME = {param.name: param for param in PARAMS}


def parse(name: str, raw: str | None, limits: Limits) -> tuple[object, list[str]]:
    """(the value of parameter `name` whose text in the address is `raw`, problems): the
    default when the address has none, or has one the parameter may not hold."""
    param = BY_NAME[name]
    if raw is None:
        return param.default(limits), []
    try:
        return param.parse(raw, limits), []
    except Refused as refusal:
        instead = param.default(limits) if refusal.instead is None else refusal.instead
        return instead, [_(refusal.problem).format(name=name, **refusal.fields)]


def read(name: str, limits: Limits) -> tuple[object, list[str]]:
    """Parameter `name` from this page's address: (value, problems)."""
    return parse(name, st.query_params.get(name), limits)


def restore_state_from_url(gallery_sizes: dict[int, int], families: list[str]) -> list[str]:
    """Fill session state from the query string once per session; returns problems found."""
    if st.session_state.get("restored"):
        return []
    st.session_state.restored = True
    limits, problems = Limits(families=tuple(families)), []
    for param in PARAMS:
        if param.key is not None:
            value, found = read(param.name, limits)
            st.session_state[param.key] = value
            problems += found
    wrap_samples(gallery_sizes)
    return problems


def wrap_samples(gallery_sizes: dict[int, int]) -> None:
    """Each quadrant's sample modulo its class's gallery size (0 for an empty quadrant)."""
    for quadrant in range(4):
        name = st.session_state[keys.class_key(quadrant)]
        size = gallery_sizes[CLASS_NAMES.index(name)] if name != EMPTY else 1
        st.session_state[keys.sample_key(quadrant)] %= size


def address_problems(
    gallery_sizes: dict[int, int], families: list[str], step_count: int
) -> list[str]:
    """What is wrong with this page's address: the parameters read on every run, then (once
    per session, as it fills session state) those of the widgets."""
    limits, problems = Limits(tuple(families), step_count), []
    for param in PARAMS:
        if param.key is None:
            problems += read(param.name, limits)[1]
    return problems + restore_state_from_url(gallery_sizes, families)


def write_state_to_url() -> None:
    """The widgets' values into the address; the parameters read on every run stay as given."""
    wanted = {}
    for param in PARAMS:
        if param.key is not None:
            wanted[param.name] = param.write(st.session_state[param.key])
        elif param.name in st.query_params:
            wanted[param.name] = st.query_params[param.name]
    if dict(st.query_params) != wanted:
        st.query_params.from_dict(wanted)


def hidden_controls(raw: str | None) -> tuple[set[str], list[str]]:
    """(the controls `?hide=a,b` leaves out, problems); unknown names are reported, not kept."""
    hidden, problems = parse("hide", raw, Limits())
    return set(hidden), problems


def lesson_step(raw: str | None, count: int) -> tuple[int | None, list[str]]:
    """(the lesson step `?step=N` opens, 1..count, or None for the free page; problems). A step
    out of range opens the nearest one; one that is not a number opens the first."""
    return parse("step", raw, Limits(step_count=count))


def language() -> str | None:
    """The language `?lang=` asks for, or None (then the browser's); a bad value is reported
    with the other parameters read on every run."""
    return parse("lang", st.query_params.get("lang"), Limits())[0]


def write_step(number: int) -> None:
    """The lesson step in the address, if it is not there already as written."""
    text = BY_NAME["step"].write(number)
    if st.query_params.get("step") != text:
        st.query_params["step"] = text
