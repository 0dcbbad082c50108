"""Safe decoding of images people upload, normalised to RGB uint8 tiles or composites.

Every failure becomes an `ImageError` (a `ValueError`) whose message can be shown as it is.

Memory stays bounded: the pixel count and the bytes Pillow will allocate (`decode_bytes`: rows
cost as well as pixels) are checked from the header before decoding, JPEGs are scaled down by the
decoder itself, and everything else is reduced strip by strip before any mode conversion, so the
only full-size buffer is the one the decoder fills. One image is decoded at a time per process,
and the small result of each upload is kept, so a rerun of the page never decodes it again.
Values shown in a refusal (the file's name above all) are escaped, so Markdown shows them as text.
"""

from __future__ import annotations

import hashlib
import io
import math
import threading
import unicodedata
import warnings
from collections import OrderedDict

import numpy as np

# Larger images are refused before decoding. Pillow holds a decoded image at up to 4 bytes a
# pixel, so 40 megapixels peak near 160 MiB, under the 200 MiB one upload may take from a worker.
# (A phone's 12 MP photo, 4032x3024, is well under it.) Rows cost too: see `decode_bytes`.
MAX_PIXELS = 40_000_000
# What Pillow allocates for an image, from its header (`decode_bytes`): measured with Pillow 13.0
# on Linux x86-64 as the growth of peak resident memory (VmHWM) of a fresh interpreter that loads
# one image of 1 x 8,000,000, 8,000,000 x 1 or 2828 x 2828 pixels, in modes 1, L, LA, RGB, RGBA,
# I;16, I and F (`Image.new`) and L, LA, RGB, RGBA, I;16 (PNG files). Per row: 8 bytes besides its
# pixels (a 1 x 8,000,000 image takes 9 bytes a row in L, 10 in I;16, 12 in RGB, RGBA and F), the
# pointer Pillow keeps to each row. Per pixel: `pixel_bytes`. Per column: a PNG decoder keeps the
# current and the previous scanline as they are in the file (an 8,000,000 x 1 image takes 3 bytes a
# pixel in L, 6 in I;16, 8 in LA, 10 in RGB, 12 in RGBA: its 1, 2 or 4 plus twice 1, 2, 3 or 4).
ROW_BYTES = 8  # the pointer to each row
DECODER_SCANLINES = 2  # a PNG decoder's current and previous line (its filters read both)
MAX_FILE_PIXEL_BYTES = 8  # the widest pixel a file stores: 16-bit RGBA
STRIP_COPIES = 5  # RGB-sized copies of a strip alive at once while it is converted (RGBA: 4 + 1)
FLOAT_BYTES = 40  # per reduced pixel of a 32-bit or float image: its float64 copies while scaled
# Larger estimates are refused before decoding: the largest images the pixel caps accept (40 MP of
# 4-byte pixels, about 153 MiB, plus conversions: 160 MiB in all) fit, and so does the interpreter's
# own memory under the 200 MiB one upload may take. The same bytes buy about 15 million rows of
# 1 pixel at most (12 bytes a row in RGBA, as a centre square; fewer whole), never the
# 1 x 39,900,000 PNG (457 MiB decoded).
MAX_DECODE_BYTES = 176 * 2**20
# Decoders that hold more than the image itself get lower caps, for the same peak (measured):
# progressive or multi-scan JPEGs keep every coefficient (up to 8 bytes a pixel in CMYK), a
# compressed TIFF strip of 16-bit RGBA takes 8 more, WebP keeps the frame four times over (16),
# and RLE-compressed BMPs are expanded in Python, about 0.2 s a megapixel. A single-scan JPEG
# is decoded at 1/8 scale at most and stays small.
MAX_PIXELS_BY_KIND = {
    "progressive JPEG": 20_000_000,
    "TIFF": 12_000_000,
    "WebP": 10_000_000,
    "RLE-compressed BMP": 4_000_000,
}
# Images are reduced to about this many pixels before conversion: at least 256 a side for the
# centre square, four times the 64 the models see, so the final Lanczos resize has detail to use.
WORKING_PIXELS = 512 * 512
# PNG text is inflated as the file is opened (Pillow allows 64 MiB); a photo needs far less.
MAX_TEXT_BYTES = 4 * 2**20
STRIP_PIXELS = 1 << 18  # source pixels converted at a time (1 MiB at 4 bytes a pixel)
CACHED_UPLOADS = 256  # small results kept (at most 12 KiB each, about 3 MiB in all)
ACCEPTED_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")
BACKGROUND = (255, 255, 255)  # transparent pixels are shown on white
SINGLE_SCAN_FRAMES = (0xC0, 0xC1)  # JPEG baseline and extended sequential frame markers
ORIENTATION_TAG = 0x0112  # EXIF
TILE_WIDTH_TAG, TILE_LENGTH_TAG = 322, 323  # TIFF
# EXIF orientation -> the Pillow transpose that makes the image upright (as ImageOps does).
UPRIGHT = {
    2: "FLIP_LEFT_RIGHT",
    3: "ROTATE_180",
    4: "FLIP_TOP_BOTTOM",
    5: "TRANSPOSE",
    6: "ROTATE_270",
    7: "TRANSVERSE",
    8: "ROTATE_90",
}

_DECODE_LOCK = threading.Lock()  # one decode at a time: a class uploading at once queues here
_CACHE_LOCK = threading.Lock()
_CACHE: OrderedDict[tuple[str, int, str], np.ndarray | str] = OrderedDict()


def N_(message: str) -> str:  # noqa: N802 - gettext's marker: the page's catalogs hold these
    """Marks a refusal's message for translation (`demo/i18n.py` extracts it from here)."""
    return message


class ImageError(ValueError):
    """An uploaded file that cannot be used as an image. `str(error)` says why in English; a
    page shows `error.text(_)`: its `message` (marked with N_) translated, then filled in with
    its `values`, as `demo.rooms.RoomError` does. Both fill in the values as `plain_text`, safe
    for Markdown; `values` keep them as they were given."""

    def __init__(self, message: str, **values):
        self.message, self.values = message, values
        super().__init__(self.text())

    def text(self, translate=None) -> str:
        """The refusal in the language of `translate` (a gettext function; default: English).

        Every value is filled in as `plain_text`, so the text can go to `st.error` (Markdown) as it
        is: a file named `[click](http://evil)` shows as that name, not as a link.
        """
        template = translate(self.message) if translate else self.message
        return template.format(**{key: plain_text(value) for key, value in self.values.items()})


# Characters that Markdown (CommonMark, GitHub's tables, strikethrough and autolinks, Streamlit's
# :colour[...] and $math$) or HTML give a meaning to; a backslash before each shows it as it is.
MARKDOWN_SPECIALS = frozenset("\\`*_{}[]()<>!|~:&$.")
# These mean something only at the start of a line (a heading, a list item): a value has no line
# breaks left, so only its first character can be there.
LINE_START_SPECIALS = frozenset("#+-")
# Invisible characters that reorder the text around them ("evil\u202egnp.exe" shows as
# "evilexe.png"): dropped.
BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def plain_text(value) -> str:
    """`value` as text that Markdown and HTML show as it is, on one line.

    Markdown and HTML specials get a backslash, line breaks and other control characters become
    spaces and runs of white space one space (as a page would show them anyway), and characters
    that reorder the text are dropped: `[click](http://evil)` -> `\\[click\\]\\(http\\://evil\\)`.
    """
    kept = (" " if unicodedata.category(c) == "Cc" else c for c in str(value))
    text = " ".join("".join(c for c in kept if c not in BIDI_CONTROLS).split())
    return "".join(
        f"\\{c}" if c in MARKDOWN_SPECIALS or (at == 0 and c in LINE_START_SPECIALS) else c
        for at, c in enumerate(text)
    )


def decode_image(
    payload: bytes,
    name: str = "the file",
    max_pixels: int = MAX_PIXELS,
    square: bool = False,
    max_bytes: int = MAX_DECODE_BYTES,
):
    """Bytes -> an upright RGB `PIL.Image` of about `WORKING_PIXELS` at most, or `ImageError`.

    Images larger than that are reduced by a whole factor; `square` keeps the centre square only.
    An image over `max_pixels` pixels, or whose decoding would take over `max_bytes` bytes
    (`decode_bytes`), is refused from its header, before anything is decoded.
    """
    with _DECODE_LOCK:
        return _decode(payload, name, max_pixels, square, max_bytes)


def _decode(
    payload: bytes, name: str, max_pixels: int, square: bool, max_bytes: int = MAX_DECODE_BYTES
):
    """`decode_image` without the lock: every failure is turned into an `ImageError`."""
    from PIL import Image, PngImagePlugin, UnidentifiedImageError

    if not payload:
        raise ImageError(N_("{name} is empty (0 bytes)."), name=name)
    PngImagePlugin.MAX_TEXT_MEMORY = min(PngImagePlugin.MAX_TEXT_MEMORY, MAX_TEXT_BYTES)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(payload), formats=ACCEPTED_FORMATS) as image:
                refuse_if_too_large(image, decoder_kind(image, payload), name, max_pixels)
                refuse_if_too_costly(image, name, square, max_bytes)
                return reduced_rgb(image, square)
        except ImageError:
            raise
        except UnidentifiedImageError as error:
            raise ImageError(
                N_("{name} is not an image this demo can read ({formats})."),
                name=name,
                formats=", ".join(ACCEPTED_FORMATS),
            ) from error
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            message = N_("{name} is too large to decode safely: {error}")
            raise ImageError(message, name=name, error=str(error)) from error
        except (OSError, ValueError, SyntaxError, EOFError) as error:
            message = N_("{name} is damaged or truncated and cannot be decoded.")
            raise ImageError(message, name=name) from error


def refuse_if_too_large(image, kind: str, name: str, max_pixels: int = MAX_PIXELS) -> None:
    """Raise `ImageError` for an opened image over its kind's pixel cap, from its header alone."""
    cap = min(max_pixels, MAX_PIXELS_BY_KIND.get(kind, max_pixels))
    width, height = image.size
    if width * height > cap:
        raise ImageError(
            N_(
                "{name} is {size} pixels; {kind} images over {cap} pixels are refused. Please "
                "upload a smaller image."
            ),
            name=name,
            size=f"{width}x{height}",
            kind=kind,
            cap=f"{cap:,}",
        )
    # A TIFF tile is decoded whole, even where it reaches far beyond the image.
    tags = getattr(image, "tag_v2", None) or {}
    tile = (tags.get(TILE_WIDTH_TAG) or 0, tags.get(TILE_LENGTH_TAG) or 0)
    if tile[0] * tile[1] > cap:
        raise ImageError(
            N_(
                "{name} is stored in TIFF tiles of {size} pixels; tiles over {cap} pixels are "
                "refused. Please save it without tiles or as a PNG."
            ),
            name=name,
            size=f"{tile[0]}x{tile[1]}",
            cap=f"{cap:,}",
        )


def refuse_if_too_costly(
    image, name: str, square: bool = False, max_bytes: int = MAX_DECODE_BYTES
) -> None:
    """Raise `ImageError` for an opened image whose decoding would take over `max_bytes` bytes,
    from its header alone (`decode_bytes`): very tall or wide images cost more than their pixels."""
    needed = decode_bytes(image.mode, image.size, square)
    if needed > max_bytes:
        raise ImageError(
            N_(
                "{name} is {size} pixels ({mode}): decoding it would take about {needed} MiB of "
                "memory, over the {budget} MiB an upload may use. Please upload a smaller or less "
                "elongated image."
            ),
            name=name,
            size=f"{image.width}x{image.height}",
            mode=image.mode,
            needed=f"{needed / 2**20:,.0f}",
            budget=f"{max_bytes / 2**20:,.0f}",
        )


def pixel_bytes(mode: str) -> int:
    """Bytes Pillow stores a pixel of `mode` in: 1 (1, L, P), 2 (I;16...), 4 (I, F, and every mode
    of 2 to 4 bands of 8 bits, padded to 4: LA, PA, RGB, RGBA, CMYK, YCbCr...). Unknown modes: 4."""
    from PIL import ImageMode

    try:
        described = ImageMode.getmode(mode)
    except (KeyError, ValueError):
        return 4
    if len(described.bands) > 1:
        return 4
    return int(described.typestr[2:])  # "|u1", "|b1", "<u2", "<i4", "<f4"


def image_bytes(mode: str, width: int, height: int) -> int:
    """Bytes of a Pillow image of that mode and size: each row's pixels and pointer (measured)."""
    return height * (ROW_BYTES + width * pixel_bytes(mode))


def decode_bytes(mode: str, size: tuple[int, int], square: bool = False) -> int:
    """Bytes that decoding an image of this header takes at its peak, in Pillow and in this
    module's conversions, before any of it is decoded (for a JPEG an upper bound: the decoder may
    scale it down by up to 8).

    For `w` x `h` pixels of `p` bytes in Pillow (`pixel_bytes`), the region kept (the whole image,
    or its centre square) reduced to `rw` x `rh` (`reduction_factors`) and strips of `sw` x `sh`
    pixels (`reduce_in_strips`):

        h * (8 + w * p) + 2 * 8 * w              the decoded image, and the decoder's scanlines
        + sh * (8 + sw * p) + 5 * sh * (8 + 4 * sw)   a strip cropped and converted to RGB
          (32-bit and float images instead: rh * (8 + 4 * rw) + 40 * rw * rh, reduced then scaled
          in float64)
        + 2 * rh * (8 + 4 * rw)                  the reduced RGB image, and its upright copy

    8 bytes a row is Pillow's pointer to the row (`ROW_BYTES`), measured: a 1 x 8,000,000 RGBA
    image takes 12 bytes a row, not 4, and the 1 x 39,900,000 PNG of 194 KB takes 457 MiB.
    """
    width, height = size
    decoded = image_bytes(mode, width, height)
    decoded += DECODER_SCANLINES * width * MAX_FILE_PIXEL_BYTES
    box = region(size, square)
    across, down = reduction_factors(box)
    reduced_width, reduced_height = (box[2] - box[0]) // across, (box[3] - box[1]) // down
    if mode in ("I", "F"):
        converting = image_bytes(mode, reduced_width, reduced_height)
        converting += FLOAT_BYTES * reduced_width * reduced_height
    else:
        strip_width = reduced_width * across
        strip_height = min(
            down * max(1, STRIP_PIXELS // max(1, strip_width * down)), reduced_height * down
        )
        converting = image_bytes(mode, strip_width, strip_height)
        converting += STRIP_COPIES * image_bytes("RGB", strip_width, strip_height)
    return decoded + converting + 2 * image_bytes("RGB", reduced_width, reduced_height)


def decoder_kind(image, payload: bytes) -> str:
    """The name of an opened image's format, as its pixel cap and messages know it."""
    if image.format == "WEBP":
        return "WebP"
    if image.format == "BMP" and image.info.get("compression") in (1, 2):
        return "RLE-compressed BMP"
    if image.format in ("JPEG", "MPO") and not is_single_scan_jpeg(payload):
        return "progressive JPEG"
    return image.format


def is_single_scan_jpeg(payload: bytes) -> bool:
    """Whether a JPEG is sequential with every component in its first scan, from its markers.

    Only such a JPEG is decoded without a buffer for the whole image's coefficients.
    """
    frame_components, position = None, 2
    while position + 5 <= len(payload) and payload[position] == 0xFF:
        marker = payload[position + 1]
        if marker == 0xFF:  # a fill byte before the marker
            position += 1
            continue
        if marker == 0xDA:  # start of the first scan: how many components it holds
            return frame_components is not None and payload[position + 4] == frame_components
        if marker in SINGLE_SCAN_FRAMES and position + 10 <= len(payload):
            frame_components = payload[position + 9]
        elif 0xC2 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return False  # progressive, lossless or arithmetic-coded frames
        position += 2 + int.from_bytes(payload[position + 2 : position + 4], "big")
    return False


def reduced_rgb(image, square: bool = False):
    """An opened, not yet loaded image -> upright RGB, reduced to about `WORKING_PIXELS`."""
    across, down = reduction_factors(region(image.size, square))
    # JPEG decoders can scale by 1/2, 1/4 or 1/8 while decoding; other formats ignore this.
    image.draft(None, (math.ceil(image.width / across), math.ceil(image.height / down)))
    image.load()
    orientation = image.getexif().get(ORIENTATION_TAG, 1)
    box = region(image.size, square)
    reduced = reduce_in_strips(image, box, reduction_factors(box))
    if orientation in UPRIGHT:
        from PIL import Image

        reduced = reduced.transpose(getattr(Image.Transpose, UPRIGHT[orientation]))
    return reduced


def region(size: tuple[int, int], square: bool) -> tuple[int, int, int, int]:
    """The box to keep: the whole image, or its centre square (upright or not, the same one)."""
    width, height = size
    if not square:
        return (0, 0, width, height)
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return (left, top, left + side, top + side)


def reduction_factors(box: tuple[int, int, int, int]) -> tuple[int, int]:
    """Whole factors (across, down) that bring the box to about `WORKING_PIXELS` or fewer.

    The same factor both ways keeps the shape; only a side thinner than it keeps its pixel.
    """
    width, height = box[2] - box[0], box[3] - box[1]
    factor = max(1, math.ceil(math.sqrt(width * height / WORKING_PIXELS)))
    return min(factor, width), min(factor, height)


def reduce_in_strips(image, box: tuple[int, int, int, int], factors: tuple[int, int]):
    """The box of a loaded image, reduced by `factors` and converted to RGB a strip at a time.

    Converting strips keeps the full-size conversions (alpha, 16 bits) to `STRIP_PIXELS` each.
    32-bit and float images are reduced whole first, since they are stretched by their range.
    """
    from PIL import Image

    across, down = factors
    left, top = box[0], box[1]
    width, height = (box[2] - left) // across, (box[3] - top) // down
    right, bottom = left + width * across, top + height * down
    if image.mode in ("I", "F"):
        return to_rgb(image.reduce(factors, box=(left, top, right, bottom)))
    rows = down * max(1, STRIP_PIXELS // ((right - left) * down))
    reduced = Image.new("RGB", (width, height))
    for y in range(top, bottom, rows):
        strip = image.crop((left, y, right, min(y + rows, bottom)))
        reduced.paste(to_rgb(strip).reduce(factors), (0, (y - top) // down))
    return reduced


def to_rgb(image):
    """Any Pillow mode -> RGB: transparency composited on white, 16/32-bit scaled to 8 bits."""
    from PIL import Image

    if image.mode.startswith("I;16"):
        # round(v / 257) in integers: 0..65535 onto 0..255 without a float copy.
        values = np.asarray(image).astype(np.uint32)
        image = Image.fromarray(((values + 128) // 257).astype(np.uint8), "L")
    elif image.mode in ("I", "F"):
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / (high - low)) if high > low else values * 0
        image = Image.fromarray(np.clip(np.round(scaled), 0, 255).astype(np.uint8), "L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        image = Image.new("RGB", rgba.size, BACKGROUND)
        image.paste(rgba.convert("RGB"), mask=rgba.getchannel("A"))
    return image.convert("RGB")


def fit_square(image, size: int) -> np.ndarray:
    """Centre-crop to a square, resize to size x size, and return uint8 (size, size, 3)."""
    from PIL import Image, ImageOps

    fitted = ImageOps.fit(image, (size, size), method=Image.Resampling.LANCZOS)
    return np.asarray(fitted, dtype=np.uint8)


def load_upload(payload: bytes, size: int, name: str = "the file") -> np.ndarray:
    """Uploaded bytes -> uint8 (size, size, 3), or `ImageError`; each file is decoded once.

    Results (and refusals) are kept by the file's SHA-256, so reruns reuse them.
    """
    key = (hashlib.sha256(payload).hexdigest(), size, name)
    outcome = cached(key)
    if outcome is None:
        with _DECODE_LOCK:
            # Another thread may have decoded the same file while this one waited.
            outcome = cached(key)
            if outcome is None:
                outcome = fresh_outcome(payload, size, name)
                remember(key, outcome)
    if isinstance(outcome, ImageError):
        raise ImageError(outcome.message, **outcome.values)
    return outcome.copy()


def fresh_outcome(payload: bytes, size: int, name: str) -> np.ndarray | ImageError:
    """Decode (the caller holds the lock): the size x size pixels, or the refusal."""
    try:
        return fit_square(_decode(payload, name, MAX_PIXELS, True, MAX_DECODE_BYTES), size)
    except ImageError as error:
        return ImageError(error.message, **error.values)  # without the traceback it holds


def cached(key: tuple[str, int, str]) -> np.ndarray | ImageError | None:
    """The kept outcome for `key`, marked as recently used, or None."""
    with _CACHE_LOCK:
        outcome = _CACHE.get(key)
        if outcome is not None:
            _CACHE.move_to_end(key)
        return outcome


def remember(key: tuple[str, int, str], outcome: np.ndarray | ImageError) -> None:
    """Keep an outcome, forgetting the least recently used beyond `CACHED_UPLOADS`."""
    with _CACHE_LOCK:
        _CACHE[key] = outcome
        while len(_CACHE) > CACHED_UPLOADS:
            _CACHE.popitem(last=False)


def enlarge(image: np.ndarray, factor: int) -> np.ndarray:
    """Pixelated (nearest-neighbour) upscaling so small images stay crisp, never blurred."""
    return np.repeat(np.repeat(np.asarray(image), factor, axis=0), factor, axis=1)
