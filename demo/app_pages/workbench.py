"""The free page (`/`): compose (or upload) an image, see what one family of models says about it,
move the threshold, and below it the test-set report.

A class of students shares one server process, so every interaction must cost little: the
composite and the predictions live in a fragment (a click there reruns only that part), the
threshold and top-k are decided in the browser, and every chart is a Vega-Lite spec built once
per process, with only its data filled in per run."""

from __future__ import annotations

import streamlit as st

from core.gallery import DEFAULT_PATH as GALLERY_PATH
from core.kinds import KINDS
from demo import cache, keys, messages, routes, url
from demo.context import PageContext, page_context
from demo.i18n import N_, _
from demo.terms import term
from demo.ui import header, panels, report

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
        key=keys.DATA,
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
        key=keys.VIEW,
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
    signature = cache.models_signature(folder)
    manifest = cache.manifest_for(folder, signature)[0]
    predictor = cache.load_predictor(folder, signature)[0]
    left, right = st.columns([1, 3], gap="medium")
    with left:
        picture = st.container()  # the composite above the controls that make it
        source = panels.source_control(hidden)
        composite, truth = panels.choose_composite(source, str(GALLERY_PATH), hidden)
        shared = source == panels.SOURCES[0]
        photo = source in panels.PHOTO_SOURCES
        if composite is not None:
            with picture:
                panels.show_composite(composite, truth, private=photo)
    if shared:
        url.write_state_to_url()
    if composite is None:
        return
    if predictor is None:
        right.info(_("No model could be loaded, so there is nothing to predict (see above)."))
        return
    family = photo_family(manifest, predictor, data) if photo else data
    shown = [
        entry
        for entry in manifest.in_family(family)
        if entry.name in predictor.names and view in (url.ALL_MODELS, entry.loss)
    ]
    if not shown:
        message = _("No {view} model of this training data could be loaded.")
        right.info(message.format(view=view_name(view)))
        return
    names = [entry.name for entry in shown]
    if photo:
        predictions = cache.predict_privately(predictor, composite, names)
    else:
        predictions = cache.predict_models(predictor, signature, composite, names)
    st.session_state.model_calls = predictor.calls
    with right:
        if photo:
            panels.photo_note(shown, anywhere=family == panels.PHOTO_FAMILY)
        panels.decisions_panel(
            predictions, truth, shown, hidden, url.write_state_to_url if shared else None
        )
    left, right = st.columns([1, 3], gap="medium")
    with left:
        cam_class = panels.cam_class_control(truth, predictions)
    with right:
        panels.show_activation_maps(composite, predictions, shown, cam_class, private=photo)
    # A toggle rather than an expander: a closed expander's content still runs every time.
    if st.toggle(_("Why categorical cross-entropy cannot place the threshold"), key=keys.WHY_CCE):
        categorical = [entry for entry in shown if entry.kind.scale_free]
        prediction = predictions[categorical[0].name] if categorical else None
        panels.why_cce_panel(prediction, truth)


def photo_family(manifest, predictor, chosen: str) -> str:
    """The family that answers a student's photo: the models trained on objects anywhere when
    any of them loaded, else the family the page shows."""
    family = panels.PHOTO_FAMILY
    if any(entry.name in predictor.names for entry in manifest.in_family(family)):
        return family
    return chosen


def intro() -> None:
    header.title_bar(_("Multi-label classification: several objects, one image"))
    st.caption(
        _(
            "CIFAR-10 pictures tiled 2x2: one image, **several labels**. One network, three "
            "endings: sigmoids with **binary** or **categorical cross-entropy**, or a "
            "**softmax**. [Train the last layer yourself in the loss lab]({lab})."
        ).format(lab=routes.link(routes.LAB.name, url.language()))
    )


def free_page(context: PageContext) -> None:
    """The workbench and, below it, the test-set report."""
    if context.model_errors:
        errors = context.model_errors.values()
        st.error("\n".join(f"- {messages.translated(message)}" for message in errors))
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


def page() -> None:
    intro()
    context = page_context()
    if context is not None:
        free_page(context)
