import html
import io
import json
import os
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from core import images
from core.images import ImageError, decode_bytes, decode_image, enlarge, load_upload, plain_text

REPO = Path(__file__).resolve().parents[1]


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


# ---------------------------------------------------------------------------------------------
# Large files: bounded memory, caps checked before decoding
# ---------------------------------------------------------------------------------------------

PEAK_LIMIT = 200 * 2**20  # bytes of resident memory one decode may add
BOMB_SIDE = 6320  # 39.9 megapixels: the 16-bit PNG that once peaked at 1.3 GiB
# Resident memory now and at its peak, from /proc: the peak that getrusage reports survives
# exec, so a child would inherit its parent's.
MEASURE = """
import json, re, sys
from pathlib import Path
from PIL import Image
from core.images import ImageError, load_upload

def kib(field):
    return int(re.search(field + r":\\s+(\\d+) kB", Path("/proc/self/status").read_text())[1])

Image.init()
payload = Path(sys.argv[1]).read_bytes()
resident = kib("VmRSS")
try:
    pixels = load_upload(payload, 64)
    outcome = {"shape": list(pixels.shape), "centre": pixels[32, 32].tolist()}
except ImageError as error:
    outcome = {"error": str(error)}
outcome["growth"] = (kib("VmHWM") - resident) * 1024
print(json.dumps(outcome))
"""
needs_proc = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="reads resident memory from /proc"
)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def constant_png(width, height, pixel: bytes, bit_depth=8, color_type=2, rows=None) -> bytes:
    """A PNG of one repeated pixel, written row by row: a huge image in a small file.

    `rows` limits the image data actually written (a header for a larger image than its data).
    """
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    row = b"\x00" + pixel * width
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height if rows is None else rows))
    data += compressor.flush()
    chunks = png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


LONG_TAGS = {256, 257, 273, 278, 279, 322, 323, 324, 325}  # sizes and offsets: 32 bits


def tiff_bytes(width, height, bits, photometric, data, tiles=None, extra=None) -> bytes:
    """A little-endian TIFF of one deflated strip (or tile) of `data`, built tag by tag."""
    compressed = zlib.compress(data, 9)
    offsets, counts = (324, 325) if tiles else (273, 279)
    tags = {256: [width], 257: [height], 258: bits, 259: [8], 262: [photometric]}
    tags |= {277: [len(bits)], 284: [1], offsets: [8], counts: [len(compressed)]}
    tags |= {322: [tiles[0]], 323: [tiles[1]]} if tiles else {278: [height]}
    tags |= extra or {}
    body, entries = compressed + b"\0" * (len(compressed) % 2), b""
    for tag in sorted(tags):
        values = tags[tag]
        kind, code = (4, "I") if tag in LONG_TAGS else (3, "H")
        packed = struct.pack(f"<{len(values)}{code}", *values)
        if len(packed) <= 4:
            entries += struct.pack("<HHI", tag, kind, len(values)) + packed.ljust(4, b"\0")
        else:
            entries += struct.pack("<HHII", tag, kind, len(values), 8 + len(body))
            body += packed
    directory = struct.pack("<H", len(tags)) + entries + b"\0\0\0\0"
    return b"II*\0" + struct.pack("<I", 8 + len(body)) + body + directory


def decode_in_subprocess(payload: bytes, tmp_path) -> dict:
    """Decode in a fresh interpreter: the outcome and how much resident memory it added."""
    path = tmp_path / "upload"
    path.write_bytes(payload)
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=True,
    )
    return json.loads(result.stdout)


def rgba_png_40mp() -> bytes:
    return constant_png(BOMB_SIDE, BOMB_SIDE, b"\xff\0\0\x80", 8, 6)  # half-transparent red


def baseline_jpeg_40mp() -> bytes:
    return encode(Image.new("RGB", (BOMB_SIDE, BOMB_SIDE), (10, 200, 30)), "JPEG")


def progressive_cmyk_jpeg_20mp() -> bytes:
    image = Image.new("CMYK", (5000, 4000), (0, 255, 255, 0))  # red
    return encode(image, "JPEG", progressive=True, subsampling=0)


def rgba_webp_10mp() -> bytes:
    return encode(Image.new("RGBA", (3872, 2582), (255, 0, 0, 128)), "WEBP", lossless=True)


def rgba16_tiff_12mp() -> bytes:
    blue = struct.pack("<4H", 0, 0, 65535, 65535)
    return tiff_bytes(4000, 3000, [16] * 4, 2, blue * 12_000_000, extra={338: [2]})  # 338: alpha


@needs_proc
def test_sixteen_bit_bomb_decodes_within_memory(tmp_path):
    payload = constant_png(BOMB_SIDE, BOMB_SIDE, struct.pack(">H", 40000), 16, 0)
    assert len(payload) < 200_000
    outcome = decode_in_subprocess(payload, tmp_path)
    assert outcome["growth"] < PEAK_LIMIT, outcome
    assert outcome["shape"] == [64, 64, 3]
    assert outcome["centre"] == [156, 156, 156]  # 40000 / 257, rounded


@needs_proc
@pytest.mark.slow
@pytest.mark.parametrize(
    ("make", "centre"),
    [
        (rgba_png_40mp, [255, 127, 127]),
        (baseline_jpeg_40mp, [10, 200, 30]),
        (progressive_cmyk_jpeg_20mp, [255, 0, 0]),
        (rgba_webp_10mp, [255, 127, 127]),
        (rgba16_tiff_12mp, [0, 0, 255]),
    ],
)
def test_largest_accepted_files_decode_within_memory(tmp_path, make, centre):
    outcome = decode_in_subprocess(make(), tmp_path)
    assert outcome["growth"] < PEAK_LIMIT, (make.__name__, outcome)
    assert outcome["shape"] == [64, 64, 3]
    np.testing.assert_allclose(outcome["centre"], centre, atol=3)


def patched_sof(payload: bytes, marker: int, width: int, height: int) -> bytes:
    """A JPEG whose frame header claims another size (only the header is read before the cap)."""
    at = payload.index(bytes([0xFF, marker]))
    return payload[: at + 5] + struct.pack(">HH", height, width) + payload[at + 9 :]


def rle_bmp_header(width: int, height: int) -> bytes:
    """The header and palette of an RLE8-compressed BMP, with no pixels after them."""
    palette = bytes(4 * 256)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, 0, 2835, 2835, 256, 0)
    offset = 14 + len(info) + len(palette)
    return b"BM" + struct.pack("<IHHI", offset + 2, 0, 0, offset) + info + palette + b"\0\1"


@pytest.fixture
def decoding_is_a_failure(monkeypatch):
    """Any file that gets past the caps reaches decoding, which raises `Decoded` here."""

    class Decoded(Exception):
        pass

    def reached(image, square=False):
        raise Decoded(image.size)

    monkeypatch.setattr(images, "reduced_rgb", reached)
    return Decoded


def progressive_jpeg(width, height):
    small = encode(Image.new("RGB", (16, 16)), "JPEG", progressive=True)
    return patched_sof(small, 0xC2, width, height)


def baseline_jpeg(width, height):
    return patched_sof(encode(Image.new("RGB", (16, 16)), "JPEG"), 0xC0, width, height)


@pytest.mark.parametrize(
    ("make", "cap", "kind"),
    [
        (lambda w, h: constant_png(w, h, b"\0\0\0", rows=0), images.MAX_PIXELS, "PNG"),
        (progressive_jpeg, 20_000_000, "progressive JPEG"),
        (baseline_jpeg, images.MAX_PIXELS, "JPEG"),
        (rle_bmp_header, 4_000_000, "RLE-compressed BMP"),
        (lambda w, h: encode(Image.new("RGB", (w, h)), "WEBP", lossless=True), 10_000_000, "WebP"),
    ],
)
def test_a_file_just_over_its_cap_is_refused_before_decoding(
    decoding_is_a_failure, make, cap, kind
):
    width = 5000
    height = cap // width
    assert images.MAX_PIXELS_BY_KIND.get(kind, images.MAX_PIXELS) == cap
    with pytest.raises(decoding_is_a_failure):  # at the cap: accepted, so decoded
        decode_image(make(width, height), "edge")
    with pytest.raises(ImageError) as refusal:
        decode_image(make(width, height + 1), "“over”")
    assert str(refusal.value) == (
        f"“over” is {width}x{height + 1} pixels; {kind} images over {cap:,} pixels are refused. "
        "Please upload a smaller image."
    )


def test_tiff_tiles_larger_than_the_cap_are_refused(decoding_is_a_failure):
    payload = tiff_bytes(64, 64, [8, 8, 8], 2, bytes(64 * 64 * 3), tiles=(8192, 8192))
    with pytest.raises(ImageError, match="TIFF tiles of 8192x8192 pixels"):
        decode_image(payload, "tiles.tif")


def test_png_text_is_limited_while_opening():
    from PIL import PngImagePlugin

    def with_text(chunks):
        info = PngImagePlugin.PngInfo()
        for index in range(chunks):
            info.add_text(f"note {index}", "a" * 1_000_000, zip=True)  # 1 kB in the file
        return encode(Image.new("RGB", (8, 8)), pnginfo=info)

    assert load_upload(with_text(3), 32).shape == (32, 32, 3)
    with pytest.raises(ImageError, match="damaged"):
        decode_image(with_text(5), "notes.png")


def test_single_scan_jpegs_are_told_from_progressive_ones():
    image = Image.new("RGB", (16, 16))
    assert images.is_single_scan_jpeg(encode(image, "JPEG"))
    assert images.is_single_scan_jpeg(encode(image.convert("CMYK"), "JPEG"))
    assert not images.is_single_scan_jpeg(encode(image, "JPEG", progressive=True))
    assert not images.is_single_scan_jpeg(b"\xff\xd8\xff")


# ---------------------------------------------------------------------------------------------
# The bytes a decode takes, counted from the header: rows cost as well as pixels
# ---------------------------------------------------------------------------------------------

ATTACK_ROWS = 39_900_000  # the security review's 194 KB PNG: 1 x 39,900,000 RGBA, +458 MB


def zero_png(width, height, pixel_bytes=4, bit_depth=8, color_type=6) -> bytes:
    """A PNG of zeros written chunk by chunk (IHDR, one IDAT, IEND), its raw scanlines (filter byte
    0, then zero pixels) compressed a MiB at a time, never built row by row."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    raw, block = height * (1 + width * pixel_bytes), memoryview(bytes(2**20))
    compressor = zlib.compressobj(6)
    data = b"".join(compressor.compress(block[: raw - start]) for start in range(0, raw, 2**20))
    data += compressor.flush()
    chunks = png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


@pytest.fixture(scope="module")
def attack() -> bytes:
    payload = zero_png(1, ATTACK_ROWS)  # about a second
    assert len(payload) < 200_000
    with Image.open(io.BytesIO(payload)) as image:
        assert (image.size, image.mode) == ((1, ATTACK_ROWS), "RGBA")
    return payload


@pytest.fixture
def loading_is_a_failure(monkeypatch):
    """Pillow's `load` (of any image, opened from a file or not) raises `Loaded` here."""

    class Loaded(Exception):  # no OSError or ValueError: `_decode` would turn those into refusals
        pass

    def load(self):
        raise Loaded(self.size)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    monkeypatch.setattr(Image.Image, "load", load)
    return Loaded


def test_the_tall_png_of_the_review_is_refused_from_its_header(
    attack, loading_is_a_failure, opened
):
    with pytest.raises(ImageError) as whole:
        decode_image(attack, "“attack.png”")
    with pytest.raises(ImageError) as square:
        load_upload(attack, 64, "“attack.png”")
    assert len(opened) == 2  # opened (the header read), never loaded
    assert str(square.value) == (
        "“attack\\.png” is 1x39900000 pixels (RGBA): decoding it would take about 457 MiB of "
        "memory, over the 176 MiB an upload may use. Please upload a smaller or less elongated "
        "image."
    )
    assert square.value.values["needed"] == "457"  # 12 bytes a row: see the estimates below
    assert whole.value.values["needed"] == "545"  # and the reduced image, 1 x 3,069,230
    assert whole.value.message == square.value.message  # one message, marked with N_
    assert "{needed}" in whole.value.message and "{budget}" in whole.value.message


@needs_proc
def test_the_tall_png_of_the_review_takes_no_memory_to_refuse(attack, tmp_path):
    """It took 457 MiB more (2.7 s in the lock) when only its pixels were counted."""
    outcome = decode_in_subprocess(attack, tmp_path)
    assert "457 MiB" in outcome["error"], outcome
    assert outcome["growth"] < 8 * 2**20, outcome


def test_decode_bytes_by_hand():
    # 1 x 39,900,000 RGBA, as a centre square: rows of 8 bytes of pointer and 4 of pixel, the PNG
    # decoder's 2 scanlines of at most 8 bytes a pixel, a strip of 1 pixel (the square is 1x1)
    # cropped (12) and converted (5 x 12), then the reduced image and its upright copy (2 x 12).
    assert decode_bytes("RGBA", (1, ATTACK_ROWS), square=True) == (
        ATTACK_ROWS * (8 + 4) + 2 * 8 + 12 + 5 * 12 + 2 * 12
    )
    # The whole of it: reduced by 13 (39.9 M / 13^2 under 512^2 pixels) to 1 x 3,069,230, in
    # strips of 13 x 20,164 = 262,132 rows (2^18 source pixels), 6 images of 12 bytes a row each.
    assert decode_bytes("RGBA", (1, ATTACK_ROWS)) == (
        ATTACK_ROWS * 12 + 16 + 6 * 262_132 * 12 + 2 * 3_069_230 * 12
    )  # 571,335,040 bytes: 545 MiB
    # 1000 x 500 L: 1 byte a pixel; reduced by 2 to 500 x 250 RGB, in strips of 262 rows.
    assert decode_bytes("L", (1000, 500)) == (
        500 * (8 + 1000) + 2 * 8 * 1000 + 262 * (8 + 1000) + 5 * 262 * (8 + 4000) + 2 * 250 * 2008
    )
    # 1 x 8,000,000 I;16 as a square: 10 bytes a row (measured: 76.3 MiB, 80.0 million bytes).
    assert decode_bytes("I;16", (1, 8_000_000), square=True) == 8_000_000 * 10 + 16 + 70 + 24
    # 100 x 100 F: not reduced; scaled whole to 8 bits through float64 copies (40 bytes a pixel).
    float_image = 100 * (8 + 400)
    assert decode_bytes("F", (100, 100)) == (
        float_image + 2 * 8 * 100 + float_image + 40 * 100 * 100 + 2 * 100 * (8 + 400)
    )


def test_pixel_bytes_by_mode():
    expected = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I": 4, "F": 4, "LA": 4, "PA": 4}
    expected |= {"RGB": 4, "RGBA": 4, "CMYK": 4, "YCbCr": 4, "no such mode": 4}
    assert {mode: images.pixel_bytes(mode) for mode in expected} == expected


def header_png(width, height, mode) -> bytes:
    """A PNG header for an image of that size and mode, with no pixels after it."""
    pixel, bit_depth, color_type = {
        "L": (b"\0", 8, 0),
        "I;16": (b"\0\0", 16, 0),
        "RGB": (b"\0" * 3, 8, 2),
        "RGBA": (b"\0" * 4, 8, 6),
    }[mode]
    return constant_png(width, height, pixel, bit_depth, color_type, rows=0)


def float_tiff(width, height) -> bytes:
    """A TIFF header for a 32-bit float image (SampleFormat 3) with an empty strip."""
    return tiff_bytes(width, height, [32], 1, b"", extra={339: [3]})


@pytest.mark.parametrize(
    ("make", "square", "accepted"),
    [
        # Tall: the same shape is accepted at 9 bytes a row (L) and refused at 12 (RGBA).
        (lambda: header_png(1, 18_000_000, "L"), True, True),  # 154 MiB
        (lambda: header_png(1, 18_000_000, "RGBA"), True, False),  # 206 MiB
        (lambda: header_png(1, 20_000_000, "I;16"), True, False),  # 191 MiB: 10 bytes a row
        (lambda: header_png(1, 16_000_000, "I;16"), True, True),  # 153 MiB
        (lambda: header_png(1, 2_000_000, "RGBA"), False, True),  # 34 MiB
        # Wide: the decoder keeps 2 lines of up to 8 bytes a pixel, a strip spans the width.
        (lambda: header_png(20_000_000, 1, "RGB"), True, False),  # 381 MiB
        (lambda: header_png(2_000_000, 1, "RGB"), False, True),  # 89 MiB
        (lambda: header_png(5000, 8000, "RGBA"), False, True),  # at the pixel cap: 161 MiB
        # Float, 1 x 12,000,000 (the TIFF cap): a square is 137 MiB; the whole image is reduced
        # to 1 x 1,714,285 and scaled through float64 copies of it: 262 MiB.
        (lambda: float_tiff(1, 12_000_000), True, True),
        (lambda: float_tiff(1, 12_000_000), False, False),
    ],
)
def test_tall_wide_and_float_images_are_costed_before_decoding(
    decoding_is_a_failure, loading_is_a_failure, make, square, accepted
):
    payload = make()
    with Image.open(io.BytesIO(payload)) as image:
        mode, size = image.mode, image.size
    assert (decode_bytes(mode, size, square) <= images.MAX_DECODE_BYTES) == accepted
    if accepted:
        with pytest.raises(decoding_is_a_failure):
            decode_image(payload, "edge", square=square)
    else:
        with pytest.raises(ImageError, match=r"pixels \(.+\): decoding it would take about"):
            decode_image(payload, "over", square=square)


def test_the_pixel_cap_is_still_checked_first(decoding_is_a_failure):
    with pytest.raises(ImageError, match="PNG images over 40,000,000 pixels"):
        decode_image(header_png(1, 40_000_001, "L"), "tall")


@pytest.mark.parametrize("progressive", [False, True])
def test_a_phone_photo_is_accepted(progressive):
    """12 MP, as a phone takes it (4032 x 3024), well under the page's 10 MB a file."""
    ramp = np.linspace(0, 255, 4032, dtype=np.uint8)
    pixels = np.stack([np.broadcast_to(ramp, (3024, 4032))] * 3, axis=-1)
    payload = encode(Image.fromarray(pixels), "JPEG", quality=90, progressive=progressive)
    assert len(payload) < 10 * 2**20
    assert decode_bytes("RGB", (4032, 3024), square=True) < images.MAX_DECODE_BYTES / 3
    tile = load_upload(payload, 64, "“IMG_0001.JPG”")
    assert tile.shape == (64, 64, 3)
    assert abs(int(tile[32, 32, 0]) - 128) < 8  # the middle of the ramp
    assert decode_image(payload).size == (504, 378)  # decoded at 1/4, then reduced by 2


ESTIMATE = """
import json, re, sys
from pathlib import Path
from PIL import Image
from core import images

def kib(field):
    return int(re.search(field + r":\\s+(\\d+) kB", Path("/proc/self/status").read_text())[1])

Image.init()
payload, square = Path(sys.argv[1]).read_bytes(), sys.argv[2] == "square"
resident = kib("VmRSS")
reduced = images.decode_image(payload, square=square, max_bytes=2**40)
if square:
    images.fit_square(reduced, 64)
print(json.dumps({"growth": (kib("VmHWM") - resident) * 1024}))
"""


@needs_proc
@pytest.mark.slow
@pytest.mark.parametrize(
    ("make", "mode", "size"),
    [
        (lambda: zero_png(1, 6_000_000, 1, 8, 0), "L", (1, 6_000_000)),
        (lambda: zero_png(3_000_000, 1, 8, 16, 6), "RGBA", (3_000_000, 1)),
        (lambda: zero_png(4000, 4000, 2, 16, 0), "I;16", (4000, 4000)),
    ],
)
@pytest.mark.parametrize("square", [True, False])
def test_the_estimate_bounds_what_a_decode_takes(tmp_path, make, mode, size, square):
    """Measured in a fresh interpreter, with the budget lifted: never more than the estimate
    (give or take the interpreter's own MiB), and not far below it for tall images."""
    path = tmp_path / "upload"
    path.write_bytes(make())
    result = subprocess.run(
        [sys.executable, "-c", ESTIMATE, str(path), "square" if square else "whole"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=True,
    )
    growth = json.loads(result.stdout)["growth"]
    estimate = decode_bytes(mode, size, square)
    assert growth < estimate + 2 * 2**20, (growth, estimate)
    if size[0] == 1:
        assert growth > 0.7 * estimate, (growth, estimate)


# ---------------------------------------------------------------------------------------------
# File names (and every other value) in refusals are plain text, even in Markdown
# ---------------------------------------------------------------------------------------------


def test_plain_text_escapes_markdown_and_html():
    assert plain_text("[click](http://evil)") == r"\[click\]\(http\://evil\)"
    assert plain_text("**x**") == r"\*\*x\*\*"
    assert plain_text("<b>&amp;</b>") == r"\<b\>\&amp;\</b\>"
    assert plain_text(":red[x] $y$ ~~z~~ `c` a_b |") == r"\:red\[x\] \$y\$ \~\~z\~\~ \`c\` a\_b \|"
    assert plain_text("# title") == r"\# title"  # at the start of a line only
    assert plain_text("- item") == r"\- item"
    assert plain_text("RLE-compressed BMP, 40,000,000") == "RLE-compressed BMP, 40,000,000"
    assert plain_text("1. first") == r"1\. first"
    assert plain_text("a\n# b\r\n\tc  d ") == "a # b c d"  # one line: # starts no heading
    assert plain_text("x\u202egnp.exe") == r"xgnp\.exe"  # reordering characters are dropped
    assert plain_text("“写真”") == "“写真”"
    assert plain_text(12) == "12"


def rendered(markdown: str) -> str:
    """The HTML that CommonMark (with GitHub's tables and strikethrough) makes of the text."""
    markdown_it = pytest.importorskip("markdown_it")
    parser = markdown_it.MarkdownIt("commonmark", {"html": True})
    return parser.enable(["table", "strikethrough"]).render(markdown)


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("[click](http://evil)", None),
        ("**x**", None),
        ("<img src=x onerror=alert(1)>", None),
        ("<http://evil>", None),
        ("![i](http://evil/x.png)", None),
        ("# Heading", None),
        ("- item", None),
        ("+ item", None),
        ("1. first", None),
        ("2) second", None),
        ("> quote", None),
        ("`code`", None),
        ("_a_ __b__", None),
        ("~~strike~~", None),
        ("| a | b |", None),
        ("&lt;b&gt; &#42;", None),
        ("a \\*b\\*", None),
        ("    indented", "indented"),
        ("one\n# two\n===", "one # two ==="),
        ("x\u202egnp.exe", "xgnp.exe"),
    ],
)
def test_a_file_name_is_shown_as_plain_text(opened, name, shown):
    with pytest.raises(ImageError) as refusal:
        load_upload(b"", 64, name)  # the name starts the message: "{name} is empty (0 bytes)."
    for text in (refusal.value.text(), refusal.value.text(lambda message: "» " + message)):
        page = rendered(text)
        assert page.startswith("<p>") and page.endswith("</p>\n"), page
        inner = page[len("<p>") : -len("</p>\n")]
        assert "<" not in inner, page  # no tag: no link, image, emphasis or code
        assert html.unescape(inner).endswith(f"{shown or name} is empty (0 bytes)."), page


def test_a_kept_refusal_is_escaped_once(opened):
    payload = encode(Image.new("RGB", (64, 64)))[:60]
    for _ in range(2):  # decoded, then taken from the kept refusals
        with pytest.raises(ImageError) as refusal:
            load_upload(payload, 64, "**x**.png")
        assert str(refusal.value).startswith(r"\*\*x\*\*\.png is damaged")
        assert refusal.value.values["name"] == "**x**.png"
    assert len(opened) == 1


# ---------------------------------------------------------------------------------------------
# Large images are reduced before conversion and keep their look
# ---------------------------------------------------------------------------------------------


def test_large_images_are_reduced_whole_or_to_their_centre_square():
    payload = encode(Image.new("RGB", (2000, 1000), (10, 200, 30)))
    assert decode_image(payload).size == (666, 333)  # by 3: under 512 x 512 pixels
    assert decode_image(payload, square=True).size == (500, 500)
    thin = encode(Image.new("L", (1, 300_000), 7))
    assert decode_image(thin).size == (1, 150_000)
    assert load_upload(thin, 32)[0, 0].tolist() == [7, 7, 7]


def test_exif_rotation_is_applied_to_reduced_images():
    pixels = np.zeros((1000, 2000, 3), np.uint8)
    pixels[:, 1000:] = 255  # left half black, right half white
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display: the left half goes on top
    payload = encode(Image.fromarray(pixels), "JPEG", exif=exif.tobytes())
    assert decode_image(payload).size == (250, 500)  # decoded at 1/2, then reduced by 2
    tile = load_upload(payload, 64)
    assert tile[8].max() < 30 and tile[56].min() > 225


def test_large_sixteen_bit_and_transparent_images_keep_their_values():
    grey = constant_png(3000, 2000, struct.pack(">H", 32896), 16, 0)
    assert load_upload(grey, 64)[32, 32].tolist() == [128, 128, 128]
    red = constant_png(3000, 2000, b"\xff\0\0\x80", 8, 6)
    np.testing.assert_allclose(load_upload(red, 64)[32, 32], [255, 127, 127], atol=1)


def test_only_the_first_frame_of_an_animation_is_used():
    frames = [Image.new("RGB", (40, 40), color) for color in ((255, 0, 0), (0, 0, 255))]
    for format in ("GIF", "WEBP"):
        payload = encode(frames[0], format, save_all=True, append_images=frames[1:])
        assert Image.open(io.BytesIO(payload)).n_frames == 2
        red, green, blue = load_upload(payload, 32)[16, 16].tolist()
        assert red > 240 and blue < 15, format


# ---------------------------------------------------------------------------------------------
# Each file decoded once, one decode at a time
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def opened(monkeypatch):
    """A fresh upload cache, and the list of files `Image.open` was given since."""
    monkeypatch.setattr(images, "_CACHE", OrderedDict())
    calls, original = [], Image.open

    def counting_open(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(Image, "open", counting_open)
    return calls


def test_a_rerun_with_the_same_file_does_not_decode_again(opened):
    payload = encode(Image.new("RGB", (200, 100), (10, 200, 30)))
    first = load_upload(payload, 64, "“a.png”")
    first[:] = 0  # the caller's copy: changing it changes nothing kept
    again = load_upload(bytes(payload), 64, "“a.png”")
    assert len(opened) == 1
    np.testing.assert_array_equal(again[32, 32], [10, 200, 30])
    load_upload(payload, 32, "“a.png”")  # another size is another result
    assert len(opened) == 2


def test_a_refused_file_is_not_decoded_again(opened):
    for _ in range(3):
        with pytest.raises(ImageError, match="damaged or truncated"):
            load_upload(encode(Image.new("RGB", (64, 64)))[:60], 64, "cut.png")
    assert len(opened) == 1


def test_the_cache_forgets_the_least_recently_used(opened, monkeypatch):
    monkeypatch.setattr(images, "CACHED_UPLOADS", 2)
    files = [encode(Image.new("L", (8, 8), value)) for value in (1, 2, 3)]
    for payload in (files[0], files[1], files[0], files[2], files[0], files[1]):
        load_upload(payload, 32)
    assert len(opened) == 4  # 1 was forgotten for 3, then decoded again
    assert len(images._CACHE) == 2


@pytest.fixture
def overlap(monkeypatch):
    """Slow decoding that records the most decodes ever running at once."""
    state = {"running": 0, "most": 0}
    lock, original = threading.Lock(), images.reduced_rgb

    def slow(image, square=False):
        with lock:
            state["running"] += 1
            state["most"] = max(state["most"], state["running"])
        time.sleep(0.05)
        try:
            return original(image, square)
        finally:
            with lock:
                state["running"] -= 1

    monkeypatch.setattr(images, "reduced_rgb", slow)
    return state


def run_in_threads(*calls):
    results = [None] * len(calls)

    def run(index):
        results[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_one_decode_at_a_time(overlap, opened):
    files = [encode(Image.new("L", (300, 300), value)) for value in range(6)]
    results = run_in_threads(
        *(lambda payload=payload: load_upload(payload, 64) for payload in files[:3]),
        *(lambda payload=payload: np.asarray(decode_image(payload)) for payload in files[3:]),
    )
    assert overlap["most"] == 1
    assert [int(result[5, 5, 0]) for result in results] == list(range(6))


def test_the_same_file_uploaded_at_once_is_decoded_once(overlap, opened):
    payload = encode(Image.new("RGB", (300, 300), (1, 2, 3)))
    results = run_in_threads(*[lambda: load_upload(payload, 64)] * 4)
    assert len(opened) == 1
    assert all(result[0, 0].tolist() == [1, 2, 3] for result in results)
