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

import streamlit as st

from core.gallery import DEFAULT_PATH as GALLERY_PATH
from demo import panels, report, resources, url

VIEW_NAMES = {url.ALL_MODELS: "side by side", "bce": "BCE", "cce": "CCE", "softmax": "softmax"}


def family_control(manifest) -> str:
    titles = {family.data: family.title for family in manifest.families}
    return st.radio(
        "Training data", list(titles), key="data", horizontal=True, format_func=titles.get
    )


def view_control() -> str:
    return st.radio("Models", url.VIEWS, key="view", horizontal=True, format_func=VIEW_NAMES.get)


def model_choice(manifest) -> tuple[str, str]:
    """(training-data family, view): a change reruns the whole page, the report included."""
    left, right = st.columns([3, 2])
    with left:
        data = family_control(manifest)
    with right:
        view = view_control()
    return data, view


@st.fragment
def workbench(folder: str, data: str, view: str) -> None:
    """Compose (or upload) an image and see what `view` of the `data` family's models say: a
    click here reruns only this."""
    signature = resources.models_signature(folder)
    manifest, _ = resources.manifest_for(folder, signature)
    predictor, _ = resources.load_predictor(folder, signature)
    left, right = st.columns([1, 3], gap="medium")
    with left:
        source = panels.source_control()
        picture = st.container()  # the composite above the controls that make it
        composite, truth = panels.choose_composite(source, str(GALLERY_PATH))
        shared = source == panels.SOURCES[0]
        if composite is not None:
            with picture:
                panels.show_composite(composite, truth)
    if shared:
        url.write_state_to_url()
    if composite is None:
        return
    if predictor is None:
        right.info("No model could be loaded, so there is nothing to predict (see above).")
        return
    predictions = resources.predict_composite(predictor, signature, composite)
    st.session_state.model_calls = predictor.calls
    shown = [
        entry
        for entry in manifest.in_family(data)
        if entry.name in predictions and view in (url.ALL_MODELS, entry.loss)
    ]
    with right:
        if not shown:
            st.info(f"No {VIEW_NAMES[view]} model of this training data could be loaded.")
            return
        panels.decisions_panel(
            predictions, truth, shown, url.write_state_to_url if shared else None
        )
    left, right = st.columns([1, 3], gap="medium")
    with left:
        cam_class = panels.cam_class_control(truth, predictions)
    with right:
        panels.show_activation_maps(composite, predictions, shown, cam_class)
    # A toggle rather than an expander: a closed expander's content still runs every time.
    if st.toggle("Why categorical cross-entropy cannot place the threshold", key="why_cce"):
        categorical = [entry for entry in shown if entry.loss == "cce"]
        prediction = predictions[categorical[0].name] if categorical else None
        panels.why_cce_panel(prediction, truth)


def main() -> None:
    st.set_page_config(
        page_title="Multi-label vs multi-class",
        page_icon="🧩",
        layout="wide",
        initial_sidebar_state="collapsed",
    )
    resources.server_sockets_without_nagle()
    st.title("Multi-label classification: several objects, one image")
    st.caption(
        "CIFAR-10 pictures tiled 2x2 make one image with **several labels at once**. The same "
        "network ends in 10 independent sigmoids trained with **binary cross-entropy** (each "
        "class a yes/no question) or **categorical cross-entropy** (the multi-class loss), or in "
        "a **softmax** (one class per image)."
    )
    folder = resources.models_folder()
    signature = resources.models_signature(folder)
    manifest, problem = resources.manifest_for(folder, signature)
    if manifest is None:
        st.error(problem)
        return
    try:
        sizes = resources.gallery_sizes(str(GALLERY_PATH))
    except ValueError as error:
        st.error(f"{error} Rebuild it with `python -m core.gallery`.")
        return
    problems = url.restore_state_from_url(sizes, [family.data for family in manifest.families])
    if problems:
        st.warning("Some link parameters were ignored: " + "; ".join(problems) + ".")
    _, model_errors = resources.load_predictor(folder, signature)
    for message in model_errors.values():
        st.error(message)
    data, view = model_choice(manifest)
    workbench(folder, data, view)
    st.caption(
        "The page's state is in its address: copy the link to share this composite, "
        "threshold, training data and view."
    )
    st.header("On the test composites")
    report.show_report(manifest, data)
    resources.freeze_loaded_objects()


if __name__ == "__main__":
    main()
