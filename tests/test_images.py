import io

import numpy as np
import pytest
from PIL import Image

from core.images import ImageError, decode_image, enlarge, load_upload


def encode(image, format="PNG", **options):
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def test_plain_rgb_png_is_resized():
    image = Image.new("RGB", (200, 100), (10, 200, 30))
    pixels = load_upload(encode(image), 64)
    assert pixels.shape == (64, 64, 3) and pixels.dtype == np.uint8
    np.testing.assert_array_equal(pixels[32, 32], [10, 200, 30])


def test_empty_file():
    with pytest.raises(ImageError, match="empty"):
        decode_image(b"", "a.png")


def test_not_an_image_renamed_png():
    with pytest.raises(ImageError, match="not an image"):
        decode_image(b"%PDF-1.4 this is a pdf", "doc.png")


def test_truncated_png_and_jpeg():
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))
    for format in ("PNG", "JPEG"):
        payload = encode(image, format)
        with pytest.raises(ImageError, match="damaged or truncated"):
            decode_image(payload[: len(payload) // 2], "cut")


def test_rgba_is_composited_on_white():
    image = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    image.putpixel((0, 0), (255, 0, 0, 255))
    rgb = np.asarray(decode_image(encode(image)))
    np.testing.assert_array_equal(rgb[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(rgb[4, 4], [255, 255, 255])


def test_palette_with_transparency():
    image = Image.new("P", (4, 4), 0)
    image.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    image.putpixel((1, 1), 1)
    payload = encode(image, transparency=0)
    rgb = np.asarray(decode_image(payload))
    np.testing.assert_array_equal(rgb[0, 0], [255, 255, 255])
    np.testing.assert_array_equal(rgb[1, 1], [0, 0, 255])


def test_sixteen_bit_is_scaled_not_clipped():
    values = np.array([[0, 32896], [65535, 65535]], dtype=np.uint16)
    image = Image.fromarray(values)
    assert image.mode.startswith("I;16")
    rgb = np.asarray(decode_image(encode(image)))
    assert rgb[0, 0].tolist() == [0, 0, 0]
    assert rgb[0, 1].tolist() == [128, 128, 128]
    assert rgb[1, 0].tolist() == [255, 255, 255]


def test_cmyk_jpeg():
    image = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # pure red in CMYK
    rgb = np.asarray(decode_image(encode(image, "JPEG")))
    assert rgb[4, 4, 0] > 200 and rgb[4, 4, 1] < 60


def test_exif_rotation_is_applied():
    image = Image.new("RGB", (40, 20), (0, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    rgb = decode_image(encode(image, "JPEG", exif=exif.tobytes()))
    assert rgb.size == (20, 40)


def test_huge_images_are_refused_before_decoding():
    image = Image.new("L", (3000, 3000))
    with pytest.raises(ImageError, match="refused"):
        decode_image(encode(image), "big.png", max_pixels=1_000_000)


def test_decompression_bomb_is_refused():
    image = Image.new("1", (20_000, 20_000))  # tiny file, 400 megapixels
    with pytest.raises(ImageError, match="refused|too large"):
        decode_image(encode(image), "bomb.png")


def test_enlarge_is_pixelated():
    tile = np.array([[[0, 0, 0], [255, 255, 255]]], dtype=np.uint8)
    big = enlarge(tile, 3)
    assert big.shape == (3, 6, 3)
    assert set(np.unique(big)) == {0, 255}
