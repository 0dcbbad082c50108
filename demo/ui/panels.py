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
from demo import cache, charts, i18n, keys
from demo.i18n import N_, _, ngettext
from demo.terms import term
from demo.ui import decisions
from demo.url import EMPTY, QUADRANT_CHOICES

EMPTY_GREY = 128


CCE_FLOOR = 4 * np.log(4)


CHART_HEIGHT = 230  # pixels, axis included: ten bars readable from the back of a classroom


# The image's sources; the values stay English. A photo (an uploaded image or the camera's) is
# the student's own: it is answered by PHOTO_FAMILY's models and kept in no shared cache.
SOURCES = ("Compose from CIFAR-10", "Upload one image", "Upload four tiles", "Take a photo")
PHOTO_SOURCES = (SOURCES[1], SOURCES[3])
PHOTO_FAMILY = "anywhere"


SOURCE_NAMES = {
    SOURCES[0]: N_("CIFAR-10 tiles"),
    SOURCES[1]: N_("Your image"),
    SOURCES[2]: N_("Your 4 tiles"),
    SOURCES[3]: N_("Camera"),
}


UPLOAD_TYPES = ["png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff"]


# "Random composite" draws one of this many composites, the same ones for every student: a class
# soon finds each one's predictions, pictures and maps already computed by someone before.
RANDOM_POOL = 300


def pool_composite(index: int, sizes: dict[int, int]) -> list[tuple[int, int]]:
    """Composite `index` of the pool, by the article's rule: four distinct classes in random
    quadrants, a random image of each; (class, sample) per quadrant."""
    rng = np.random.default_rng(index)
    labels = rng.permutation(len(CLASS_NAMES))[:4]
    return [(int(label), int(rng.integers(sizes[label]))) for label in labels]


def random_composite(sizes: dict[int, int]) -> None:
    """One of the pool's composites, chosen at random, into the quadrant pickers."""
    index = int(np.random.default_rng().integers(RANDOM_POOL))
    for quadrant, (label, sample) in enumerate(pool_composite(index, sizes)):
        st.session_state[keys.class_key(quadrant)] = CLASS_NAMES[label]
        st.session_state[keys.sample_key(quadrant)] = sample


def reset_sample(quadrant: int) -> None:
    st.session_state[keys.sample_key(quadrant)] = 0


def source_control(hidden: set[str]) -> str:
    if "upload" in hidden:
        return SOURCES[0]
    return st.radio(
        _("Image source"),
        SOURCES,
        key=keys.SOURCE,
        horizontal=True,
        format_func=lambda source: _(SOURCE_NAMES[source]),
        label_visibility="collapsed",
    )


def quadrant_picker(quadrant: int, sizes: dict[int, int]) -> tuple[int | None, int]:
    """A class and one of its images for one quadrant, or nothing; returns (class index or
    None for an empty quadrant, sample index)."""
    name = st.selectbox(
        term(QUADRANT_NAMES[quadrant]),
        QUADRANT_CHOICES,
        key=keys.class_key(quadrant),
        format_func=term,
        on_change=reset_sample,
        args=(quadrant,),
    )
    if name == EMPTY:
        st.session_state[keys.sample_key(quadrant)] = 0
        return None, 0
    label = CLASS_NAMES.index(name)
    st.session_state[keys.sample_key(quadrant)] %= sizes[label]
    st.number_input(
        _("{quadrant} image").format(quadrant=term(QUADRANT_NAMES[quadrant])),
        min_value=0,
        max_value=sizes[label] - 1,
        step=1,
        key=keys.sample_key(quadrant),
        help=_("Which of the gallery's images of this class: − and + step through them."),
    )
    return label, st.session_state[keys.sample_key(quadrant)]


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
        name = st.session_state[keys.class_key(quadrant)]
        label = None if name == EMPTY else CLASS_NAMES.index(name)
        sample = 0 if label is None else st.session_state[keys.sample_key(quadrant)] % sizes[label]
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
        _("🎲 Random composite (4 distinct classes)"),
        on_click=random_composite,
        args=(sizes,),
        key=keys.RANDOM_COMPOSITE,
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
    name = f"“{upload.name}”"
    try:
        return load_upload(upload.getvalue(), size, name=name)
    except ImageError as error:
        st.error(error.text(_))
        return None


def upload_whole_controls() -> np.ndarray | None:
    upload = st.file_uploader(
        _("Your image (centre-cropped and resized to 64x64)"),
        type=UPLOAD_TYPES,
        key=keys.UPLOAD_WHOLE,
    )
    composite = read_upload(upload, 64)
    if composite is None:
        st.info(_("Choose an image to upload above."))
    return composite


def upload_tiles_controls() -> np.ndarray | None:
    tiles = []
    for quadrant in range(4):
        upload = st.file_uploader(
            term(QUADRANT_NAMES[quadrant]), type=UPLOAD_TYPES, key=keys.upload_tile_key(quadrant)
        )
        tiles.append(read_upload(upload, 32))
    if any(tile is None for tile in tiles):
        st.info(_("Upload an image for each of the four quadrants."))
        return None
    return compose(np.stack(tiles))


def outside_warning() -> None:
    st.warning(
        _(
            "Your own image is outside the training distribution (CIFAR-10 tiles): there "
            "is no true label set, and the models may be confidently wrong."
        )
    )


def photo_note(entries: list, anywhere: bool) -> None:
    """Which models answer a student's photo, and how far a photo is from what they learned;
    without models trained on objects anywhere, the warning any upload gets."""
    if not anywhere:
        outside_warning()
        return
    st.info(
        _(
            "Your photo is answered by the models trained on objects anywhere, at any size: "
            "{models}. They learned CIFAR-10's ten classes from pictures of 32x32 pixels, so a "
            "photo is still far from what they know: expect mistakes, and try one clear object. "
            "Your photo stays in this browser's session: it is not stored or shown to anyone."
        ).format(models=_(", ").join(entry.label for entry in entries))
    )


def camera_controls() -> np.ndarray | None:
    """A photo from the computer's camera, centre-cropped to 64x64 like an uploaded image."""
    st.caption(
        _(
            "The browser opens the camera only on a secure address (https://) or on this "
            "computer's own (localhost). On a phone, “Your image” offers the camera at any "
            "address."
        )
    )
    shot = st.camera_input(_("Take a photo"), key=keys.CAMERA_PHOTO)
    return read_upload(shot, 64)


def choose_composite(source: str, gallery_path: str, hidden: set[str]):
    """(composite or None while nothing usable is uploaded, its multi-hot truth or None)."""
    if source == SOURCES[0]:
        return compose_controls(cache.gallery(gallery_path), hidden)
    if source == SOURCES[1]:
        return upload_whole_controls(), None
    if source == SOURCES[3]:
        return camera_controls(), None
    return upload_tiles_controls(), None


def composite_alt(truth: np.ndarray | None) -> str:
    """The composite's text alternative: on the free page its tiles are named in the controls
    anyway, so it names them too (the lesson, which asks about them, has its own)."""
    if truth is None:
        return _(
            "What the models see: your upload as a 64x64 picture, enlarged; it has no true "
            "label set."
        )
    tiles = [term(st.session_state.get(keys.class_key(quadrant), EMPTY)) for quadrant in range(4)]
    return _(
        "What the models see: a 64x64 composite of four CIFAR-10 pictures, enlarged: "
        "{top_left} top left, {top_right} top right, {bottom_left} bottom left, "
        "{bottom_right} bottom right."
    ).format(top_left=tiles[0], top_right=tiles[1], bottom_left=tiles[2], bottom_right=tiles[3])


def show_picture(composite: np.ndarray, alt: str, private: bool = False) -> None:
    """What the models see, enlarged by the browser, with its caption and `alt` text; a
    student's photo (`private`) is encoded for this run only."""
    st.image(
        cache.picture_png(composite, private),
        caption=_("What the models see (64x64, enlarged)"),
        width=cache.SHOWN_WIDTH,
        output_format="PNG",
        alt=alt,
    )


def show_composite(composite: np.ndarray, truth: np.ndarray | None, private: bool = False) -> None:
    show_picture(composite, composite_alt(truth), private)
    if private:  # a photo: the page says which models answer it (`photo_note`)
        return
    if truth is None:
        outside_warning()
        return
    names = [CLASS_NAMES[i] for i in np.flatnonzero(truth)]
    st.markdown(_("**True label set:** {labels}").format(labels=label_list(names)))
    if len(names) < 4:
        caption = ngettext(
            "This composite has {count} label (a repeated class counts once, an empty quadrant "
            "not at all); the article's models only ever saw four distinct classes. Do they "
            "still answer four?",
            "This composite has {count} labels (a repeated class counts once, an empty quadrant "
            "not at all); the article's models only ever saw four distinct classes. Do they "
            "still answer four?",
            len(names),
        )
        st.caption(caption.format(count=len(names)))


def label_list(names: list[str]) -> str:
    """English class names as the page shows a set of them, in its language."""
    return ", ".join(f"`{term(n)}`" for n in names) if names else _("*nothing*")


@st.fragment
def decisions_panel(predictions: dict, truth, entries: list, hidden: set[str], on_change=None):
    """Every shown model's decisions, re-decided in the browser as the threshold or top-k move;
    the rule the browser sends back once they are still reruns only this part."""
    controls = () if "threshold" in hidden else decisions.CONTROLS
    decisions.decisions_panel(
        keys.DECISIONS, entries, predictions, truth, (keys.THRESHOLD, keys.TOP_K), controls
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
        _("Class activation map for class"),
        CLASS_NAMES,
        key=keys.CAM_CLASS,
        format_func=term,
        help=_(
            "Which part of the image made the model say this class? The map is exact for this "
            "architecture: the Dense weights of the class applied to the last conv block."
        ),
    )
    return CLASS_NAMES.index(name)


def show_activation_maps(
    composite, predictions: dict, entries: list, cam_class: int, private: bool = False
) -> None:
    with st.container(horizontal=True):
        for entry in entries:
            prediction = predictions[entry.name]
            fields = {
                "model": entry.label,
                "name": term(CLASS_NAMES[cam_class]),
                "output": f"{prediction.probabilities[cam_class]:.2f}",
            }
            st.image(
                cache.map_png(composite, prediction.maps[..., cam_class], private),
                caption=_("Where {model} sees “{name}” (output {output})").format(**fields),
                width=cache.SHOWN_WIDTH,
                output_format="PNG",
                alt=_(
                    "Where {model} sees “{name}”: the composite under its class activation map, "
                    "red to yellow where the picture raised the output for {name} most, "
                    "unchanged where it did not (output {output})."
                ).format(**fields),
            )


def loss_rows(probabilities: np.ndarray, truth: np.ndarray) -> list[dict]:
    """Both losses of the composite when every output is multiplied by 0.05 .. 1."""
    scales = np.linspace(0.05, 1.0, 60)
    scaled = probabilities[None] * scales[:, None]
    targets = np.repeat(truth[None], len(scales), axis=0)
    losses = {
        _("categorical (CCE)"): evaluation.categorical_cross_entropy(targets, scaled),
        _("binary (BCE)"): evaluation.binary_cross_entropy(targets, scaled),
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
            _(
                "Categorical cross-entropy divides the outputs by their sum before taking the "
                "log: **only the ratios between the outputs matter.** With four true classes "
                "the best it can do is give each a quarter of the mass, so its loss never drops "
                "below 4 ln 4 = {floor}. Nothing in the loss says where the threshold is, so "
                "whether an output lands above it is an accident of training. Multiply the CCE "
                "model's outputs by a factor below and watch its loss stay put while its "
                "decisions change; binary cross-entropy notices at once."
            ).format(floor=f"{CCE_FLOOR:.3f}")
        )
    if prediction is None or truth is None or not truth.any():
        st.info(_("Compose an image from CIFAR-10 tiles (with a CCE model loaded) to try this."))
        return
    probabilities = np.asarray(prediction.probabilities, dtype=np.float64)
    scale = st.slider(
        _("Multiply the CCE model's outputs by"), 0.05, 1.0, 1.0, step=0.01, key=keys.CCE_SCALE
    )
    current = probabilities * scale
    decided = evaluation.decide(current, THRESHOLD)
    left, right = st.columns([3, 2])
    spec = charts.with_data(
        cache.loss_versus_scale_template(i18n.current_language()),
        losses=loss_rows(probabilities, truth),
        scale=[{"scale": scale}],
    )
    cce_now = float(evaluation.categorical_cross_entropy(truth, current))
    bce_now = float(evaluation.binary_cross_entropy(truth, current))
    alt = _(
        "Both losses against the factor: at {scale} the categorical cross-entropy is {cce} "
        "and the binary cross-entropy {bce}."
    ).format(scale=f"{scale:.2f}", cce=f"{cce_now:.3f}", bce=f"{bce_now:.3f}")
    spec, alt = charts.accessible(spec, alt)
    left.vega_lite_chart(spec, width="stretch", alt=alt)
    with right:
        st.metric(_("CCE loss"), f"{cce_now:.3f}")
        st.metric(_("BCE loss"), f"{bce_now:.3f}")
        predicted = [term(CLASS_NAMES[i]) for i in np.flatnonzero(decided)]
        st.markdown(
            _("**Decisions at {threshold}:** {classes}").format(
                threshold=THRESHOLD, classes=", ".join(predicted) or _("*nothing*")
            )
        )
        exact = evaluation.exact_match(truth[None], decided[None])
        st.markdown(
            _("**Exact match:** {verdict}").format(
                verdict=_("yes ✓") if exact == 1.0 else _("no ✗")
            )
        )
