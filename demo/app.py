"""Multi-label vs multi-class: a Streamlit demo on 2x2 CIFAR-10 composites.

    streamlit run demo/app.py

The models come from `models/models.json` (set MULTILABEL_MODELS_DIR to read another folder):
the page shows one family of training data at a time, its models side by side.

A class of students shares one server process, so every interaction must cost little: the
composite and the predictions live in a fragment (a click there reruns only that part), the
threshold and top-k in a fragment inside it (a move re-decides from cached predictions), and
every chart is a Vega-Lite spec built once per process, with only its data filled in per run.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from core.gallery import DEFAULT_PATH as GALLERY_PATH
from core.kinds import KINDS
from demo import (
    classroom_page,
    i18n,
    keys,
    lab_page,
    lesson,
    lesson_page,
    panels,
    report,
    resources,
    url,
)
from demo.context import PageContext
from demo.i18n import N_, _
from demo.terms import term

ALL_SIDE_BY_SIDE = N_("all side by side")
ONE_KIND = N_("{model} only")
# The views' names in English; `view_name` gives one in the page's language.
VIEW_NAMES = {
    url.ALL_MODELS: ALL_SIDE_BY_SIDE,
    **{loss: ONE_KIND.format(model=kind.short) for loss, kind in KINDS.items()},
}


def view_name(view: str) -> str:
    """A view's name as the page shows it: "all side by side", "BCE only"."""
    if view == url.ALL_MODELS:
        return _(ALL_SIDE_BY_SIDE)
    return _(ONE_KIND).format(model=KINDS[view].short)


def family_name(title: str) -> str:
    """A family's title (`models/models.json`) as the training-data choice shows it: "Trained
    on the article's: always four distinct classes"."""
    shown = term(title)
    return _("Trained on {family}").format(family=shown[:1].lower() + shown[1:])


def family_control(manifest) -> str:
    titles = {family.data: family.title for family in manifest.families}
    return st.radio(
        _("Training data"),
        list(titles),
        key="data",
        horizontal=True,
        format_func=lambda data: family_name(titles[data]),
        label_visibility="collapsed",
    )


def view_control(manifest) -> str:
    """All models side by side, or the models of one loss that the manifest lists."""
    listed = {
        entry.loss for family in manifest.families for entry in manifest.in_family(family.data)
    }
    views = [view for view in url.VIEWS if view == url.ALL_MODELS or view in listed]
    if st.session_state.get("view") not in views:  # a link to a loss no model here has
        st.session_state.view = url.ALL_MODELS
    return st.radio(
        _("Models"),
        views,
        key="view",
        horizontal=True,
        format_func=view_name,
        label_visibility="collapsed",
    )


def model_choice(manifest, hidden: frozenset[str]) -> tuple[str, str]:
    """(training-data family, view): a change reruns the whole page, the report included."""
    if "models" in hidden:
        return st.session_state.data, st.session_state.view
    left, right = st.columns([5, 4])
    with left:
        data = family_control(manifest)
    with right:
        view = view_control(manifest)
    return data, view


@st.fragment
def workbench(folder: str, data: str, view: str, hidden: frozenset[str]) -> None:
    """Compose (or upload) an image and see what `view` of the `data` family's models say: a
    click here reruns only this. It looks the models up itself rather than taking the page's
    context: a rerun of the fragment alone keeps the arguments of the last full run, and the
    model files may have changed since."""
    signature = resources.models_signature(folder)
    manifest = resources.manifest_for(folder, signature)[0]
    predictor = resources.load_predictor(folder, signature)[0]
    left, right = st.columns([1, 3], gap="medium")
    with left:
        picture = st.container()  # the composite above the controls that make it
        source = panels.source_control(hidden)
        composite, truth = panels.choose_composite(source, str(GALLERY_PATH), hidden)
        shared = source == panels.SOURCES[0]
        if composite is not None:
            with picture:
                panels.show_composite(composite, truth)
    if shared:
        url.write_state_to_url()
    if composite is None:
        return
    if predictor is None:
        right.info(_("No model could be loaded, so there is nothing to predict (see above)."))
        return
    shown = [
        entry
        for entry in manifest.in_family(data)
        if entry.name in predictor.names and view in (url.ALL_MODELS, entry.loss)
    ]
    if not shown:
        message = _("No {view} model of this training data could be loaded.")
        right.info(message.format(view=view_name(view)))
        return
    names = [entry.name for entry in shown]
    predictions = resources.predict_models(predictor, signature, composite, names)
    st.session_state.model_calls = predictor.calls
    with right:
        panels.decisions_panel(
            predictions, truth, shown, hidden, url.write_state_to_url if shared else None
        )
    left, right = st.columns([1, 3], gap="medium")
    with left:
        cam_class = panels.cam_class_control(truth, predictions)
    with right:
        panels.show_activation_maps(composite, predictions, shown, cam_class)
    # A toggle rather than an expander: a closed expander's content still runs every time.
    if st.toggle(_("Why categorical cross-entropy cannot place the threshold"), key="why_cce"):
        categorical = [entry for entry in shown if entry.kind.scale_free]
        prediction = predictions[categorical[0].name] if categorical else None
        panels.why_cce_panel(prediction, truth)


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


def header() -> None:
    title, switch = st.columns([5, 1], vertical_alignment="center")
    title.subheader(_("Multi-label classification: several objects, one image"))
    with switch, st.container(horizontal=True, horizontal_alignment="right"):
        panels.language_switch()
    st.caption(
        _(
            "CIFAR-10 pictures tiled 2x2: one image, **several labels**. One network, three "
            "endings: sigmoids with **binary** or **categorical cross-entropy**, or a "
            "**softmax**. [Train the last layer yourself in the loss lab]({lab})."
        ).format(lab=lab_address())
    )


def lab_address() -> str:
    """The loss lab's address, in the page's language when the address names one."""
    language = url.language()
    return "?lab=1" if language is None else f"?lab=1&lang={language}"


def configure_page() -> None:
    st.set_page_config(
        page_title=_("Multi-label vs multi-class"),
        page_icon="🧩",
        layout="wide",
        initial_sidebar_state="collapsed",
    )
    resources.server_sockets_without_nagle()
    resources.keep_keras_session()
    st.html(COMPACT)


def page_context() -> PageContext | None:
    """Everything the views draw from, built once per run; None, with a message why, when the
    page cannot be drawn."""
    folder = resources.models_folder()
    signature = resources.models_signature(folder)
    manifest, problem = resources.manifest_for(folder, signature)
    if manifest is None:
        st.error(problem)
        return None
    if not warn_about_the_address(manifest):
        return None
    hidden = url.hidden_controls(st.query_params.get("hide"))[0]
    predictor, model_errors = resources.load_predictor(folder, signature)
    return PageContext(folder, manifest, predictor, signature, frozenset(hidden), model_errors)


def warn_about_the_address(manifest) -> bool:
    """Restores the controls from the address (once per session) and warns about the parameters
    it ignored; False, with a message why, when the gallery cannot be read."""
    try:
        sizes = resources.gallery_sizes(str(GALLERY_PATH))
    except ValueError as error:
        st.error(_("{error} Rebuild it with `python -m core.gallery`.").format(error=error))
        return False
    families = [family.data for family in manifest.families]
    problems = url.address_problems(sizes, families, len(lesson.STEPS))
    if problems:
        message = _("Some link parameters were ignored: {problems}.")
        st.warning(message.format(problems="; ".join(problems)))
    return True


def free_page(context: PageContext) -> None:
    """The workbench and, below it, the test-set report."""
    if context.model_errors:
        errors = context.model_errors.values()
        st.error("\n".join(f"- {resources.translated(message)}" for message in errors))
    data, view = model_choice(context.manifest, context.hidden)
    workbench(context.folder, data, view, context.hidden)
    st.caption(
        _(
            "The page's state is in its address: copy the link to share this composite, "
            "threshold, training data and view."
        )
    )
    if "results" not in context.hidden:
        st.header(_("On the test composites"))
        report.show_report(context.manifest, data)


def lesson_view(context: PageContext) -> None:
    """The lesson step of `?step=`, the nearest one (written back) when it is out of range."""
    number = url.lesson_step(st.query_params.get("step"), len(lesson.STEPS))[0]
    url.write_step(number)
    lesson_page.show_step(number, context)


# (the address parameter that selects a view, the view): the first one in the address draws the
# page; with none of them, the free page does.
ROUTES = (
    (keys.ROOM_VIEW, classroom_page.show_room),
    ("step", lesson_view),
    (keys.LAB_VIEW, lab_page.show_lab),
)


def chosen_view() -> Callable[[PageContext], None]:
    return next((view for name, view in ROUTES if name in st.query_params), free_page)


def main() -> None:
    i18n.choose_language(url.language())
    configure_page()
    view = chosen_view()
    if view is free_page:
        header()
    context = page_context()
    if context is None:
        return
    view(context)
    rerun_after_reconnecting()
    resources.freeze_loaded_objects()


if __name__ == "__main__":
    main()
