"""The page's panels: the composite and the controls that make it, each model's outputs against
the threshold, the activation maps and the scale experiment. The workbench lays them out; each
UI function returns what the user chose."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core import evaluation
from core.data import CLASS_NAMES, QUADRANT_NAMES, TILE_SIZE, compose
from core.evaluation import THRESHOLD
from core.images import ImageError, load_upload
from demo import charts, decisions, resources
from demo.url import EMPTY, QUADRANT_CHOICES

EMPTY_GREY = 128
CCE_FLOOR = 4 * np.log(4)
CHART_HEIGHT = 230  # pixels, axis included: ten bars readable from the back of a classroom
SOURCES = ("Compose from CIFAR-10", "Upload one image", "Upload four tiles")
UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]


# ---------------------------------------------------------------------------------------------
# The composite
# ---------------------------------------------------------------------------------------------


def random_composite(sizes: dict[int, int]) -> None:
    """The article's rule: four distinct classes in random quadrants, random images of each."""
    rng = np.random.default_rng()
    for quadrant, label in enumerate(rng.permutation(len(CLASS_NAMES))[:4]):
        st.session_state[f"class_{quadrant}"] = CLASS_NAMES[label]
        st.session_state[f"sample_{quadrant}"] = int(rng.integers(sizes[label]))


def reset_sample(quadrant: int) -> None:
    st.session_state[f"sample_{quadrant}"] = 0


def source_control(hidden: set[str]) -> str:
    if "upload" in hidden:
        return SOURCES[0]
    short = {SOURCES[0]: "CIFAR-10 tiles", SOURCES[1]: "Your image", SOURCES[2]: "Your 4 tiles"}
    return st.radio(
        "Image source",
        SOURCES,
        key="source",
        horizontal=True,
        format_func=short.get,
        label_visibility="collapsed",
    )


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


def composite_of(picked: list[tuple[int | None, int]], gallery: dict[int, np.ndarray]):
    """(composite uint8 64x64x3, its multi-hot label) of four (class or None, sample) picks."""
    empty_tile = np.full((TILE_SIZE, TILE_SIZE, 3), EMPTY_GREY, np.uint8)
    tiles = [empty_tile if label is None else gallery[label][sample] for label, sample in picked]
    truth = np.zeros(len(CLASS_NAMES), np.float32)
    truth[[label for label, _ in picked if label is not None]] = 1.0
    return compose(np.stack(tiles)), truth


def picked_from_state(sizes: dict[int, int]) -> list[tuple[int | None, int]]:
    """The four (class or None, sample) picks held in session state."""
    picked = []
    for quadrant in range(4):
        name = st.session_state[f"class_{quadrant}"]
        label = None if name == EMPTY else CLASS_NAMES.index(name)
        sample = 0 if label is None else st.session_state[f"sample_{quadrant}"] % sizes[label]
        picked.append((label, sample))
    return picked


def compose_controls(gallery: dict[int, np.ndarray], hidden: set[str]):
    """A random button and four quadrant pickers laid out like the composite (none of them when
    `compose` is hidden); returns (composite, its multi-hot label: the classes present, each
    once)."""
    sizes = {label: len(images) for label, images in gallery.items()}
    if "compose" in hidden:
        return composite_of(picked_from_state(sizes), gallery)
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
    return composite_of([picked[q] for q in range(4)], gallery)


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
        "Your image (centre-cropped and resized to 64x64)", type=UPLOAD_TYPES, key="upload_whole"
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


def choose_composite(source: str, gallery_path: str, hidden: set[str]):
    """(composite or None while nothing usable is uploaded, its multi-hot truth or None)."""
    if source == SOURCES[0]:
        return compose_controls(resources.gallery(gallery_path), hidden)
    if source == SOURCES[1]:
        return upload_whole_controls(), None
    return upload_tiles_controls(), None


def show_composite(composite: np.ndarray, truth: np.ndarray | None) -> None:
    st.image(
        resources.composite_png(composite),
        caption="What the models see (64x64, enlarged)",
        width="content",
        output_format="PNG",
    )
    if truth is None:
        st.warning(
            "Your own image is outside the training distribution (CIFAR-10 tiles): there is "
            "no true label set, and the models may be confidently wrong."
        )
        return
    names = [CLASS_NAMES[i] for i in np.flatnonzero(truth)]
    st.markdown("**True label set:** " + label_list(names))
    if len(names) < 4:
        st.caption(
            f"This composite has {len(names)} label{'s' if len(names) != 1 else ''} (a repeated "
            "class counts once, an empty quadrant not at all); the article's models only ever "
            "saw four distinct classes. Do they still answer four?"
        )


# ---------------------------------------------------------------------------------------------
# What the models say
# ---------------------------------------------------------------------------------------------


def label_list(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names) if names else "*nothing*"


@st.fragment
def decisions_panel(predictions: dict, truth, entries: list, hidden: set[str], on_change=None):
    """Every shown model's decisions, re-decided in the browser as the threshold or top-k move;
    the rule the browser sends back once they are still reruns only this part."""
    controls = () if "threshold" in hidden else decisions.CONTROLS
    decisions.decisions_panel(
        "decisions", entries, predictions, truth, ("threshold", "top_k"), controls
    )
    if on_change is not None:
        on_change()


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


def show_activation_maps(composite, predictions: dict, entries: list, cam_class: int) -> None:
    with st.container(horizontal=True):
        for entry in entries:
            prediction = predictions[entry.name]
            st.image(
                resources.activation_map_png(composite, prediction.maps[..., cam_class]),
                caption=f"Where {entry.label} sees “{CLASS_NAMES[cam_class]}” "
                f"(output {prediction.probabilities[cam_class]:.2f})",
                width="content",
                output_format="PNG",
            )


# ---------------------------------------------------------------------------------------------
# Why categorical cross-entropy cannot place the threshold
# ---------------------------------------------------------------------------------------------


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
def why_cce_panel(prediction, truth: np.ndarray | None, explain: bool = True) -> None:
    """Scale the CCE model's outputs and compare both losses; `explain` adds the why in words."""
    if explain:
        st.markdown(
            "Categorical cross-entropy divides the outputs by their sum before taking the "
            "log: **only the ratios between the outputs matter.** With four true classes the "
            "best it can do is give each a quarter of the mass, so its loss never drops below "
            f"4 ln 4 = {CCE_FLOOR:.3f}. Nothing in the loss says where the threshold is, so "
            "whether an output lands above it is an accident of training. Multiply the CCE "
            "model's outputs by a factor below and watch its loss stay put while its decisions "
            "change; binary cross-entropy notices at once."
        )
    if prediction is None or truth is None or not truth.any():
        st.info("Compose an image from CIFAR-10 tiles (with a CCE model loaded) to try this.")
        return
    probabilities = np.asarray(prediction.probabilities, dtype=np.float64)
    scale = st.slider(
        "Multiply the CCE model's outputs by", 0.05, 1.0, 1.0, step=0.01, key="cce_scale"
    )
    current = probabilities * scale
    decided = evaluation.decide(current, THRESHOLD)
    left, right = st.columns([3, 2])
    spec = charts.with_data(
        resources.loss_versus_scale_template(),
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
        st.markdown("**Exact match:** " + ("yes ✓" if exact == 1.0 else "no ✗"))
