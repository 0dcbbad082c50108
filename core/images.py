"""Safe decoding of images people upload, normalised to RGB uint8 tiles or composites.

Every failure becomes an `ImageError` (a `ValueError`) whose message can be shown as it is.
"""

from __future__ import annotations

import io
import warnings

import numpy as np

MAX_PIXELS = 40_000_000  # larger images are refused before decoding
ACCEPTED_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")
BACKGROUND = (255, 255, 255)  # transparent pixels are shown on white


class ImageError(ValueError):
    """An uploaded file that cannot be used as an image; the message explains why."""


def decode_image(payload: bytes, name: str = "the file", max_pixels: int = MAX_PIXELS):
    """Bytes -> an upright RGB `PIL.Image`, or `ImageError` with a message for people."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not payload:
        raise ImageError(f"{name} is empty (0 bytes).")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(payload), formats=ACCEPTED_FORMATS)
            width, height = image.size
            if width * height > max_pixels:
                raise ImageError(
                    f"{name} is {width}x{height} pixels; images over {max_pixels:,} pixels are "
                    "refused. Please upload a smaller image."
                )
            image.load()
            image = ImageOps.exif_transpose(image)
            return to_rgb(image)
        except ImageError:
            raise
        except UnidentifiedImageError as error:
            raise ImageError(
                f"{name} is not an image this demo can read ({', '.join(ACCEPTED_FORMATS)})."
            ) from error
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise ImageError(f"{name} is too large to decode safely: {error}") from error
        except (OSError, ValueError, SyntaxError, EOFError) as error:
            raise ImageError(f"{name} is damaged or truncated and cannot be decoded.") from error


def to_rgb(image):
    """Any Pillow mode -> RGB: transparency composited on white, 16/32-bit scaled to 8 bits."""
    from PIL import Image

    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        if image.mode.startswith("I;16"):
            scaled = values / 257.0
        else:
            low, high = float(values.min()), float(values.max())
            scaled = (values - low) * (255.0 / (high - low)) if high > low else values * 0
        image = Image.fromarray(np.clip(np.round(scaled), 0, 255).astype(np.uint8), "L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, BACKGROUND + (255,))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB")


def fit_square(image, size: int) -> np.ndarray:
    """Centre-crop to a square, resize to size x size, and return uint8 (size, size, 3)."""
    from PIL import Image, ImageOps

    fitted = ImageOps.fit(image, (size, size), method=Image.Resampling.LANCZOS)
    return np.asarray(fitted, dtype=np.uint8)


def load_upload(payload: bytes, size: int, name: str = "the file") -> np.ndarray:
    """Uploaded bytes -> uint8 (size, size, 3), or `ImageError`."""
    return fit_square(decode_image(payload, name), size)


def enlarge(image: np.ndarray, factor: int) -> np.ndarray:
    """Pixelated (nearest-neighbour) upscaling so small images stay crisp, never blurred."""
    return np.repeat(np.repeat(np.asarray(image), factor, axis=0), factor, axis=1)
