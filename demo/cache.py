"""What the process keeps between runs and shares with every session: the manifest and the models,
the gallery, the lab's features, predictions, encoded images and chart templates. Models live in
`st.cache_resource` (one copy per process); arrays, bytes and specs in `st.cache_data`. The first
load of something slow shows a spinner in the page's language (`once_per_process`)."""

from __future__ import annotations

import base64
import io
import json
import os
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

from core import evaluation
from core.cam import overlay
from core.gallery import load_gallery
from core.lab_features import DEFAULT_PATH, load_features
from core.manifest import MANIFEST_NAME, ManifestError, load_manifest
from demo import charts
from demo.i18n import N_, _
from demo.messages import Message, train_hint

REPO = Path(__file__).resolve().parents[1]


IMAGE_SCALE = 4  # the 64x64 composite and its activation maps are shown 4x enlarged: 256 pixels


# Wide on the page: the browser enlarges the 64x64 pictures itself, pixels kept square by the
# page's style (`image-rendering: pixelated`), so the server encodes and sends a sixteenth.
SHOWN_WIDTH = 64 * IMAGE_SCALE


def models_folder() -> str:
    """The folder of `models.json` and the models: `MULTILABEL_MODELS_DIR` or `models/`."""
    return str(Path(os.environ.get("MULTILABEL_MODELS_DIR", REPO / "models")))


def file_stamp(path: Path) -> int | None:
    """The file's modification time, so a cache keyed by it notices a replaced file."""
    return path.stat().st_mtime_ns if path.is_file() else None


def models_signature(folder: str) -> tuple:
    """The manifest's and every listed model file's size and time: a replaced file reloads.
    The manifest itself is parsed once per version of its file."""
    stamp = file_stamp(Path(folder) / MANIFEST_NAME)
    signature = [("manifest", stamp)]
    manifest = manifest_at(folder, stamp)[0]
    for model in manifest.models if manifest else ():
        stat = model.file.stat() if model.file.is_file() else None
        signature.append((model.name, stat.st_size, stat.st_mtime_ns) if stat else (model.name,))
    return tuple(signature)


@st.cache_resource(show_spinner=False, max_entries=4)
def manifest_at(folder: str, stamp: int | None):
    """(Manifest or None, error message or None) of the manifest file of time `stamp`."""
    try:
        return load_manifest(folder), None
    except ManifestError as error:
        return None, str(error)


def manifest_for(folder: str, signature: tuple):
    """(Manifest or None, error message or None) for a `models_signature`."""
    return manifest_at(folder, signature[0][1])


LOADING_MODELS = N_("Loading the models…")


_LOADED: set[tuple] = set()  # what this process has loaded once: (loader's name, arguments)


def once_per_process(message: str, load, *arguments):
    """`load(*arguments)`, a `st.cache_resource` function: the first call in this process shows
    a spinner with `message` in the page's language; later calls return the cached value at
    once (a spinner would only flicker)."""
    key = (load.__name__, arguments)
    if key in _LOADED:
        return load(*arguments)
    with st.spinner(_(message)):
        loaded = load(*arguments)
    _LOADED.add(key)
    return loaded


def load_predictor(folder: str, signature: tuple):
    """(Predictor or None, {model name: why it is not served, a `Message`}) for the manifest's
    models: every model that loads is served, whatever happened to the others."""
    return once_per_process(LOADING_MODELS, predictor_of, folder, signature)


@st.cache_resource(show_spinner=False, max_entries=4)
def predictor_of(folder: str, signature: tuple):
    """`load_predictor`'s models, loaded once per process and signature."""
    from core.inference import Predictor, load_trained_model, one_thread_per_call

    manifest, problem = manifest_for(folder, signature)
    if manifest is None:
        return None, {"models.json": problem}  # core's text, in English
    one_thread_per_call()
    models, errors = {}, {}
    for model in manifest.models:
        if not model.file.is_file():
            errors[model.name] = Message(
                N_("Model file `{file}` ({model}) is missing. Train it with `{command}`."),
                file=model.file,
                model=model.label,
                command=train_hint(model),
            )
            continue
        try:
            models[model.name] = load_trained_model(model.file, model.output)
        except Exception as error:  # A damaged file can fail in many ways inside Keras.
            reason = str(error) if isinstance(error, ValueError) else type(error).__name__
            errors[model.name] = Message(
                N_(
                    "Model file `{file}` ({model}) could not be loaded: {reason}. "
                    "Re-create it with `{command}`."
                ),
                file=model.file,
                model=model.label,
                reason=reason,
                command=train_hint(model),
            )
    if not models:
        return None, errors
    groups = {
        family.data: [
            entry.name for entry in manifest.in_family(family.data) if entry.name in models
        ]
        for family in manifest.families
    }
    listed = {name for names in groups.values() for name in names}
    groups.update({name: [name] for name in models if name not in listed})
    return Predictor(models, groups), errors


@st.cache_resource(show_spinner=False)
def gallery(path: str) -> dict[int, np.ndarray]:
    """The gallery, shared read-only by every session: `st.cache_data` would copy its 900 KB
    into every run of the composite's fragment."""
    images_by_class = load_gallery(path)
    for images in images_by_class.values():
        images.flags.writeable = False
    return images_by_class


def gallery_sizes(path: str) -> dict[int, int]:
    return {label: len(images) for label, images in gallery(path).items()}


@st.cache_data(show_spinner=False)
def load_json(path: str):
    """A JSON file's content, or None when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


@st.cache_resource(show_spinner=False, max_entries=2048)
def predict_group(_predictor, signature: tuple, composite: np.ndarray, group: str) -> dict:
    """The predictions of one group of models (a family of training data) for one composite:
    computed once per process and shared, read-only, by every session that shows it."""
    predictions = _predictor.predict(composite[None], group)[0]
    for prediction in predictions.values():
        for array in (prediction.logits, prediction.probabilities, prediction.maps):
            array.flags.writeable = False
    return predictions


def predict_models(predictor, signature: tuple, composite: np.ndarray, names) -> dict:
    """{name: Prediction} for the models `names`: one call per group they belong to, reused
    from the cache when any session has asked for that group and composite before."""
    predictions = {}
    for group in dict.fromkeys(predictor.group_of(name) for name in names):
        predictions.update(predict_group(predictor, signature, composite, group))
    return {name: predictions[name] for name in names}


def predict_privately(predictor, composite: np.ndarray, names) -> dict:
    """`predict_models` for a student's own photo: computed for this run only and kept in no
    cache the process shares, so no other session is ever handed it."""
    predictions = {}
    for group in dict.fromkeys(predictor.group_of(name) for name in names):
        predictions.update(predictor.predict(composite[None], group)[0])
    return {name: predictions[name] for name in names}


def picture_png(composite: np.ndarray, private: bool = False) -> str:
    """The composite as a PNG data URI: from the shared cache, or encoded for this run only
    when it is a student's own photo."""
    if private:
        return png_uri(np.ascontiguousarray(composite, dtype=np.uint8))
    return composite_png(composite)


def map_png(composite: np.ndarray, activation_map: np.ndarray, private: bool = False) -> str:
    """An activation map over the composite as a PNG data URI, shared or for this run only."""
    if private:
        return png_uri(overlay(composite, activation_map))
    return activation_map_png(composite, activation_map)


def png_uri(pixels: np.ndarray) -> str:
    """The pixels as a PNG data URI (about 8 KB for a 64x64 composite).

    Images travel inside the page's own messages rather than as media files kept by one worker:
    a student whose worker died and who reconnects to another one gets whole pictures back (a
    media address of the dead worker would fail to render, and Streamlit's client cannot even
    build one while it is disconnected)."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@st.cache_data(show_spinner=False, max_entries=2048)
def composite_png(composite: np.ndarray) -> str:
    """The composite, as a PNG data URI encoded once per composite (shown SHOWN_WIDTH wide)."""
    return png_uri(np.ascontiguousarray(composite, dtype=np.uint8))


@st.cache_data(show_spinner=False, max_entries=2048)
def activation_map_png(composite: np.ndarray, activation_map: np.ndarray) -> str:
    """A class activation map over the composite, as a PNG data URI (shown SHOWN_WIDTH wide)."""
    return png_uri(overlay(composite, activation_map))


@st.cache_data(show_spinner=False)
def probability_template(
    threshold_rule: bool, known_truth: bool, height: int, language: str
) -> dict:
    """The bar chart of one model's outputs in `language` (the page's), without its data
    (datasets "bars", "threshold"): its rows' classes and outcomes are in that language too."""
    import altair as alt

    outcomes = evaluation.OUTCOME_NAMES if known_truth else ("above threshold", "below threshold")
    rule = alt.NamedData(name="threshold") if threshold_rule else None
    chart = charts.probability_chart(
        alt.NamedData(name="bars"), rule, outcomes, height, False, translated=True
    )
    return chart.to_dict()


@st.cache_data(show_spinner=False)
def loss_versus_scale_template(language: str) -> dict:
    """The loss-against-scale chart in `language` (the page's), without its data (datasets
    "losses", "scale")."""
    import altair as alt

    return charts.loss_versus_scale_chart(
        alt.NamedData(name="losses"), alt.NamedData(name="scale")
    ).to_dict()


LOADING_FEATURES = N_("Loading the lab's features…")


def lab_features(path: str = str(DEFAULT_PATH)) -> dict:
    """{data family: FamilyFeatures}, one read-only copy per process."""
    return once_per_process(LOADING_FEATURES, features_at, path)


@st.cache_resource(show_spinner=False)
def features_at(path: str) -> dict:
    """`lab_features`' features, read once per process."""
    return load_features(path)
