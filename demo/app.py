"""Multi-label vs multi-class: a Streamlit demo on 2x2 CIFAR-10 composites.

    streamlit run demo/app.py

Set MULTILABEL_MODELS_DIR to read the models and their JSON from another folder.

A class of students shares one server process, so every interaction must cost little: the
composite and the predictions live in a fragment (a click there reruns only that part), the
threshold and top-k in a fragment inside it (a move re-decides from cached predictions), and
every chart is a Vega-Lite spec built once per process, with only its data filled in per run.
"""

from __future__ import annotations

import gc
import io
import json
import math
import os
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from core import evaluation
from core.cam import overlay
from core.data import CLASS_NAMES, QUADRANT_NAMES, TILE_SIZE, compose
from core.evaluation import THRESHOLD
from core.gallery import DEFAULT_PATH as GALLERY_PATH
from core.gallery import load_gallery
from core.images import ImageError, enlarge, load_upload
from demo import charts, sockets

REPO = Path(__file__).resolve().parents[1]
MODEL_LABELS = {"bce": "BCE", "cce": "CCE"}
MODEL_TITLES = {
    "bce": "BCE · sigmoids + binary cross-entropy",
    "cce": "CCE · sigmoids + categorical cross-entropy",
}
DEFAULT_CLASSES = ("airplane", "cat", "ship", "dog")
EMPTY = "empty"  # a quadrant choice: no object, a flat grey tile
EMPTY_GREY = 128
QUADRANT_CHOICES = (*CLASS_NAMES, EMPTY)
SOURCES = ("Compose from CIFAR-10", "Upload one image", "Upload four tiles")
VIEWS = ("both", "bce", "cce")
CCE_FLOOR = 4 * math.log(4)
TRAIN_HINT = "python -m core.train --loss {name}"
CHART_HEIGHT = 340  # pixels: ten bars, readable from the back of a classroom
IMAGE_SCALE = 4  # the 64x64 composite and its activation maps are shown 4x enlarged: 256 pixels
UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]


def models_folder() -> Path:
    return Path(os.environ.get("MULTILABEL_MODELS_DIR", REPO / "models"))


# ---------------------------------------------------------------------------------------------
# Cached resources, data and chart specs
# ---------------------------------------------------------------------------------------------


def model_files_signature(folder: str) -> tuple:
    """Size and modification time of each model file, so a replaced file is loaded afresh."""
    signature = []
    for name in MODEL_LABELS:
        path = Path(folder) / f"{name}.keras"
        stat = path.stat() if path.is_file() else None
        signature.append((name, stat.st_size, stat.st_mtime_ns) if stat else (name, None, None))
    return tuple(signature)


@st.cache_resource(show_spinner="Loading the models…", max_entries=4)
def load_predictor(folder: str, signature: tuple):
    """(Predictor or None, {model name: error message}) for the models found in `folder`."""
    from core.inference import Predictor, load_trained_model, one_thread_per_call

    one_thread_per_call()
    models, errors = {}, {}
    for name in MODEL_LABELS:
        path = Path(folder) / f"{name}.keras"
        hint = TRAIN_HINT.format(name=name)
        if not path.is_file():
            errors[name] = f"Model file `{path}` is missing. Train it with `{hint}`."
            continue
        try:
            models[name] = load_trained_model(path)
        except Exception as error:  # A damaged file can fail in many ways inside Keras.
            errors[name] = (
                f"Model file `{path}` could not be loaded ({type(error).__name__}). "
                f"Re-create it with `{hint}`."
            )
    if not models:
        return None, errors
    try:
        predictor = Predictor(models)
    except (ValueError, KeyError) as error:
        return None, {
            name: f"The models do not have the expected layers: {error}" for name in models
        }
    return predictor, errors


@st.cache_resource(show_spinner=False)
def freeze_loaded_objects() -> None:
    """Once per process, after the first page: take every object alive now out of the garbage
    collector's reach.

    After every run Streamlit clears the Keras session, which collects garbage: with TensorFlow
    loaded a full collection walks ~370,000 objects (~170 ms). The modules, models, compiled
    functions and caches loaded by the first page live as long as the process, so freezing them
    leaves each collection only the objects the runs create themselves.
    """
    gc.freeze()


@st.cache_resource(show_spinner=False)
def server_sockets_without_nagle() -> int:
    """Once per process: TCP_NODELAY on the server's sockets (see `demo.sockets`)."""
    return sockets.disable_nagle()


@st.cache_resource(show_spinner=False)
def load_gallery_cached(path: str) -> dict[int, np.ndarray]:
    """The gallery, shared read-only by every session: `st.cache_data` would copy its 900 KB
    into every run of the composite's fragment."""
    gallery = load_gallery(path)
    for images in gallery.values():
        images.flags.writeable = False
    return gallery


def gallery_sizes(path: str) -> dict[int, int]:
    return {label: len(images) for label, images in load_gallery_cached(path).items()}


@st.cache_data(show_spinner=False)
def load_json(path: str):
    """A JSON file's content, or None when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


@st.cache_data(show_spinner=False, max_entries=512)
def predict_composite(_predictor, signature: tuple, composite: np.ndarray):
    """Both models' predictions for one composite, cached: a slider move costs no model call."""
    return _predictor.predict(composite[None])[0]


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


@st.cache_data(show_spinner=False, max_entries=512)
def composite_png(composite: np.ndarray) -> bytes:
    """The composite enlarged as PNG bytes, encoded once per composite."""
    return png_bytes(enlarge(composite, IMAGE_SCALE))


@st.cache_data(show_spinner=False, max_entries=2048)
def activation_map_png(composite: np.ndarray, activation_map: np.ndarray) -> bytes:
    """A class activation map over the composite, enlarged, as PNG bytes. Blending before the
    (nearest-neighbour) enlargement gives the same pixels for a sixteenth of the work."""
    return png_bytes(enlarge(overlay(composite, activation_map), IMAGE_SCALE))


@st.cache_data(show_spinner=False)
def probability_template(threshold_rule: bool, known_truth: bool) -> dict:
    """The bar chart of one model's outputs, without its data (datasets "bars", "threshold")."""
    import altair as alt

    outcomes = evaluation.OUTCOME_NAMES if known_truth else ("above threshold", "below threshold")
    rule = alt.NamedData(name="threshold") if threshold_rule else None
    return charts.probability_chart(alt.NamedData(name="bars"), rule, outcomes).to_dict()


@st.cache_data(show_spinner=False)
def loss_versus_scale_template() -> dict:
    """The loss-against-scale chart, without its data (datasets "losses", "scale")."""
    import altair as alt

    return charts.loss_versus_scale_chart(
        alt.NamedData(name="losses"), alt.NamedData(name="scale")
    ).to_dict()


def file_stamp(path: Path) -> int | None:
    """The file's modification time, so a cache keyed by it notices a replaced file."""
    return path.stat().st_mtime_ns if path.is_file() else None


def percent_or_number(column: str, value) -> str:
    if value is None:
        return "–"
    return f"{value:.2%}" if column in ("exact match", "per-label accuracy") else f"{value:.3f}"


@st.cache_data(show_spinner=False)
def results_markdown(path: str, stamp: int | None) -> str | None:
    """The test-set table of the models beside the article and the baselines, as Markdown."""
    report = load_json(path)
    if report is None:
        return None
    columns = ("exact match", "per-label accuracy", "micro F1", "macro F1", "mAP")
    keys = ("exact_match", "per_label_accuracy", "micro_f1", "macro_f1", "mean_average_precision")
    rows = []
    for name, result in report["models"].items():
        rows.append((f"{MODEL_LABELS.get(name, name)} (ours)", [result[k] for k in keys]))
    for loss, numbers in evaluation.ARTICLE_RESULTS.items():
        values = [numbers["exact_match"], numbers["per_label_accuracy"], None, None, None]
        rows.append((f"{loss.upper()} (article)", values))
    base = report["baselines"]
    chance = [base["chance_exact_match"], base["all_negative_per_label"], None, None, None]
    rows.append(("chance / all-negative", chance))
    lines = ["| | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for label, values in rows:
        cells = [percent_or_number(c, v) for c, v in zip(columns, values, strict=True)]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


@st.cache_data(show_spinner=False)
def test_set_specs(path: str, stamp: int | None) -> dict | None:
    """Vega-Lite specs of the threshold sweep and the per-class F1, built once per file."""
    import pandas as pd

    report = load_json(path)
    if report is None:
        return None
    sweep_rows, f1_rows = [], []
    for name, result in report["models"].items():
        model = MODEL_LABELS.get(name, name)
        sweep = result["threshold_sweep"]
        for t, value in zip(sweep["threshold"], sweep["exact_match"], strict=True):
            sweep_rows.append({"model": model, "threshold": t, "value": value})
        for index, value in enumerate(result["per_class"]["f1"]):
            f1_rows.append({"model": model, "class": CLASS_NAMES[index], "F1": value})
    by_objects = [
        {"model": MODEL_LABELS.get(name, name), "objects": int(count), **numbers}
        for name, result in report["models"].items()
        for count, numbers in result["by_set"].get("one_to_four", {}).get("by_objects", {}).items()
    ]
    return {
        "by_objects": by_objects,
        "by_objects_chart": charts.with_arrow_datasets(
            charts.by_objects_chart(pd.DataFrame(by_objects)).to_dict()
        )
        if by_objects
        else None,
        "sweep": charts.with_arrow_datasets(
            charts.sweep_chart(pd.DataFrame(sweep_rows), THRESHOLD).to_dict()
        ),
        "f1": charts.with_arrow_datasets(charts.per_class_chart(pd.DataFrame(f1_rows)).to_dict()),
        "best": {MODEL_LABELS.get(n, n): r["best_threshold"] for n, r in report["models"].items()},
        "composites": report["test_composites"],
    }


@st.cache_data(show_spinner=False)
def curve_specs(folder: str, stamps: tuple) -> dict[str, dict]:
    """{metric: Vega-Lite spec} of the training curves of the models with a history file."""
    histories = {
        name: history
        for name in MODEL_LABELS
        if (history := load_json(str(Path(folder) / f"{name}.history.json")))
    }
    if not histories:
        return {}
    frame = charts.curves_frame(histories, MODEL_LABELS)
    specs = {}
    for metric in charts.CURVE_TITLES:
        floor = CCE_FLOOR if metric == "loss" and "cce" in histories else None
        title = charts.CURVE_TITLES[metric]
        chart = charts.curves_chart(frame[frame.metric == metric], title, floor)
        specs[metric] = charts.with_arrow_datasets(chart.to_dict())
    return specs


# ---------------------------------------------------------------------------------------------
# State shared through the URL
# ---------------------------------------------------------------------------------------------


def restore_state_from_url(gallery_sizes: dict[int, int]) -> list[str]:
    """Fill session state from the query string once per session; returns problems found."""
    if st.session_state.get("restored"):
        return []
    st.session_state.restored = True
    params, problems = st.query_params, []
    for quadrant in range(4):
        name = params.get(f"c{quadrant}", DEFAULT_CLASSES[quadrant])
        if name not in QUADRANT_CHOICES:
            problems.append(f"unknown class {name!r}")
            name = DEFAULT_CLASSES[quadrant]
        st.session_state[f"class_{quadrant}"] = name
        sample = params.get(f"s{quadrant}", "0")
        size = gallery_sizes[CLASS_NAMES.index(name)] if name != EMPTY else 1
        if not sample.isdigit():
            problems.append(f"sample {sample!r} is not a number")
            sample = "0"
        st.session_state[f"sample_{quadrant}"] = int(sample) % size
    threshold = params.get("t", f"{THRESHOLD:.2f}")
    try:
        value = float(threshold)
        if not 0.0 <= value <= 1.0:
            raise ValueError
        st.session_state.threshold = round(value, 2)
    except ValueError:
        problems.append(f"threshold {threshold!r} is not between 0 and 1")
        st.session_state.threshold = THRESHOLD
    k = params.get("k", "0")
    st.session_state.top_k = int(k) if k.isdigit() and 0 <= int(k) <= 10 else 0
    if k != str(st.session_state.top_k):
        problems.append(f"k {k!r} is not 0..10")
    view = params.get("view", "both")
    st.session_state.view = view if view in VIEWS else "both"
    if view not in VIEWS:
        problems.append(f"view {view!r} is not one of {', '.join(VIEWS)}")
    return problems


def write_state_to_url() -> None:
    state = st.session_state
    wanted = {}
    for quadrant in range(4):
        wanted[f"c{quadrant}"] = state[f"class_{quadrant}"]
        wanted[f"s{quadrant}"] = str(state[f"sample_{quadrant}"])
    wanted["t"] = f"{state.threshold:.2f}"
    wanted["k"] = str(state.top_k)
    wanted["view"] = state.view
    if dict(st.query_params) != wanted:
        st.query_params.from_dict(wanted)


# ---------------------------------------------------------------------------------------------
# UI pieces: each returns what the user chose
# ---------------------------------------------------------------------------------------------


def random_composite(sizes: dict[int, int]) -> None:
    """The article's rule: four distinct classes in random quadrants, random images of each."""
    rng = np.random.default_rng()
    for quadrant, label in enumerate(rng.permutation(len(CLASS_NAMES))[:4]):
        st.session_state[f"class_{quadrant}"] = CLASS_NAMES[label]
        st.session_state[f"sample_{quadrant}"] = int(rng.integers(sizes[label]))


def reset_sample(quadrant: int) -> None:
    st.session_state[f"sample_{quadrant}"] = 0


def source_control() -> str:
    short = {SOURCES[0]: "CIFAR-10 tiles", SOURCES[1]: "Your image", SOURCES[2]: "Your 4 tiles"}
    return st.radio("Image source", SOURCES, key="source", horizontal=True, format_func=short.get)


def view_control() -> str:
    return st.radio(
        "Models",
        VIEWS,
        key="view",
        horizontal=True,
        format_func=lambda v: {"both": "BCE and CCE side by side"}.get(v, v.upper() + " only"),
    )


def decision_controls() -> tuple[float, int]:
    """Threshold and top-k (0 = use the threshold)."""
    left, right = st.columns([3, 2])
    threshold = left.slider(
        "Decision threshold",
        0.0,
        1.0,
        step=0.01,
        key="threshold",
        help="A class is predicted present when its output is at least this value.",
    )
    top_k = right.number_input(
        "Top-k (0 = use the threshold)",
        min_value=0,
        max_value=10,
        step=1,
        key="top_k",
    )
    return float(threshold), int(top_k)


def quadrant_picker(quadrant: int, sizes: dict[int, int]) -> tuple[int | None, int]:
    """A class and one of its images for one quadrant, or nothing; returns (class index or
    None for an empty quadrant, sample index)."""
    name = st.selectbox(
        QUADRANT_NAMES[quadrant],
        QUADRANT_CHOICES,
        key=f"class_{quadrant}",
        on_change=reset_sample,
        args=(quadrant,),
    )
    if name == EMPTY:
        st.session_state[f"sample_{quadrant}"] = 0
        return None, 0
    label = CLASS_NAMES.index(name)
    st.session_state[f"sample_{quadrant}"] %= sizes[label]
    st.number_input(
        f"{QUADRANT_NAMES[quadrant]} image",
        min_value=0,
        max_value=sizes[label] - 1,
        step=1,
        key=f"sample_{quadrant}",
        help="Which of the gallery's images of this class: − and + step through them.",
    )
    return label, st.session_state[f"sample_{quadrant}"]


def compose_controls(gallery: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Four quadrant pickers laid out like the composite; returns (composite uint8 64x64x3,
    its multi-hot label: the classes present, each once)."""
    sizes = {label: len(images) for label, images in gallery.items()}
    st.button(
        "🎲 Random composite (4 distinct classes)",
        on_click=random_composite,
        args=(sizes,),
        key="random",
        width="stretch",
    )
    picked = {}
    for row in range(2):
        for column, quadrant in zip(st.columns(2), (2 * row, 2 * row + 1), strict=True):
            with column:
                picked[quadrant] = quadrant_picker(quadrant, sizes)
    empty_tile = np.full((TILE_SIZE, TILE_SIZE, 3), EMPTY_GREY, np.uint8)
    tiles = [
        empty_tile if label is None else gallery[label][sample]
        for label, sample in (picked[q] for q in range(4))
    ]
    truth = np.zeros(len(CLASS_NAMES), np.float32)
    truth[[label for label, _ in picked.values() if label is not None]] = 1.0
    return compose(np.stack(tiles)), truth


def read_upload(upload, size: int) -> np.ndarray | None:
    """An uploaded file as a size x size RGB array, or None after showing why it is unusable."""
    if upload is None:
        return None
    try:
        return load_upload(upload.getvalue(), size, name=f"“{upload.name}”")
    except ImageError as error:
        st.error(str(error))
        return None


def upload_whole_controls() -> np.ndarray | None:
    upload = st.file_uploader(
        "Your image (centre-cropped and resized to 64x64)",
        type=UPLOAD_TYPES,
        key="upload_whole",
    )
    composite = read_upload(upload, 64)
    if composite is None:
        st.info("Choose an image to upload above.")
    return composite


def upload_tiles_controls() -> np.ndarray | None:
    tiles = []
    for quadrant in range(4):
        upload = st.file_uploader(
            QUADRANT_NAMES[quadrant], type=UPLOAD_TYPES, key=f"upload_tile_{quadrant}"
        )
        tiles.append(read_upload(upload, 32))
    if any(tile is None for tile in tiles):
        st.info("Upload an image for each of the four quadrants.")
        return None
    return compose(np.stack(tiles))


def choose_composite(source: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(composite or None while nothing usable is uploaded, its multi-hot truth or None)."""
    if source == SOURCES[0]:
        return compose_controls(load_gallery_cached(str(GALLERY_PATH)))
    if source == SOURCES[1]:
        return upload_whole_controls(), None
    return upload_tiles_controls(), None


def show_composite(composite: np.ndarray, truth: np.ndarray | None) -> None:
    st.image(
        composite_png(composite),
        caption="What the models see (64x64, enlarged)",
        width="content",
        output_format="PNG",
    )
    if truth is None:
        st.warning(
            "Your own image is outside the training distribution (four CIFAR-10 tiles of "
            "distinct classes): there is no true label set, and the models may be confidently "
            "wrong."
        )
        return
    names = [CLASS_NAMES[i] for i in np.flatnonzero(truth)]
    st.markdown(
        "**True label set:** " + (", ".join(f"`{n}`" for n in names) if names else "*nothing*")
    )
    if len(names) < 4:
        st.caption(
            f"This composite has {len(names)} label{'s' if len(names) != 1 else ''} (a repeated "
            "class counts once, an empty quadrant not at all); the models only ever saw four "
            "distinct classes. Do they still answer four?"
        )


# ---------------------------------------------------------------------------------------------
# Predictions
# ---------------------------------------------------------------------------------------------


def decisions_for(probabilities: np.ndarray, threshold: float, top_k: int) -> np.ndarray:
    if top_k:
        return evaluation.top_k(probabilities[None], top_k)[0]
    return evaluation.decide(probabilities, threshold)


def show_decisions(name, prediction, truth, threshold: float, top_k: int) -> None:
    """One model's outputs as bars against the threshold, its predicted set and its scores."""
    probabilities = np.asarray(prediction.probabilities)
    decided = decisions_for(probabilities, threshold, top_k)
    if truth is None:
        outcome = ["above threshold" if d else "below threshold" for d in decided]
    else:
        outcome = evaluation.outcomes(truth, decided)
    bars = [
        {"class": c, "probability": float(p), "outcome": o}
        for c, p, o in zip(CLASS_NAMES, probabilities, outcome, strict=True)
    ]
    template = probability_template(not top_k, truth is not None)
    spec = charts.with_data(template, bars=bars, threshold=[{"threshold": threshold}])
    st.markdown(f"**{MODEL_TITLES[name]}**")
    st.vega_lite_chart(spec, width="stretch", height=CHART_HEIGHT)
    predicted = [CLASS_NAMES[i] for i in np.flatnonzero(decided)]
    st.markdown(
        "**Predicted:** " + (", ".join(f"`{n}`" for n in predicted) if predicted else "*nothing*")
    )
    if truth is not None:
        exact = evaluation.exact_match(truth[None], decided[None])
        per_label = evaluation.per_label_accuracy(truth[None], decided[None])
        st.markdown(
            f"Exact match: **{'yes ✅' if exact == 1.0 else 'no ❌'}** · "
            f"per-label accuracy: **{per_label:.0%}**"
        )


@st.fragment
def decisions_panel(predictions: dict, truth: np.ndarray | None, shown: list, shared: bool):
    """Threshold and top-k with every shown model's decisions: a move reruns only this part."""
    threshold, top_k = decision_controls()
    for column, name in zip(st.columns(len(shown)), shown, strict=True):
        with column:
            show_decisions(name, predictions[name], truth, threshold, top_k)
    if shared:
        write_state_to_url()


def cam_class_control(truth: np.ndarray | None, predictions: dict) -> int:
    if "cam_class" not in st.session_state or st.session_state.cam_class not in CLASS_NAMES:
        if truth is not None and truth.any():
            default = int(np.flatnonzero(truth)[0])
        else:
            default = int(np.argmax(next(iter(predictions.values())).probabilities))
        st.session_state.cam_class = CLASS_NAMES[default]
    name = st.selectbox(
        "Class activation map for class",
        CLASS_NAMES,
        key="cam_class",
        help="Which part of the image made the model say this class? The map is exact for this "
        "architecture: the Dense weights of the class applied to the last conv block.",
    )
    return CLASS_NAMES.index(name)


def show_activation_maps(composite, predictions: dict, shown: list, cam_class: int) -> None:
    with st.container(horizontal=True):
        for name in shown:
            prediction = predictions[name]
            st.image(
                activation_map_png(composite, prediction.maps[..., cam_class]),
                caption=f"Where {MODEL_LABELS[name]} sees “{CLASS_NAMES[cam_class]}” "
                f"(output {prediction.probabilities[cam_class]:.2f})",
                width="content",
                output_format="PNG",
            )


def loss_rows(probabilities: np.ndarray, truth: np.ndarray) -> list[dict]:
    """Both losses of the composite when every output is multiplied by 0.05 .. 1."""
    scales = np.linspace(0.05, 1.0, 60)
    scaled = probabilities[None] * scales[:, None]
    targets = np.repeat(truth[None], len(scales), axis=0)
    losses = {
        "categorical (CCE)": evaluation.categorical_cross_entropy(targets, scaled),
        "binary (BCE)": evaluation.binary_cross_entropy(targets, scaled),
    }
    return [
        {"scale": float(scale), "loss": float(value), "loss kind": kind}
        for kind, values in losses.items()
        for scale, value in zip(scales, values, strict=True)
    ]


@st.fragment
def why_cce_panel(prediction, truth: np.ndarray | None) -> None:
    st.markdown(
        "Categorical cross-entropy divides the outputs by their sum before taking the log: "
        "**only the ratios between the outputs matter.** With four true classes the best it can "
        "do is give each a quarter of the mass, so its loss never drops below "
        f"4 ln 4 = {CCE_FLOOR:.3f}. Nothing in the loss says where the threshold is, so whether "
        "an output lands above it is an accident of training. Multiply the CCE model's outputs "
        "by a factor below and watch its loss stay put while its decisions change; binary "
        "cross-entropy notices at once."
    )
    if prediction is None or truth is None:
        st.info("Compose an image from CIFAR-10 tiles (with its CCE prediction) to try this.")
        return
    probabilities = np.asarray(prediction.probabilities, dtype=np.float64)
    scale = st.slider(
        "Multiply the CCE model's outputs by", 0.05, 1.0, 1.0, step=0.01, key="cce_scale"
    )
    current = probabilities * scale
    decided = evaluation.decide(current, THRESHOLD)
    left, right = st.columns([3, 2])
    spec = charts.with_data(
        loss_versus_scale_template(),
        losses=loss_rows(probabilities, truth),
        scale=[{"scale": scale}],
    )
    left.vega_lite_chart(spec, width="stretch")
    with right:
        cce_now = float(evaluation.categorical_cross_entropy(truth, current))
        bce_now = float(evaluation.binary_cross_entropy(truth, current))
        st.metric("CCE loss", f"{cce_now:.3f}")
        st.metric("BCE loss", f"{bce_now:.3f}")
        predicted = [CLASS_NAMES[i] for i in np.flatnonzero(decided)]
        st.markdown(f"**Decisions at {THRESHOLD}:** " + (", ".join(predicted) or "*nothing*"))
        exact = evaluation.exact_match(truth[None], decided[None])
        st.markdown("**Exact match:** " + ("yes ✅" if exact == 1.0 else "no ❌"))


@st.fragment
def workbench(folder: str) -> None:
    """Compose (or upload) an image and see what the models say: a click here reruns only this."""
    signature = model_files_signature(folder)
    predictor, _ = load_predictor(folder, signature)
    left, right = st.columns([1, 2], gap="large")
    with left:
        source = source_control()
        picture = st.container()  # the composite above the controls that make it
        composite, truth = choose_composite(source)
        if source == SOURCES[0]:
            write_state_to_url()
        if composite is not None:
            with picture:
                show_composite(composite, truth)
    with right:
        view = view_control()
    if composite is None:
        return
    if predictor is None:
        right.info("No model could be loaded, so there is nothing to predict (see above).")
        return
    predictions = predict_composite(predictor, signature, composite)
    st.session_state.model_calls = predictor.calls
    shown = [name for name in predictor.names if view in ("both", name)]
    with right:
        if not shown:
            st.info(f"The {view.upper()} model is not available.")
            return
        decisions_panel(predictions, truth, shown, shared=source == SOURCES[0])
    left, right = st.columns([1, 2], gap="large")
    with left:
        cam_class = cam_class_control(truth, predictions)
    with right:
        show_activation_maps(composite, predictions, shown, cam_class)
    # A toggle rather than an expander: a closed expander's content still runs every time.
    if st.toggle("Why categorical cross-entropy cannot place the threshold", key="why_cce"):
        why_cce_panel(predictions.get("cce"), truth)


# ---------------------------------------------------------------------------------------------
# Test-set explanations (from the committed JSON only)
# ---------------------------------------------------------------------------------------------


def show_test_results(folder: str) -> None:
    path = Path(folder) / "evaluation.json"
    table = results_markdown(str(path), file_stamp(path))
    specs = test_set_specs(str(path), file_stamp(path))
    if table is None or specs is None:
        st.info(
            "No test-set evaluation found. Create it with "
            "`python -m core.evaluate models/bce.keras models/cce.keras`."
        )
        return
    st.markdown(table)
    st.caption(
        f"{specs['composites']:,} seeded test composites from the CIFAR-10 test split, "
        f"threshold {THRESHOLD}. Exact match: all 10 decisions "
        "right. Chance exact match = 1/210 (guessing 4 of 10 classes); predicting no label at "
        "all already gets 60% per-label accuracy."
    )
    left, right = st.columns(2)
    with left:
        st.markdown("**Exact match against the threshold**")
        st.vega_lite_chart(specs["sweep"], width="stretch")
        st.caption(
            "Best threshold on the test set: "
            + "; ".join(
                f"{n} {b['threshold']:.2f} ({b['exact_match']:.1%})"
                for n, b in specs["best"].items()
            )
            + f". The dashed line and the headline numbers are at {THRESHOLD}."
        )
    with right:
        st.markdown(f"**F1 per class at {THRESHOLD}**")
        st.vega_lite_chart(specs["f1"], width="stretch")


def show_by_objects(folder: str) -> None:
    path = Path(folder) / "evaluation.json"
    specs = test_set_specs(str(path), file_stamp(path))
    if specs is None or specs["by_objects_chart"] is None:
        st.info("No evaluation on composites with one to four objects found.")
        return
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**Exact match on composites with one to four objects**")
        st.vega_lite_chart(specs["by_objects_chart"], width="stretch")
    with right:
        st.markdown("**How many labels the models answer**")
        rows = ["| objects | true labels | " + " | ".join(MODEL_LABELS.values()) + " |"]
        rows.append("|---" * (2 + len(MODEL_LABELS)) + "|")
        for count in ("1", "2", "3", "4"):
            found = {r["model"]: r for r in specs["by_objects"] if str(r["objects"]) == count}
            if not found:
                continue
            true_labels = next(iter(found.values()))["mean_true_labels"]
            answers = [
                f"{found[label]['mean_predicted_labels']:.2f}" if label in found else "–"
                for label in MODEL_LABELS.values()
            ]
            rows.append(f"| {count} | {true_labels:.2f} | " + " | ".join(answers) + " |")
        st.markdown("\n".join(rows))
    st.caption(
        f"{specs['composites']:,} test composites with 1, 2, 3 or 4 CIFAR-10 objects (a class may "
        "repeat) and flat quadrants of a random colour, a quarter of each; threshold "
        f"{THRESHOLD}. Both models learned only from composites with four distinct classes."
    )


def show_training_curves(folder: str) -> None:
    stamps = tuple(file_stamp(Path(folder) / f"{name}.history.json") for name in MODEL_LABELS)
    specs = curve_specs(folder, stamps)
    if not specs:
        st.info("No training history found next to the models.")
        return
    for column, (metric, spec) in zip(st.columns(len(specs)), specs.items(), strict=True):
        with column:
            st.markdown(f"**{charts.CURVE_TITLES[metric]}**")
            st.vega_lite_chart(spec, width="stretch")
    st.caption(
        "Validation composites come from CIFAR-10 training images held out from training. "
        "The CCE loss flattens out above 4 ln 4 = 5.55: with four positives it cannot go lower."
    )


# ---------------------------------------------------------------------------------------------
# Page
# ---------------------------------------------------------------------------------------------


def main() -> None:
    st.set_page_config(
        page_title="Multi-label vs multi-class",
        page_icon="🧩",
        layout="wide",
        initial_sidebar_state="collapsed",
    )
    server_sockets_without_nagle()
    st.title("🧩 Multi-label classification: four objects, one image")
    st.caption(
        "Four CIFAR-10 pictures tiled 2x2 make one image with **four labels at once**. The same "
        "network ends in 10 independent sigmoids; one copy learned with **binary cross-entropy** "
        "(each class a yes/no question), the other with **categorical cross-entropy** (the "
        "multi-class loss, which expects one class per image)."
    )
    folder = str(models_folder())
    try:
        sizes = gallery_sizes(str(GALLERY_PATH))
    except ValueError as error:
        st.error(f"{error} Rebuild it with `python -m core.gallery`.")
        return
    problems = restore_state_from_url(sizes)
    if problems:
        st.warning("Some link parameters were ignored: " + "; ".join(problems) + ".")

    _, model_errors = load_predictor(folder, model_files_signature(folder))
    for message in model_errors.values():
        st.error(message)
    workbench(folder)
    st.caption(
        "The page's state is in its address: copy the link to share this composite, "
        "threshold and view."
    )

    st.header("On the 10,000 test composites")
    results, objects, curves = st.tabs(["Results", "One to four objects", "Training curves"])
    with results:
        show_test_results(folder)
    with objects:
        show_by_objects(folder)
    with curves:
        show_training_curves(folder)
    freeze_loaded_objects()


if __name__ == "__main__":
    main()
