"""Multi-label vs multi-class: a Streamlit demo on 2x2 CIFAR-10 composites.

    streamlit run demo/app.py

Set MULTILABEL_MODELS_DIR to read the models and their JSON from another folder.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core import evaluation
from core.cam import overlay
from core.data import CLASS_NAMES, QUADRANT_NAMES, compose, multi_hot
from core.gallery import DEFAULT_PATH as GALLERY_PATH
from core.gallery import load_gallery
from core.images import ImageError, enlarge, load_upload
from demo import charts

REPO = Path(__file__).resolve().parents[1]
MODEL_LABELS = {"bce": "BCE", "cce": "CCE"}
MODEL_TITLES = {
    "bce": "Binary cross-entropy (multi-label: right)",
    "cce": "Categorical cross-entropy (multi-class: wrong here)",
}
DEFAULT_CLASSES = ("airplane", "cat", "ship", "dog")
SOURCES = ("Compose from CIFAR-10", "Upload one image", "Upload four tiles")
VIEWS = ("both", "bce", "cce")
CCE_FLOOR = 4 * math.log(4)
TRAIN_HINT = "python -m core.train --loss {name} --data ../shared/data/cifar10-jpeg.tar.gz"


def models_folder() -> Path:
    return Path(os.environ.get("MULTILABEL_MODELS_DIR", REPO / "models"))


# ---------------------------------------------------------------------------------------------
# Cached resources and data
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
    from core.inference import Predictor, load_trained_model

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
        return Predictor(models), errors
    except (ValueError, KeyError) as error:
        return None, {
            name: f"The models do not have the expected layers: {error}" for name in models
        }


@st.cache_data(show_spinner=False)
def load_gallery_cached(path: str):
    return load_gallery(path)


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
        if name not in CLASS_NAMES:
            problems.append(f"unknown class {name!r}")
            name = DEFAULT_CLASSES[quadrant]
        st.session_state[f"class_{quadrant}"] = name
        sample = params.get(f"s{quadrant}", "0")
        size = gallery_sizes[CLASS_NAMES.index(name)]
        if not sample.isdigit():
            problems.append(f"sample {sample!r} is not a number")
            sample = "0"
        st.session_state[f"sample_{quadrant}"] = int(sample) % size
    threshold = params.get("t", "0.5")
    try:
        value = float(threshold)
        if not 0.0 <= value <= 1.0:
            raise ValueError
        st.session_state.threshold = round(value, 2)
    except ValueError:
        problems.append(f"threshold {threshold!r} is not between 0 and 1")
        st.session_state.threshold = 0.5
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


def step_sample(quadrant: int, step: int, size: int) -> None:
    key = f"sample_{quadrant}"
    st.session_state[key] = (st.session_state[key] + step) % size


def shuffle_sample(quadrant: int, size: int) -> None:
    st.session_state[f"sample_{quadrant}"] = int(np.random.default_rng().integers(size))


def random_composite(gallery_sizes: dict[int, int]) -> None:
    """The article's rule: four distinct classes in random quadrants, random images of each."""
    rng = np.random.default_rng()
    for quadrant, label in enumerate(rng.permutation(len(CLASS_NAMES))[:4]):
        st.session_state[f"class_{quadrant}"] = CLASS_NAMES[label]
        st.session_state[f"sample_{quadrant}"] = int(rng.integers(gallery_sizes[label]))


def reset_sample(quadrant: int) -> None:
    st.session_state[f"sample_{quadrant}"] = 0


def sidebar_controls() -> tuple[str, float, int, str]:
    """Source, threshold, top-k (0 = off) and model view."""
    with st.sidebar:
        st.header("Controls")
        source = st.radio("Image source", SOURCES, key="source")
        threshold = st.slider(
            "Decision threshold",
            0.0,
            1.0,
            step=0.01,
            key="threshold",
            help="A class is predicted when its sigmoid output is above this value.",
        )
        top_k = st.number_input(
            "Top-k: the image has k labels (0 = use the threshold)",
            min_value=0,
            max_value=10,
            step=1,
            key="top_k",
        )
        view = st.radio(
            "Models",
            VIEWS,
            key="view",
            format_func=lambda v: {"both": "BCE and CCE side by side"}.get(v, v.upper() + " only"),
            horizontal=True,
        )
        st.caption(
            "The state of the page is in its address: copy the link to share this exact "
            "composite, threshold and view."
        )
    return source, float(threshold), int(top_k), view


def compose_controls(gallery: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Four quadrant pickers; returns (composite uint8 64x64x3, (4,) class indices)."""
    sizes = {label: len(images) for label, images in gallery.items()}
    st.button(
        "🎲 Random composite (4 distinct classes)",
        on_click=random_composite,
        args=(sizes,),
        key="random",
    )
    tiles, classes = [], []
    columns = st.columns(4)
    for quadrant, column in enumerate(columns):
        with column:
            name = st.selectbox(
                QUADRANT_NAMES[quadrant],
                CLASS_NAMES,
                key=f"class_{quadrant}",
                on_change=reset_sample,
                args=(quadrant,),
            )
            label = CLASS_NAMES.index(name)
            size = sizes[label]
            sample = st.session_state[f"sample_{quadrant}"] % size
            previous, shuffle, following = st.columns(3)
            previous.button(
                "◀", key=f"prev_{quadrant}", on_click=step_sample, args=(quadrant, -1, size)
            )
            shuffle.button(
                "🔀", key=f"shuffle_{quadrant}", on_click=shuffle_sample, args=(quadrant, size)
            )
            following.button(
                "▶", key=f"next_{quadrant}", on_click=step_sample, args=(quadrant, 1, size)
            )
            st.caption(f"{name} #{sample + 1} of {size}")
            tiles.append(gallery[label][sample])
            classes.append(label)
    return compose(np.stack(tiles)), np.asarray(classes)


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
        "Your image (it is centre-cropped and resized to 64x64)",
        type=["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"],
        key="upload_whole",
    )
    return read_upload(upload, 64)


def upload_tiles_controls() -> np.ndarray | None:
    columns = st.columns(4)
    tiles = []
    for quadrant, column in enumerate(columns):
        with column:
            upload = st.file_uploader(
                QUADRANT_NAMES[quadrant],
                type=["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"],
                key=f"upload_tile_{quadrant}",
            )
            tiles.append(read_upload(upload, 32))
    if any(tile is None for tile in tiles):
        st.info("Upload an image for each of the four quadrants.")
        return None
    return compose(np.stack(tiles))


def show_composite(composite: np.ndarray, classes: np.ndarray | None) -> None:
    st.image(enlarge(composite, 5), caption="The composite the models see (64x64, enlarged)")
    if classes is None:
        st.warning(
            "Your own image is outside the training distribution (four CIFAR-10 tiles of "
            "distinct classes): there is no true label set, and the models may be confidently "
            "wrong."
        )
    else:
        names = sorted({CLASS_NAMES[c] for c in classes}, key=CLASS_NAMES.index)
        st.markdown("**True label set:** " + ", ".join(f"`{n}`" for n in names))
        if len(names) < 4:
            st.caption(
                f"A repeated class counts once, so this composite has {len(names)} labels; "
                "the models were trained on four distinct classes."
            )


# ---------------------------------------------------------------------------------------------
# Predictions
# ---------------------------------------------------------------------------------------------


def decisions_for(probabilities: np.ndarray, threshold: float, top_k: int) -> np.ndarray:
    if top_k:
        return evaluation.top_k(probabilities[None], top_k)[0]
    return evaluation.decide(probabilities, threshold)


def show_model(name, prediction, truth, threshold, top_k, cam_class, composite) -> None:
    probabilities = np.asarray(prediction.probabilities)
    decided = decisions_for(probabilities, threshold, top_k)
    if truth is None:
        outcome = ["above threshold" if d else "below threshold" for d in decided]
    else:
        outcome = evaluation.outcomes(truth, decided)
    frame = pd.DataFrame(
        {"class": list(CLASS_NAMES), "probability": probabilities, "outcome": outcome}
    )
    st.subheader(MODEL_TITLES[name])
    st.altair_chart(charts.probability_chart(frame, None if top_k else threshold), width="stretch")
    predicted = [CLASS_NAMES[i] for i in np.flatnonzero(decided)]
    st.markdown(
        "**Predicted:** " + (", ".join(f"`{n}`" for n in predicted) if predicted else "*nothing*")
    )
    if truth is not None:
        exact = evaluation.exact_match(truth[None], decided[None])
        per_label = evaluation.per_label_accuracy(truth[None], decided[None])
        left, right = st.columns(2)
        left.metric("Exact match", "yes ✅" if exact == 1.0 else "no ❌")
        right.metric("Per-label accuracy", f"{per_label:.0%}")
    heat = overlay(enlarge(composite, 4), prediction.maps[..., cam_class])
    st.image(
        heat,
        caption=f"Where {MODEL_LABELS[name]} sees “{CLASS_NAMES[cam_class]}” "
        f"(class activation map, output {probabilities[cam_class]:.2f})",
    )


def cam_class_control(truth: np.ndarray | None, predictions: dict) -> int:
    if "cam_class" not in st.session_state or st.session_state.cam_class not in CLASS_NAMES:
        if truth is not None:
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


# ---------------------------------------------------------------------------------------------
# Test-set explanations (from the committed JSON only)
# ---------------------------------------------------------------------------------------------


def show_test_results(report: dict | None, threshold: float) -> None:
    if report is None:
        st.info(
            "No test-set evaluation found. Create it with "
            "`python -m core.evaluate models/bce.keras models/cce.keras`."
        )
        return
    rows = []
    for name, result in report["models"].items():
        label = MODEL_LABELS.get(name, name)
        rows.append(
            {
                "": f"{label} (ours)",
                "exact match": result["exact_match"],
                "per-label accuracy": result["per_label_accuracy"],
                "micro F1": result["micro_f1"],
                "macro F1": result["macro_f1"],
                "mAP": result["mean_average_precision"],
            }
        )
    for loss, numbers in evaluation.ARTICLE_RESULTS.items():
        rows.append(
            {
                "": f"{loss.upper()} (article)",
                "exact match": numbers["exact_match"],
                "per-label accuracy": numbers["per_label_accuracy"],
            }
        )
    base = report["baselines"]
    rows.append(
        {
            "": "chance / all-negative",
            "exact match": base["chance_exact_match"],
            "per-label accuracy": base["all_negative_per_label"],
        }
    )
    table = pd.DataFrame(rows).set_index("").astype(float)
    percent = ["exact match", "per-label accuracy"]
    shown = table.apply(
        lambda column: column.map(
            lambda v: "–" if pd.isna(v) else (f"{v:.2%}" if column.name in percent else f"{v:.3f}")
        )
    )
    st.table(shown)
    st.caption(
        f"{report['test_composites']:,} seeded test composites from the CIFAR-10 test split "
        f"({report['data']['source']}), threshold 0.5. Exact match: all 10 decisions right. "
        "Chance exact match = 1/210 (guessing 4 of 10 classes); predicting no label at all "
        "already gets 60% per-label accuracy."
    )
    sweep_rows = []
    for name, result in report["models"].items():
        sweep = result["threshold_sweep"]
        for t, value in zip(sweep["threshold"], sweep["exact_match"], strict=True):
            sweep_rows.append(
                {"model": MODEL_LABELS.get(name, name), "threshold": t, "value": value}
            )
    left, right = st.columns(2)
    with left:
        st.markdown("**Exact match against the threshold**")
        st.altair_chart(charts.sweep_chart(pd.DataFrame(sweep_rows), threshold), width="stretch")
        best = {MODEL_LABELS.get(n, n): r["best_threshold"] for n, r in report["models"].items()}
        st.caption(
            "Best threshold on the test set: "
            + "; ".join(
                f"{n} {b['threshold']:.2f} ({b['exact_match']:.1%})" for n, b in best.items()
            )
            + ". The headline numbers stay at 0.5."
        )
    with right:
        st.markdown("**F1 per class at 0.5**")
        f1_rows = [
            {"model": MODEL_LABELS.get(name, name), "class": CLASS_NAMES[i], "F1": value}
            for name, result in report["models"].items()
            for i, value in enumerate(result["per_class"]["f1"])
        ]
        st.altair_chart(charts.per_class_chart(pd.DataFrame(f1_rows)), width="stretch")


def show_training_curves(histories: dict[str, dict]) -> None:
    if not histories:
        st.info("No training history found next to the models.")
        return
    frame = charts.curves_frame(histories, MODEL_LABELS)
    columns = st.columns(3)
    for column, (metric, title) in zip(columns, charts.CURVE_TITLES.items(), strict=True):
        with column:
            st.markdown(f"**{title}**")
            floor = CCE_FLOOR if metric == "loss" and "cce" in histories else None
            st.altair_chart(
                charts.curves_chart(frame[frame.metric == metric], title, floor),
                width="stretch",
            )
    st.caption(
        "Validation composites come from CIFAR-10 training images held out from training. "
        "The CCE loss flattens out above 4 ln 4 = 5.55: with four positives it cannot go lower."
    )


def show_why_cce_fails(prediction, truth: np.ndarray | None) -> None:
    from core.losses import binary_loss, categorical_loss

    st.markdown(
        "Categorical cross-entropy divides the outputs by their sum before taking the log: "
        "**only the ratios between the outputs matter.** With four true classes the best it can "
        "do is give each a quarter of the mass, so its loss never drops below "
        f"4 ln 4 = {CCE_FLOOR:.3f}. Nothing in the loss says where 0.5 is, so whether an output "
        "lands above the threshold is an accident of training. Multiply the CCE model's outputs "
        "by a factor below and watch its loss stay put while its decisions change; binary "
        "cross-entropy notices at once."
    )
    if prediction is None or truth is None:
        st.info("Compose an image from CIFAR-10 tiles (with its CCE prediction) to try this.")
        return
    probabilities = np.asarray(prediction.probabilities, dtype=np.float32)
    scale = st.slider(
        "Multiply the CCE model's outputs by", 0.05, 1.0, 1.0, step=0.01, key="cce_scale"
    )
    scales = np.linspace(0.05, 1.0, 60, dtype=np.float32)
    scaled = probabilities[None] * scales[:, None]
    targets = np.repeat(truth[None], len(scales), axis=0)
    cce = np.asarray(categorical_loss(targets, scaled))
    bce = np.asarray(binary_loss(targets, scaled))
    frame = pd.concat(
        [
            pd.DataFrame({"scale": scales, "loss": cce, "loss kind": "categorical (CCE)"}),
            pd.DataFrame({"scale": scales, "loss": bce, "loss kind": "binary (BCE)"}),
        ]
    )
    current = probabilities * scale
    decided = current > 0.5
    left, right = st.columns([3, 2])
    with left:
        st.altair_chart(charts.loss_versus_scale_chart(frame, scale), width="stretch")
    with right:
        cce_now = float(np.asarray(categorical_loss(truth[None], current[None]))[0])
        bce_now = float(np.asarray(binary_loss(truth[None], current[None]))[0])
        st.metric("CCE loss", f"{cce_now:.3f}")
        st.metric("BCE loss", f"{bce_now:.3f}")
        predicted = [CLASS_NAMES[i] for i in np.flatnonzero(decided)]
        st.markdown("**Decisions at 0.5:** " + (", ".join(predicted) or "*nothing*"))
        exact = evaluation.exact_match(truth[None], decided[None])
        st.markdown("**Exact match:** " + ("yes ✅" if exact == 1.0 else "no ❌"))


# ---------------------------------------------------------------------------------------------
# Page
# ---------------------------------------------------------------------------------------------


def main() -> None:
    st.set_page_config(page_title="Multi-label vs multi-class", page_icon="🧩", layout="wide")
    st.title("🧩 Multi-label classification: four objects, one image")
    st.markdown(
        "Each image is four CIFAR-10 pictures tiled 2x2, so it has **four labels at once**. "
        "The same network ends in 10 independent sigmoids; one copy was trained with **binary "
        "cross-entropy** (each class is its own yes/no question), the other with **categorical "
        "cross-entropy** (the multi-class loss, which assumes one class per image)."
    )
    folder = str(models_folder())
    try:
        gallery = load_gallery_cached(str(GALLERY_PATH))
    except ValueError as error:
        st.error(f"{error} Rebuild it with `python -m core.gallery --data <CIFAR-10 source>`.")
        return
    sizes = {label: len(images) for label, images in gallery.items()}
    problems = restore_state_from_url(sizes)
    if problems:
        st.warning("Some link parameters were ignored: " + "; ".join(problems) + ".")

    source, threshold, top_k, view = sidebar_controls()
    signature = model_files_signature(folder)
    predictor, model_errors = load_predictor(folder, signature)
    for message in model_errors.values():
        st.error(message)

    st.header("1 · Compose an image")
    composite, truth = None, None
    if source == SOURCES[0]:
        composite, classes = compose_controls(gallery)
        truth = multi_hot(classes[None])[0]
    elif source == SOURCES[1]:
        composite, classes = upload_whole_controls(), None
    else:
        composite, classes = upload_tiles_controls(), None
    if composite is None and source == SOURCES[1]:
        st.info("Choose an image to upload above.")
    elif predictor is None:
        show_composite(composite, classes)
        st.info("No model could be loaded, so there is nothing to predict (see above).")

    predictions = {}
    if composite is not None and predictor is not None:
        st.header("2 · What the models say")
        predictions = predict_composite(predictor, signature, composite)
        st.session_state.model_calls = predictor.calls
        shown = [n for n in predictor.names if view in ("both", n)]
        left, *columns = st.columns([2, 3, 3] if len(shown) == 2 else [2, 4])
        with left:
            show_composite(composite, classes)
            cam_class = cam_class_control(truth, predictions)
        if not shown:
            columns[0].info(f"The {view.upper()} model is not available.")
        for column, name in zip(columns, shown, strict=False):
            with column:
                show_model(name, predictions[name], truth, threshold, top_k, cam_class, composite)

    st.header("3 · The test set")
    report = load_json(str(Path(folder) / "evaluation.json"))
    histories = {
        name: history
        for name in MODEL_LABELS
        if (history := load_json(str(Path(folder) / f"{name}.history.json")))
    }
    results, curves, why = st.tabs(["Results", "Training curves", "Why CCE fails"])
    with results:
        show_test_results(report, threshold)
    with curves:
        show_training_curves(histories)
    with why:
        show_why_cce_fails(predictions.get("cce"), truth)

    if source == SOURCES[0]:
        write_state_to_url()


if __name__ == "__main__":
    main()
