"""CIFAR-10 sources and the 2x2 tiled multi-label composites built from them.

Data flows one way: a CIFAR-10 source -> uint8 tiles -> 64x64 composites with multi-hot labels.

Three sources give the same arrays, `(x_train, y_train), (x_test, y_test)` with uint8 images of
shape (N, 32, 32, 3) and int labels 0..9 in CIFAR-10's class order:

1. `load_cifar10()` downloads the original through `keras.datasets.cifar10`;
2. `load_cifar10(path)` reads class folders (`train/<class>/*.png|jpg`, `test/<class>/...`), either
   a folder or a `.tar`/`.tar.gz` read in place;
3. `load_cifar10(path)` reads the official `cifar-10-batches-py` folder or `cifar-10-python.tar.gz`.

Decoded arrays from a path are cached as `.npz` under `cache_folder()`, keyed by the source's
path, size and modification time, so the second load takes well under a second.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import os
import pickle
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CLASS_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
NUM_CLASSES = len(CLASS_NAMES)
TILE_SIZE = 32
COMPOSITE_SIZE = 2 * TILE_SIZE
QUADRANT_NAMES = ("top-left", "top-right", "bottom-left", "bottom-right")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
SPLITS = ("train", "test")
TRAIN_COMPOSITES = 50_000  # the article's training set size
TEST_COMPOSITES = 10_000  # the article's test set size
TEST_SEED = 2017  # seeds the test composites every evaluation uses
# Bumped whenever the decoding changes, so that stale caches are not reused.
CACHE_VERSION = 1

Arrays = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def cache_folder() -> Path:
    """Where decoded datasets are cached: `$MULTILABEL_CACHE` or `~/.cache/multilabel-cifar`."""
    configured = os.environ.get("MULTILABEL_CACHE")
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "multilabel-cifar"


def load_cifar10(source: str | os.PathLike | None = None, *, use_cache: bool = True) -> Arrays:
    """Load CIFAR-10 as `(x_train, y_train), (x_test, y_test)`.

    `source=None` uses `keras.datasets.cifar10.load_data()` (downloads once, then Keras' cache).
    A path may be a class-folder tree or the official pickled batches, as a folder or tarball.
    """
    if source is None:
        import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()
        return _checked((x_train, y_train.reshape(-1)), (x_test, y_test.reshape(-1)), "keras")

    path = Path(source).expanduser()
    if not path.exists():
        raise FileNotFoundError(
            f"CIFAR-10 source {str(path)!r} does not exist. Pass a folder or .tar.gz with "
            "train/<class>/ and test/<class>/ image folders, the official cifar-10-batches-py "
            "folder or cifar-10-python.tar.gz, or no path to download through Keras."
        )
    cache_file = None
    if use_cache:
        cache_file = cache_folder() / f"cifar10-{source_fingerprint(path)}.npz"
        if cache_file.exists():
            try:
                with np.load(cache_file) as cached:
                    return (cached["x_train"], cached["y_train"]), (
                        cached["x_test"],
                        cached["y_test"],
                    )
            except (OSError, ValueError, KeyError, EOFError):
                pass  # A damaged cache is rebuilt below.

    if path.is_dir():
        arrays = _load_folder(path)
    elif tarfile.is_tarfile(path):
        arrays = _load_tarball(path)
    else:
        raise ValueError(
            f"Unknown CIFAR-10 source {str(path)!r}: it is neither a folder nor a tar archive."
        )
    (x_train, y_train), (x_test, y_test) = arrays
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        partial = cache_file.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(partial, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
        os.replace(partial, cache_file)
    return arrays


def source_fingerprint(path: Path) -> str:
    """A short hash of a source's resolved path, sizes and modification times."""
    digest = hashlib.sha256(f"v{CACHE_VERSION}:{path.resolve()}".encode())
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            stat = file.stat()
            digest.update(f"{file.relative_to(path)}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    else:
        stat = path.stat()
        digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:20]


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _load_folder(root: Path) -> Arrays:
    batches = _find_batch_folder(root)
    if batches is not None:
        return _from_batches({f.name: f.read_bytes() for f in batches.iterdir() if f.is_file()})
    base = _find_split_parent([p.relative_to(root).as_posix() for p in root.rglob("*")])
    if base is None:
        raise ValueError(_unknown_layout_message(root))
    files = {}
    for split in SPLITS:
        split_root = root / base / split
        if split_root.is_dir():
            for file in split_root.rglob("*"):
                if file.is_file():
                    files[file.relative_to(root / base).as_posix()] = file
    return _from_class_files(root, files, lambda file: file.read_bytes())


def _load_tarball(path: Path) -> Arrays:
    with tarfile.open(path) as archive:
        members = [m for m in archive.getmembers() if m.isfile()]
        names = [m.name for m in members]
        batch_members = [m for m in members if Path(m.name).name.startswith("data_batch_")]
        if batch_members:
            prefix = str(Path(batch_members[0].name).parent)
            contents = {
                Path(m.name).name: archive.extractfile(m).read()
                for m in members
                if str(Path(m.name).parent) == prefix
            }
            return _from_batches(contents)
        base = _find_split_parent(names)
        if base is None:
            raise ValueError(_unknown_layout_message(path))
        prefix = f"{base}/" if base else ""
        # Members are read in archive order: seeking backwards in a gzip stream decompresses
        # it again from the start.
        files = {
            m.name[len(prefix) :]: archive.extractfile(m).read()
            for m in members
            if m.name.startswith(prefix) and m.name[len(prefix) :].split("/")[0] in SPLITS
        }
        return _from_class_files(path, files, lambda contents: contents)


def _find_batch_folder(root: Path) -> Path | None:
    for candidate in (root, root / "cifar-10-batches-py"):
        if (candidate / "data_batch_1").is_file():
            return candidate
    return None


def _find_split_parent(relative_names: Sequence[str]) -> str | None:
    """The shallowest folder (as a relative prefix, '' for the root) holding `train/` or `test/`."""
    best = None
    for name in relative_names:
        parts = name.strip("/").split("/")
        for depth, part in enumerate(parts[:-1]):
            if part in SPLITS:
                prefix = "/".join(parts[:depth])
                if best is None or (prefix.count("/"), len(prefix)) < (best.count("/"), len(best)):
                    best = prefix
                break
    return best


def _unknown_layout_message(path: Path) -> str:
    return (
        f"Unknown CIFAR-10 layout in {str(path)!r}: expected train/<class>/*.png|jpg and "
        "test/<class>/*.png|jpg class folders, or the official data_batch_1..5 and test_batch "
        "pickles (cifar-10-batches-py)."
    )


def _from_class_files(source: Path, files: dict, read_bytes) -> Arrays:
    """Decode `{'train/cat/0001.jpg': handle, ...}` into arrays, checking every file."""
    from PIL import Image, UnidentifiedImageError

    by_split: dict[str, dict[str, list]] = {split: {} for split in SPLITS}
    for relative, handle in files.items():
        parts = relative.split("/")
        if len(parts) != 3 or Path(parts[2]).suffix.lower() not in IMAGE_SUFFIXES:
            continue
        split, class_name, _ = parts
        by_split[split].setdefault(class_name, []).append((relative, handle))

    result = []
    for split in SPLITS:
        found = by_split[split]
        if not found:
            raise ValueError(f"The {split!r} split in {str(source)!r} has no images.")
        unknown = sorted(set(found) - set(CLASS_NAMES))
        if unknown:
            hints = []
            for name in unknown:
                close = difflib.get_close_matches(name, CLASS_NAMES, n=1)
                hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise ValueError(
                f"Unknown class folder(s) in {split}/ of {str(source)!r}: {', '.join(hints)}. "
                f"Expected exactly: {', '.join(CLASS_NAMES)}."
            )
        missing = [name for name in CLASS_NAMES if name not in found]
        if missing:
            raise ValueError(
                f"Class folder(s) missing from {split}/ in {str(source)!r}: {', '.join(missing)}."
            )
        images, labels = [], []
        for label, class_name in enumerate(CLASS_NAMES):
            for relative, handle in sorted(found[class_name], key=lambda item: item[0]):
                try:
                    with Image.open(io.BytesIO(read_bytes(handle))) as image:
                        image.load()
                        mode, size = image.mode, image.size
                        pixels = np.asarray(image)
                except (UnidentifiedImageError, OSError, ValueError) as error:
                    raise ValueError(
                        f"Cannot decode image {relative!r} in {str(source)!r}: {error}"
                    ) from error
                if mode != "RGB" or size != (TILE_SIZE, TILE_SIZE):
                    raise ValueError(
                        f"Image {relative!r} in {str(source)!r} is {size[0]}x{size[1]} {mode}; "
                        "CIFAR-10 images must be 32x32 RGB."
                    )
                images.append(pixels)
                labels.append(label)
        result.append((np.stack(images).astype(np.uint8), np.asarray(labels, dtype=np.int64)))
    return _checked(result[0], result[1], str(source))


def _from_batches(contents: dict[str, bytes]) -> Arrays:
    """Decode the official pickled batches (`data_batch_1..5`, `test_batch`)."""
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    missing = [name for name in names if name not in contents]
    if missing:
        raise ValueError(f"Official CIFAR-10 batches incomplete: missing {', '.join(missing)}.")
    decoded = []
    for name in names:
        try:
            batch = pickle.loads(contents[name], encoding="bytes")
            data = np.asarray(batch[b"data"], dtype=np.uint8)
            labels = np.asarray(batch[b"labels"], dtype=np.int64)
        except Exception as error:  # A damaged pickle can raise almost anything.
            raise ValueError(f"Cannot decode CIFAR-10 batch {name!r}: {error}") from error
        decoded.append((data.reshape(-1, 3, TILE_SIZE, TILE_SIZE).transpose(0, 2, 3, 1), labels))
    x_train = np.concatenate([images for images, _ in decoded[:5]])
    y_train = np.concatenate([labels for _, labels in decoded[:5]])
    return _checked((x_train, y_train), decoded[5], "official batches")


def _checked(train, test, source: str) -> Arrays:
    for split, (images, labels) in zip(SPLITS, (train, test), strict=True):
        if images.ndim != 4 or images.shape[1:] != (TILE_SIZE, TILE_SIZE, 3):
            raise ValueError(
                f"{split} images from {source} have shape {images.shape}; expected (N, 32, 32, 3)."
            )
        if len(images) == 0 or len(images) != len(labels):
            raise ValueError(
                f"{split} split from {source} has {len(images)} images and {len(labels)} labels."
            )
        if labels.min() < 0 or labels.max() >= NUM_CLASSES:
            raise ValueError(f"{split} labels from {source} are outside 0..9.")
    return (
        (np.ascontiguousarray(train[0], dtype=np.uint8), np.asarray(train[1], dtype=np.int64)),
        (np.ascontiguousarray(test[0], dtype=np.uint8), np.asarray(test[1], dtype=np.int64)),
    )


# ---------------------------------------------------------------------------------------------
# Composites
# ---------------------------------------------------------------------------------------------


def compose(tiles) -> np.ndarray:
    """One 64x64x3 composite from 4 tiles: top-left, top-right, bottom-left, bottom-right."""
    tiles = np.asarray(tiles)
    if tiles.shape != (4, TILE_SIZE, TILE_SIZE, 3):
        raise ValueError(
            f"compose() needs 4 tiles of 32x32x3, got an array of shape {tiles.shape}."
        )
    return tile_grid(tiles[None])[0]


def tile_grid(tiles: np.ndarray) -> np.ndarray:
    """Arrange (n, 4, 32, 32, 3) tiles into (n, 64, 64, 3) composites, row by row."""
    n = tiles.shape[0]
    grid = tiles.reshape(n, 2, 2, TILE_SIZE, TILE_SIZE, 3).transpose(0, 1, 3, 2, 4, 5)
    return np.ascontiguousarray(grid.reshape(n, COMPOSITE_SIZE, COMPOSITE_SIZE, 3))


def multi_hot(classes: np.ndarray) -> np.ndarray:
    """(n, k) class indices -> (n, 10) float32 multi-hot labels; a repeated class counts once."""
    classes = np.asarray(classes)
    labels = np.zeros((classes.shape[0], NUM_CLASSES), dtype=np.float32)
    np.put_along_axis(labels, classes.astype(np.int64), 1.0, axis=1)
    return labels


def sample_quadrant_classes(
    n: int, rng: np.random.Generator, distinct: int | None = 4
) -> np.ndarray:
    """(n, 4) classes for the four quadrants.

    `distinct=k` (1..4) uses exactly k distinct classes per composite, each drawn uniformly, each
    appearing at least once, in random quadrant order; `distinct=4` is the article's rule.
    `distinct=None` draws every quadrant independently, so classes may repeat.
    """
    if distinct is None:
        return rng.integers(0, NUM_CLASSES, size=(n, 4))
    if distinct not in (1, 2, 3, 4):
        raise ValueError(f"distinct must be 1, 2, 3, 4 or None, got {distinct!r}.")
    chosen = np.argsort(rng.random((n, NUM_CLASSES)), axis=1)[:, :distinct]
    if distinct == 4:
        return chosen
    extra = np.take_along_axis(chosen, rng.integers(0, distinct, size=(n, 4 - distinct)), axis=1)
    classes = np.concatenate([chosen, extra], axis=1)
    order = np.argsort(rng.random((n, 4)), axis=1)
    return np.take_along_axis(classes, order, axis=1)


def sample_image_indices(
    labels: np.ndarray, classes: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """For each (composite, quadrant) class, the index of a uniformly random image of that class."""
    labels = np.asarray(labels).reshape(-1)
    order = np.argsort(labels, kind="stable")
    counts = np.bincount(labels, minlength=NUM_CLASSES)
    if (counts[np.unique(classes)] == 0).any():
        absent = [CLASS_NAMES[c] for c in np.unique(classes) if counts[c] == 0]
        raise ValueError(f"No images of class(es) {', '.join(absent)} to draw tiles from.")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    offsets = np.floor(rng.random(classes.shape) * counts[classes]).astype(np.int64)
    return order[starts[classes] + offsets]


def make_composites(
    images: np.ndarray,
    labels: np.ndarray,
    n: int,
    seed: int | np.random.Generator,
    *,
    distinct: int | None = 4,
    return_indices: bool = False,
):
    """Draw `n` 2x2 composites from one CIFAR split.

    Returns `(x, y, classes)`: x uint8 (n, 64, 64, 3), y float32 multi-hot (n, 10), classes int
    (n, 4) in top-left, top-right, bottom-left, bottom-right order; with `return_indices=True`
    also the (n, 4) indices of the source images. The same seed gives byte-identical arrays.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}.")
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1:] != (TILE_SIZE, TILE_SIZE, 3):
        raise ValueError(f"images must have shape (N, 32, 32, 3), got {images.shape}.")
    if len(images) != len(np.asarray(labels).reshape(-1)):
        raise ValueError("images and labels must have the same length.")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    classes = sample_quadrant_classes(n, rng, distinct)
    indices = sample_image_indices(labels, classes, rng)
    x = tile_grid(images[indices])
    y = multi_hot(classes)
    if return_indices:
        return x, y, classes, indices
    return x, y, classes


FOUR_DISTINCT, ONE_TO_FOUR = "four-distinct", "one-to-four"  # the two kinds of composites


def make_object_composites(
    images: np.ndarray, labels: np.ndarray, n: int, seed, *, objects: np.ndarray | None = None
):
    """Draw `n` composites holding one to four CIFAR objects; the other quadrants are empty.

    An empty quadrant is a flat tile of one random colour: a grey level (black to white) for
    half of them, any RGB colour for the others, what a person would paint as "nothing".
    Objects are placed in random quadrants and may repeat a class (it counts once in the label).
    `objects` gives each composite's number of objects (1..4); by default the counts are
    balanced: n/4 composites of each, in random order.

    Returns `(x, y, classes, counts)`: x uint8 (n, 64, 64, 3), y float32 multi-hot (n, 10) of
    the classes present, classes int (n, 4) with -1 for an empty quadrant, counts int (n,).
    The same seed gives byte-identical arrays.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1:] != (TILE_SIZE, TILE_SIZE, 3):
        raise ValueError(f"images must have shape (N, 32, 32, 3), got {images.shape}.")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    tiles, y, classes, counts = object_tiles(images, labels, n, rng, objects)
    return tile_grid(tiles), y, classes, counts


def object_tiles(images, labels, n: int, rng: np.random.Generator, objects=None):
    """The (n, 4, 32, 32, 3) tiles of `make_object_composites`, with its y, classes, counts."""
    if objects is None:
        objects = rng.permutation(np.resize(np.arange(1, 5), n))
    counts = np.asarray(objects, dtype=np.int64).reshape(-1)
    if len(counts) != n or ((counts < 1) | (counts > 4)).any():
        raise ValueError(f"objects must hold {n} counts between 1 and 4.")
    classes = rng.integers(0, NUM_CLASSES, size=(n, 4))
    # A random rank per quadrant: the quadrants ranked below the count hold an object.
    ranks = np.argsort(np.argsort(rng.random((n, 4)), axis=1), axis=1)
    occupied = ranks < counts[:, None]
    tiles = images[sample_image_indices(labels, classes, rng)]
    colours = rng.integers(0, 256, size=(n, 4, 3), dtype=np.uint8)
    grey = rng.random((n, 4)) < 0.5
    colours[grey] = colours[grey][:, :1]
    tiles = np.where(occupied[..., None, None, None], tiles, colours[:, :, None, None, :])
    y = np.zeros((n, NUM_CLASSES), dtype=np.float32)
    rows, quadrants = np.nonzero(occupied)
    y[rows, classes[rows, quadrants]] = 1.0
    return tiles, y, np.where(occupied, classes, -1), counts


# ---------------------------------------------------------------------------------------------
# Objects anywhere: any size, any place, on backgrounds without a class
# ---------------------------------------------------------------------------------------------

ANYWHERE = "anywhere"
COMPOSITE_KINDS = (FOUR_DISTINCT, ONE_TO_FOUR, ANYWHERE)
# How objects are laid out in a composite of objects anywhere. "fill": one object enlarged to the
# whole 64x64 frame; "single": one object of SINGLE_SIZES pixels somewhere; "scattered": two to
# four smaller objects anywhere; "grid": the article's 2x2 grid of four distinct classes.
FILL, SINGLE, SCATTERED, GRID = "fill", "single", "scattered", "grid"
LAYOUTS = (FILL, SINGLE, SCATTERED, GRID)
LAYOUT_SHARES = (0.3, 0.2, 0.3, 0.2)  # the training mix, in LAYOUTS order
SINGLE_SIZES = (24, 56)  # smallest and largest side of a single object, pixels
SCATTERED_SIZES = {2: (20, 40), 3: (18, 34), 4: (16, 30)}  # sides by number of objects
MIN_VISIBLE = 0.7  # the share of an object's pixels that no later object may cover
PLACEMENT_TRIES = 64  # rounds of drawing new places before falling back to the quadrants
MAX_OBJECTS = 4


@dataclass(frozen=True)
class Scenes:
    """Composites of objects anywhere, with what was placed where.

    x: uint8 (n, 64, 64, 3); y: float32 multi-hot (n, 10) of the classes placed; classes: int
    (n, 4), -1 for an unused slot; boxes: int (n, 4, 3) as (top, left, side) in pixels, -1 for
    an unused slot, painted in slot order; layouts: int (n,) indices into LAYOUTS.
    """

    x: np.ndarray
    y: np.ndarray
    classes: np.ndarray
    boxes: np.ndarray
    layouts: np.ndarray

    @property
    def counts(self) -> np.ndarray:
        return (self.classes >= 0).sum(axis=1)


def make_anywhere_composites(
    images: np.ndarray,
    labels: np.ndarray,
    n: int,
    seed,
    *,
    layouts: np.ndarray | str | None = None,
    counts: np.ndarray | None = None,
    augment: bool = False,
) -> Scenes:
    """Draw `n` composites whose CIFAR objects have any size and place.

    Each composite follows one layout of LAYOUTS: `layouts` gives them (indices, or one name for
    all); by default they are drawn in LAYOUT_SHARES. Scattered composites hold `counts` objects
    (2..4; default uniform). The classes of one composite are distinct, so the label names
    exactly one class per object. Objects are resized bilinearly and painted in slot order on a
    background of a flat colour, a two-colour gradient or smooth noise; scattered objects are
    placed so that every object keeps at least MIN_VISIBLE of its pixels. With `augment`, every
    object is flipped left-right at random. The same seed gives byte-identical arrays.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}.")
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1:] != (TILE_SIZE, TILE_SIZE, 3):
        raise ValueError(f"images must have shape (N, 32, 32, 3), got {images.shape}.")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    layout = _layout_indices(layouts, n, rng)
    count = _object_counts(layout, counts, rng)
    present = np.arange(MAX_OBJECTS)[None, :] < count[:, None]
    chosen = np.argsort(rng.random((n, NUM_CLASSES)), axis=1)[:, :MAX_OBJECTS]
    sources = images[sample_image_indices(labels, chosen, rng)]
    if augment:
        flip = rng.random((n, MAX_OBJECTS)) < 0.5
        sources = np.where(flip[..., None, None, None], sources[:, :, :, ::-1], sources)
    boxes = _place_objects(layout, count, rng)
    canvas = _backgrounds(n, rng)
    for slot in range(MAX_OBJECTS):
        _paint(canvas, sources[:, slot], boxes[:, slot], present[:, slot])
    classes = np.where(present, chosen, -1)
    y = np.zeros((n, NUM_CLASSES), dtype=np.float32)
    rows, slots = np.nonzero(present)
    y[rows, classes[rows, slots]] = 1.0
    x = np.clip(np.rint(canvas), 0, 255).astype(np.uint8)
    return Scenes(x, y, classes, np.where(present[..., None], boxes, -1), layout)


def _layout_indices(layouts, n: int, rng: np.random.Generator) -> np.ndarray:
    if layouts is None:
        return rng.choice(len(LAYOUTS), size=n, p=LAYOUT_SHARES)
    if isinstance(layouts, str):
        if layouts not in LAYOUTS:
            raise ValueError(f"A layout is one of {', '.join(LAYOUTS)}; got {layouts!r}.")
        return np.full(n, LAYOUTS.index(layouts))
    layout = np.asarray(layouts, dtype=np.int64).reshape(-1)
    if len(layout) != n or ((layout < 0) | (layout >= len(LAYOUTS))).any():
        raise ValueError(f"layouts must hold {n} indices into {LAYOUTS}.")
    return layout


def _object_counts(layout: np.ndarray, counts, rng: np.random.Generator) -> np.ndarray:
    """Objects per composite: 1 for fill and single, 4 for the grid, 2..4 when scattered."""
    scattered = layout == LAYOUTS.index(SCATTERED)
    if counts is None:
        counts = rng.integers(2, MAX_OBJECTS + 1, size=len(layout))
    counts = np.broadcast_to(np.asarray(counts, dtype=np.int64), layout.shape)
    if ((counts[scattered] < 2) | (counts[scattered] > MAX_OBJECTS)).any():
        raise ValueError("A scattered composite holds 2 to 4 objects.")
    single = np.isin(layout, [LAYOUTS.index(FILL), LAYOUTS.index(SINGLE)])
    return np.where(single, 1, np.where(scattered, counts, MAX_OBJECTS))


def _place_objects(layout: np.ndarray, count: np.ndarray, rng) -> np.ndarray:
    """(n, 4, 3) boxes (top, left, side) for every slot; slots past `count` are unused."""
    n = len(layout)
    boxes = np.zeros((n, MAX_OBJECTS, 3), dtype=np.int64)
    boxes[:, :, 2] = TILE_SIZE
    grid = layout == LAYOUTS.index(GRID)
    corners = np.array([(0, 0), (0, TILE_SIZE), (TILE_SIZE, 0), (TILE_SIZE, TILE_SIZE)])
    boxes[grid, :, :2] = corners
    fill = layout == LAYOUTS.index(FILL)
    boxes[fill, 0] = (0, 0, COMPOSITE_SIZE)
    single = np.flatnonzero(layout == LAYOUTS.index(SINGLE))
    sides = rng.integers(SINGLE_SIZES[0], SINGLE_SIZES[1] + 1, size=len(single))
    boxes[single, 0, 2] = sides
    boxes[single, 0, :2] = _random_corners(sides[:, None], rng)[:, 0]
    scattered = np.flatnonzero(layout == LAYOUTS.index(SCATTERED))
    boxes[scattered] = _scatter(count[scattered], rng)
    return boxes


def _random_corners(sides: np.ndarray, rng) -> np.ndarray:
    """Uniform (top, left) corners that keep boxes of these sides inside the frame."""
    room = COMPOSITE_SIZE - sides + 1
    return np.floor(rng.random(sides.shape + (2,)) * room[..., None]).astype(np.int64)


def _scatter(count: np.ndarray, rng) -> np.ndarray:
    """Boxes for scattered composites, drawn again until every object is visible enough."""
    boxes = np.zeros((len(count), MAX_OBJECTS, 3), dtype=np.int64)
    low = np.array([SCATTERED_SIZES.get(c, (16, 16))[0] for c in range(MAX_OBJECTS + 1)])
    high = np.array([SCATTERED_SIZES.get(c, (16, 16))[1] for c in range(MAX_OBJECTS + 1)])
    sides = rng.integers(low[count][:, None], high[count][:, None] + 1, size=(len(count), 4))
    boxes[:, :, 2] = sides
    present = np.arange(MAX_OBJECTS)[None, :] < count[:, None]
    pending = np.arange(len(count))
    for _ in range(PLACEMENT_TRIES):
        if len(pending) == 0:
            return boxes
        boxes[pending, :, :2] = _random_corners(sides[pending], rng)
        visible = visible_fractions(boxes[pending], present[pending])
        pending = pending[(visible < MIN_VISIBLE).any(axis=1)]
    # What is left is placed one object per quadrant, where nothing overlaps.
    quadrant_sides = np.minimum(sides[pending], TILE_SIZE)
    corners = np.array([(0, 0), (0, TILE_SIZE), (TILE_SIZE, 0), (TILE_SIZE, TILE_SIZE)])
    offsets = np.floor(
        rng.random(quadrant_sides.shape + (2,)) * (TILE_SIZE - quadrant_sides + 1)[..., None]
    )
    boxes[pending, :, :2] = corners[None] + offsets.astype(np.int64)
    boxes[pending, :, 2] = quadrant_sides
    return boxes


def box_masks(boxes: np.ndarray, size: int = COMPOSITE_SIZE) -> np.ndarray:
    """(..., size, size) bool: which pixels of the frame each (top, left, side) box covers."""
    boxes = np.asarray(boxes)
    pixels = np.arange(size)
    top, left, side = (boxes[..., i, None] for i in range(3))
    rows = (pixels >= top) & (pixels < top + side)
    cols = (pixels >= left) & (pixels < left + side)
    return rows[..., :, None] & cols[..., None, :]


def visible_fractions(boxes: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(n, 4) share of each present object's pixels that no later slot paints over (1 if absent).

    Objects are painted in slot order, so object j is covered by the union of slots j+1.. .
    """
    masks = box_masks(boxes) & present[:, :, None, None]
    later = np.flip(np.cumsum(np.flip(masks, axis=1), axis=1), axis=1) - masks
    own = masks.sum(axis=(2, 3))
    seen = (masks & (later == 0)).sum(axis=(2, 3))
    return np.where(present, seen / np.maximum(own, 1), 1.0)


def _backgrounds(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 64, 64, 3) float32 backgrounds: a flat colour, a linear gradient or smooth noise."""
    kind = rng.integers(0, 3, size=n)
    first = rng.integers(0, 256, size=(n, 3)).astype(np.float32)
    second = rng.integers(0, 256, size=(n, 3)).astype(np.float32)
    grey = rng.random(n) < 0.3
    first[grey] = first[grey][:, :1]
    angle = rng.random(n) * 2 * np.pi
    pixels = (np.arange(COMPOSITE_SIZE, dtype=np.float32) + 0.5) / COMPOSITE_SIZE - 0.5
    along = (
        np.cos(angle)[:, None, None] * pixels[None, None, :]
        + np.sin(angle)[:, None, None] * pixels[None, :, None]
    )
    share = np.clip(along / np.sqrt(0.5) + 0.5, 0.0, 1.0)[..., None]
    gradient = first[:, None, None] * (1 - share) + second[:, None, None] * share
    coarse = rng.integers(0, 256, size=(n, 4, 4, 3)).astype(np.float32)
    noise = _resize_bilinear(coarse, COMPOSITE_SIZE) + rng.normal(0, 8, size=(n, 64, 64, 3))
    flat = np.broadcast_to(first[:, None, None], gradient.shape)
    out = np.where((kind == 0)[:, None, None, None], flat, gradient)
    return np.where((kind == 2)[:, None, None, None], noise, out).astype(np.float32)


def enlarge(image: np.ndarray, side: int = COMPOSITE_SIZE) -> np.ndarray:
    """One (h, h, 3) picture resized bilinearly to (side, side, 3) uint8, as the composites of
    objects anywhere resize theirs: a CIFAR-10 picture filling the frame."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[0] != image.shape[1] or image.shape[2] != 3:
        raise ValueError(f"enlarge() takes one square RGB picture, got shape {image.shape}.")
    resized = _resize_bilinear(image[None].astype(np.float32), side)[0]
    return np.clip(np.rint(resized), 0, 255).astype(np.uint8)


def _resize_bilinear(images: np.ndarray, side: int) -> np.ndarray:
    """(n, h, h, c) -> (n, side, side, c) float32, bilinear with pixel centres aligned."""
    n = images.shape[0]
    canvas = np.zeros((n, side, side, images.shape[3]), dtype=np.float32)
    _paint(canvas, images, np.tile([0, 0, side], (n, 1)), np.ones(n, bool))
    return canvas


def _paint(canvas, sources, boxes, present) -> None:
    """Paint each square source, resized bilinearly to its box's side, into `canvas` in place."""
    n, height = sources.shape[0], sources.shape[1]
    if n == 0:
        return
    top, left, side = (boxes[:, i].astype(np.float32) for i in range(3))
    pixels = np.arange(canvas.shape[1], dtype=np.float32) + 0.5
    scale = height / side
    rows = (pixels[None, :] - top[:, None]) * scale[:, None] - 0.5
    cols = (pixels[None, :] - left[:, None]) * scale[:, None] - 0.5
    row0, row_weight = _bilinear_axis(rows)
    col0, col_weight = _bilinear_axis(cols)
    index = np.arange(n)[:, None, None]
    source = sources.astype(np.float32)
    resized = 0.0
    for dr, wr in ((0, 1 - row_weight), (1, row_weight)):
        for dc, wc in ((0, 1 - col_weight), (1, col_weight)):
            r = np.clip(row0 + dr, 0, height - 1)[:, :, None]
            c = np.clip(col0 + dc, 0, height - 1)[:, None, :]
            resized = resized + source[index, r, c] * (wr[:, :, None] * wc[:, None, :])[..., None]
    inside = box_masks(boxes, canvas.shape[1]) & np.asarray(present)[:, None, None]
    canvas[inside] = resized[inside]


def _bilinear_axis(coordinates: np.ndarray):
    """The lower sample index and the upper sample's weight (the caller clamps the indices)."""
    lower = np.floor(coordinates)
    weight = (coordinates - lower).astype(np.float32)
    return lower.astype(np.int64), weight


def draw_composites(images, labels, n: int, seed, kind: str = FOUR_DISTINCT):
    """(x, y) of `n` composites of any kind: the article's four distinct classes, one to four
    objects with empty quadrants, or objects anywhere (`make_anywhere_composites`)."""
    if kind == FOUR_DISTINCT:
        x, y, _ = make_composites(images, labels, n, seed)
    elif kind == ONE_TO_FOUR:
        x, y, _, _ = make_object_composites(images, labels, n, seed)
    elif kind == ANYWHERE:
        scenes = make_anywhere_composites(images, labels, n, seed)
        x, y = scenes.x, scenes.y
    else:
        raise ValueError(f"composites are one of {', '.join(COMPOSITE_KINDS)}; got {kind!r}.")
    return x, y


def augment_tiles(tiles: np.ndarray, rng: np.random.Generator, max_shift: int = 2) -> np.ndarray:
    """Random horizontal flip and a random shift of up to `max_shift` pixels per tile.

    `tiles` has shape (m, 32, 32, 3); the shift pads with reflected pixels and crops back.
    """
    m = tiles.shape[0]
    flip = rng.random(m) < 0.5
    tiles = tiles.copy()
    tiles[flip] = tiles[flip, :, ::-1]
    if max_shift <= 0:
        return tiles
    pad = ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0))
    padded = np.pad(tiles, pad, mode="reflect")
    top = rng.integers(0, 2 * max_shift + 1, size=m)
    left = rng.integers(0, 2 * max_shift + 1, size=m)
    # Every 32x32 window of every padded tile, as a view: (m, offsets, offsets, 3, 32, 32).
    windows = np.lib.stride_tricks.sliding_window_view(padded, (TILE_SIZE, TILE_SIZE), axis=(1, 2))
    return np.ascontiguousarray(windows[np.arange(m), top, left].transpose(0, 2, 3, 1))


def composite_batches_per_epoch(n: int, batch_size: int) -> int:
    return -(-n // batch_size)


def _pydataset_base():
    import keras

    return keras.utils.PyDataset


def fresh_composites(
    images: np.ndarray,
    labels: np.ndarray,
    composites_per_epoch: int,
    batch_size: int,
    seed: int,
    *,
    augment: bool = True,
    max_shift: int = 2,
    first_epoch: int = 0,
    workers: int = 1,
    kind: str = FOUR_DISTINCT,
):
    """A `keras.utils.PyDataset` drawing new composites every epoch from one (training) split:
    four distinct classes (the article's), one to four objects (`kind="one-to-four"`) or objects
    anywhere (`kind="anywhere"`).

    With `augment`, every tile is flipped at random and shifted by up to `max_shift` pixels (an
    object placed anywhere is flipped; its random size and place already move it).
    `workers` threads prepare batches ahead of the model (one keeps up with a 2-core CPU).

    Batch `b` of epoch `e` comes from `numpy.random.default_rng([seed, e, b])`, so a resumed run
    sees exactly the batches an uninterrupted run would have seen.
    """

    class FreshComposites(_pydataset_base()):
        def __init__(self):
            super().__init__(workers=workers, use_multiprocessing=False)
            self.epoch = first_epoch

        def __len__(self):
            return composite_batches_per_epoch(composites_per_epoch, batch_size)

        def __getitem__(self, index):
            size = min(batch_size, composites_per_epoch - index * batch_size)
            rng = np.random.default_rng([seed, self.epoch, index])
            if kind == ANYWHERE:
                scenes = make_anywhere_composites(images, labels, size, rng, augment=augment)
                return scenes.x, scenes.y
            if kind == ONE_TO_FOUR:
                tiles, y, _, _ = object_tiles(images, labels, size, rng)
            else:
                classes = sample_quadrant_classes(size, rng, 4)
                tiles, y = images[sample_image_indices(labels, classes, rng)], multi_hot(classes)
            if augment:
                tiles = augment_tiles(tiles.reshape(-1, TILE_SIZE, TILE_SIZE, 3), rng, max_shift)
                tiles = tiles.reshape(size, 4, TILE_SIZE, TILE_SIZE, 3)
            return tile_grid(tiles), y

        def on_epoch_end(self):
            self.epoch += 1

    return FreshComposites()


def fixed_composites(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int, first_epoch=0):
    """A `keras.utils.PyDataset` over one fixed set of composites, shuffled anew every epoch.

    Epoch `e` visits the composites in the order of `numpy.random.default_rng([seed, e])`, so a
    resumed run sees exactly the batches an uninterrupted run would have seen.
    """

    class FixedComposites(_pydataset_base()):
        def __init__(self):
            super().__init__()
            self.epoch = first_epoch
            self.order = np.random.default_rng([seed, first_epoch]).permutation(len(x))

        def __len__(self):
            return composite_batches_per_epoch(len(x), batch_size)

        def __getitem__(self, index):
            chosen = self.order[index * batch_size : (index + 1) * batch_size]
            return x[chosen], y[chosen]

        def on_epoch_end(self):
            self.epoch += 1
            self.order = np.random.default_rng([seed, self.epoch]).permutation(len(x))

    return FixedComposites()
