"""How far apart two colours look, with normal vision and with red-green colour blindness.

Pure NumPy, so a test can check the page's palettes (`demo.charts`, `models/models.json`):

    hex "#rrggbb" -> sRGB in 0..1 -> linear RGB -> (simulated dichromat) -> XYZ (D65) -> CIE Lab

and the CIE76 distance between two Lab colours. The steps, with their formulas:

sRGB decoding (IEC 61966-2-1), per channel c in 0..1:
    linear = c / 12.92                      if c <= 0.04045
    linear = ((c + 0.055) / 1.055) ** 2.4   otherwise

Colour-vision deficiency: Machado, Oliveira & Fernandes (2009), "A Physiologically-based
Model for Simulation of Color Vision Deficiency", IEEE Transactions on Visualization and
Computer Graphics 15(6), 1291-1298, doi:10.1109/TVCG.2009.113. Their Table 1 gives a 3x3
matrix per deficiency and severity; at severity 1.0 (a dichromat: deuteranopia, protanopia)

    rgb_seen = M @ rgb,   then clipped to 0..1 (the result must be a displayable colour)

Convention: the matrices are applied to *linear* RGB (the sRGB primaries without the transfer
curve), as colorspacious (`cvd_space`, on "sRGB1-linear") and DaltonLens do; each row sums to
1, so a grey (r = g = b) stays the same grey. `tests/test_colours.py` shows that this
convention reproduces the distances measured in the issue that asked for this module (and
that applying them to gamma-encoded sRGB does not).

Linear RGB to CIE XYZ (sRGB primaries, D65 white; IEC 61966-2-1):
    X = 0.4124564 R + 0.3575761 G + 0.1804375 B
    Y = 0.2126729 R + 0.7151522 G + 0.0721750 B
    Z = 0.0193339 R + 0.1191920 G + 0.9503041 B

XYZ to CIE 1976 L*a*b* with the D65 white (Xn, Yn, Zn) = (0.95047, 1, 1.08883):
    f(t) = t ** (1/3)                 if t > (6/29) ** 3
    f(t) = t / (3 (6/29) ** 2) + 4/29 otherwise
    L* = 116 f(Y/Yn) - 16,  a* = 500 (f(X/Xn) - f(Y/Yn)),  b* = 200 (f(Y/Yn) - f(Z/Zn))

CIE76 colour difference: the Euclidean distance in Lab,
    dE = sqrt((L1 - L2)^2 + (a1 - a2)^2 + (b1 - b2)^2)
A dE of about 2.3 is just noticeable; the page asks for at least `MIN_DISTANCE` between any
two colours that must be told apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import combinations

import numpy as np

# Machado et al. (2009), Table 1, severity 1.0; for linear RGB (see the module's docstring).
MACHADO_SEVERITY_1 = {
    "protanopia": np.array(
        [
            [0.152286, 1.052583, -0.204868],
            [0.114503, 0.786281, 0.099216],
            [-0.003882, -0.048116, 1.051998],
        ]
    ),
    "deuteranopia": np.array(
        [
            [0.367322, 0.860646, -0.227968],
            [0.280085, 0.672501, 0.047413],
            [-0.011820, 0.042940, 0.968881],
        ]
    ),
}
VISIONS = ("normal", "deuteranopia", "protanopia")  # the visions a palette is checked under
MIN_DISTANCE = 30.0  # CIE76: the least distance between two colours the page tells apart

# Linear sRGB -> XYZ, D65 (IEC 61966-2-1), and the D65 reference white.
RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
WHITE_D65 = np.array([0.95047, 1.0, 1.08883])


def hex_to_srgb(colour: str) -> np.ndarray:
    """'#rrggbb' (or 'rrggbb') as gamma-encoded sRGB in 0..1, shape (3,)."""
    digits = colour.removeprefix("#")
    if len(digits) != 6:
        raise ValueError(f"A colour is '#rrggbb', got {colour!r}.")
    return np.array([int(digits[i : i + 2], 16) for i in (0, 2, 4)]) / 255.0


def srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    """Undo the sRGB transfer curve: c / 12.92 up to 0.04045, else ((c + 0.055) / 1.055)^2.4."""
    srgb = np.asarray(srgb, dtype=float)
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """The sRGB transfer curve: 12.92 c up to 0.0031308, else 1.055 c^(1/2.4) - 0.055."""
    linear = np.asarray(linear, dtype=float)
    return np.where(
        linear <= 0.0031308, 12.92 * linear, 1.055 * np.abs(linear) ** (1 / 2.4) - 0.055
    )


def simulate(linear_rgb: np.ndarray, vision: str) -> np.ndarray:
    """Linear RGB as a viewer with `vision` sees it: unchanged for "normal", else Machado et
    al.'s severity-1.0 matrix for "deuteranopia" or "protanopia", clipped to 0..1."""
    linear_rgb = np.asarray(linear_rgb, dtype=float)
    if vision == "normal":
        return linear_rgb
    if vision not in MACHADO_SEVERITY_1:
        raise ValueError(f"Unknown vision {vision!r}; one of {', '.join(VISIONS)}.")
    return np.clip(linear_rgb @ MACHADO_SEVERITY_1[vision].T, 0.0, 1.0)


def linear_to_lab(linear_rgb: np.ndarray) -> np.ndarray:
    """Linear sRGB (..., 3) -> XYZ (D65) -> CIE L*a*b* (..., 3)."""
    xyz = np.asarray(linear_rgb, dtype=float) @ RGB_TO_XYZ.T
    t = xyz / WHITE_D65
    delta = 6 / 29
    f = np.where(t > delta**3, np.cbrt(t), t / (3 * delta**2) + 4 / 29)
    lightness = 116 * f[..., 1] - 16
    a = 500 * (f[..., 0] - f[..., 1])
    b = 200 * (f[..., 1] - f[..., 2])
    return np.stack([lightness, a, b], axis=-1)


def to_lab(colour: str, vision: str = "normal", gamma_encoded: bool = False) -> np.ndarray:
    """The CIE Lab of '#rrggbb' as seen with `vision`. `gamma_encoded` applies the Machado
    matrix to gamma-encoded sRGB instead of linear RGB (the other convention, kept only to
    show that it does not reproduce the measured distances)."""
    srgb = hex_to_srgb(colour)
    if gamma_encoded:
        return linear_to_lab(srgb_to_linear(simulate(srgb, vision)))
    return linear_to_lab(simulate(srgb_to_linear(srgb), vision))


def cie76(lab1: np.ndarray, lab2: np.ndarray) -> float:
    """CIE76 colour difference: the Euclidean distance between two Lab colours."""
    return float(np.linalg.norm(np.asarray(lab1, dtype=float) - np.asarray(lab2, dtype=float)))


def distance(first: str, second: str, vision: str = "normal", gamma_encoded: bool = False):
    """CIE76 distance between two '#rrggbb' colours as a viewer with `vision` sees them."""
    return cie76(to_lab(first, vision, gamma_encoded), to_lab(second, vision, gamma_encoded))


def pair_distances(
    colours: Mapping[str, str], visions: Iterable[str] = VISIONS
) -> dict[tuple[str, str], dict[str, float]]:
    """{(name, name): {vision: CIE76 distance}} for every pair of a {name: '#rrggbb'} palette."""
    visions = tuple(visions)
    return {
        (a, b): {vision: distance(colours[a], colours[b], vision) for vision in visions}
        for a, b in combinations(colours, 2)
    }


def too_close(
    colours: Mapping[str, str],
    minimum: float = MIN_DISTANCE,
    visions: Iterable[str] = VISIONS,
) -> list[tuple[str, str, str, float]]:
    """The (name, name, vision, distance) of every pair closer than `minimum` under any of
    `visions`: empty when the palette can be told apart by everyone checked."""
    return [
        (a, b, vision, value)
        for (a, b), by_vision in pair_distances(colours, visions).items()
        for vision, value in by_vision.items()
        if value < minimum
    ]


def smallest_distance(
    colours: Mapping[str, str], visions: Iterable[str] = VISIONS
) -> tuple[float, tuple[str, str], str]:
    """The least distance of any pair under any of `visions`, with that pair and vision."""
    return min(
        (value, pair, vision)
        for pair, by_vision in pair_distances(colours, visions).items()
        for vision, value in by_vision.items()
    )


def distance_table(colours: Mapping[str, str], visions: Iterable[str] = VISIONS) -> str:
    """A Markdown table, pair | one column per vision, of every pair's CIE76 distance."""
    visions = tuple(visions)
    lines = ["pair | " + " | ".join(visions), "--- | " + " | ".join("---" for _ in visions)]
    for (a, b), by_vision in pair_distances(colours, visions).items():
        values = " | ".join(f"{by_vision[v]:.1f}" for v in visions)
        lines.append(f"{a} {colours[a]} vs {b} {colours[b]} | {values}")
    return "\n".join(lines)
