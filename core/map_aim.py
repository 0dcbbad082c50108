"""Maps whose aim is measured: does a class's activation map put its mass where the class is?

In a composite we know which pixels show each object, so a class activation map (`core.cam`)
can be checked against them. For the map M (h, w) of a class present in the composite:

    P = max(M, 0)                                    the positive evidence, T = sum_ij P_ij
    F_r(i, j) = |cell (i, j) & region r| / |cell (i, j)|   each region's area fraction of each
                                                     map cell (a cell is 64/h x 64/w pixels)
    share_r = sum_ij P_ij F_r(i, j) / T              (every share 0 when T = 0)

share_r is exactly the part of the positive mass of the map upsampled by nearest neighbour (as
the app draws it, `core.cam.upsample`) that falls on region r's pixels. The class owns the
regions that show it; the others are its rivals:

    S = sum of share_r over the class's own regions,   Q = max of share_r over the rivals (0 if
    none),   O = sum of share_r over every region.

Quadrants (the article's grid, one to four objects): the regions are the four quadrants, empty
ones included. The map hits when S > Q: its own quadrant (or quadrants, for a class placed
twice) holds more of its mass than any other quadrant.

Objects anywhere: the regions are the pixels each object shows (its box less what later objects
paint over it: disjoint, so no mass counts twice); the background is no region. The map hits when
S > Q and S >= O / 2: more mass on its object than on any other, and at least half of the mass
that falls on objects.

Q >= 0, so a hit needs S > 0: a map with no positive mass (T = 0) is a miss. A tie with a rival
(S = Q) is a miss too: a map that does not choose does not aim.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from core.data import CLASS_NAMES, COMPOSITE_SIZE, TILE_SIZE, box_masks


class Aim(NamedTuple):
    """Per composite and class, (n, classes): whether the map hits, its own share S, and whether
    the class is present (only present classes' maps are judged)."""

    hits: np.ndarray
    own_shares: np.ndarray
    present: np.ndarray


def cell_fractions(masks, map_shape: tuple[int, int]) -> np.ndarray:
    """(..., 64, 64) masks -> (..., h, w) area fractions: F(i, j) = the share of cell (i, j)'s
    (64/h) x (64/w) pixels that the mask covers (a mask averaged into the map's cells)."""
    masks = np.asarray(masks)
    height, width = map_shape
    if masks.ndim < 2 or masks.shape[-2:] != (COMPOSITE_SIZE, COMPOSITE_SIZE):
        raise ValueError(f"masks must end in (64, 64), got {masks.shape}.")
    if height < 1 or width < 1 or COMPOSITE_SIZE % height or COMPOSITE_SIZE % width:
        raise ValueError(f"a map of shape {map_shape} does not divide a 64x64 composite.")
    cells = masks.shape[:-2] + (height, COMPOSITE_SIZE // height, width, COMPOSITE_SIZE // width)
    return masks.reshape(cells).mean(axis=(-3, -1), dtype=np.float64)


def quadrant_masks() -> np.ndarray:
    """(4, 64, 64) bool: the quadrants top-left, top-right, bottom-left, bottom-right."""
    corners = np.array([(0, 0, TILE_SIZE), (0, TILE_SIZE, TILE_SIZE)])
    corners = np.concatenate([corners, corners + (TILE_SIZE, 0, 0)])
    return box_masks(corners)


def visible_masks(boxes) -> np.ndarray:
    """(n, 4, 3) boxes (top, left, side; -1 for an unused slot) painted in slot order -> (n, 4,
    64, 64) bool: the pixels that show each object, its box less the boxes of later slots."""
    boxes = np.asarray(boxes)
    if boxes.ndim != 3 or boxes.shape[2] != 3:
        raise ValueError(f"boxes must be (n, slots, 3) as (top, left, side), got {boxes.shape}.")
    masks = box_masks(boxes) & (boxes[:, :, 2] > 0)[:, :, None, None]
    later = np.flip(np.logical_or.accumulate(np.flip(masks, axis=1), axis=1), axis=1)
    covered = np.zeros_like(masks)
    covered[:, :-1] = later[:, 1:]
    return masks & ~covered


def region_shares(maps, fractions) -> np.ndarray:
    """(n, h, w, C) maps and (n, R, h, w) or (R, h, w) region fractions -> (n, R, C) shares:

    share[n, r, c] = sum_ij P[n, i, j, c] F[n, r, i, j] / sum_ij P[n, i, j, c],  P = max(M, 0);
    0 for every region where the map has no positive mass."""
    maps = np.asarray(maps, dtype=np.float64)
    fractions = np.asarray(fractions, dtype=np.float64)
    if maps.ndim != 4:
        raise ValueError(f"maps must be (n, h, w, classes), got {maps.shape}.")
    if fractions.ndim == 3:
        fractions = np.broadcast_to(fractions, (len(maps),) + fractions.shape)
    if fractions.ndim != 4 or fractions.shape[0] != len(maps):
        raise ValueError(f"fractions must be (n, regions, h, w), got {fractions.shape}.")
    if fractions.shape[2:] != maps.shape[1:3]:
        raise ValueError(
            f"fractions are {fractions.shape[2:]} cells but the maps {maps.shape[1:3]}."
        )
    positive = np.maximum(maps, 0.0)
    total = positive.sum(axis=(1, 2))[:, None, :]
    inside = np.einsum("nijc,nrij->nrc", positive, fractions)
    return np.divide(inside, total, out=np.zeros_like(inside), where=total > 0)


def judge(shares, region_classes, majority: bool = False) -> Aim:
    """Whether each present class's map hits its regions, from (n, R, C) shares and (n, R)
    region classes (-1 for a region of no class, an empty quadrant):

    S = sum_{r: class r = c} share_rc,  Q = max_{r: class r != c} share_rc (0 if none),
    hit = S > Q (so S > 0), and with `majority` also S >= sum_r share_rc / 2."""
    shares = np.asarray(shares, dtype=np.float64)
    region_classes = np.asarray(region_classes)
    if shares.ndim != 3 or region_classes.shape != shares.shape[:2]:
        raise ValueError(
            f"region classes {region_classes.shape} must be (n, regions) of the shares "
            f"{shares.shape} (n, regions, classes)."
        )
    own = region_classes[:, :, None] == np.arange(shares.shape[2])
    own_share = np.where(own, shares, 0.0).sum(axis=1)
    rival = np.where(own, 0.0, shares).max(axis=1, initial=0.0)
    hits = own_share > rival
    if majority:
        hits &= own_share >= shares.sum(axis=1) / 2
    present = own.any(axis=1)
    return Aim(hits & present, np.where(present, own_share, 0.0), present)


def quadrant_aim(maps, quadrant_classes) -> Aim:
    """The aim of (n, h, w, C) maps on 2x2 composites whose (n, 4) quadrant classes are given
    (-1 for an empty quadrant), by the quadrant rule S > Q."""
    maps = np.asarray(maps)
    fractions = cell_fractions(quadrant_masks(), maps.shape[1:3])
    return judge(region_shares(maps, fractions), quadrant_classes)


def object_aim(maps, classes, boxes) -> Aim:
    """The aim of (n, h, w, C) maps on composites of objects anywhere: (n, slots) classes (-1
    for an unused slot) painted in slot order in (n, slots, 3) boxes, by the objects' rule
    S > Q and S >= O / 2 on the pixels each object shows."""
    maps = np.asarray(maps)
    fractions = cell_fractions(visible_masks(boxes), maps.shape[1:3])
    return judge(region_shares(maps, fractions), classes, majority=True)


def _figures(hits: np.ndarray, own_shares: np.ndarray) -> dict:
    """How many maps, the share of them that hit and their mean own share S (None if none)."""
    count = int(hits.size)
    return {
        "maps": count,
        "hit_rate": float(hits.mean()) if count else None,
        "mean_own_share": float(own_shares.mean()) if count else None,
    }


def summarize_aim(aim: Aim, objects=None) -> dict:
    """The aim of the present classes' maps: over all of them, by class and, with (n,) `objects`
    (each composite's number of objects), by that number. Each figure is {maps, hit_rate,
    mean_own_share}: hit_rate = hits / maps, so a breakdown's rates weighted by its maps give
    the overall rate."""
    hits, shares, present = (np.asarray(part) for part in aim)
    report = _figures(hits[present], shares[present])
    report["by_class"] = {}
    for index in range(present.shape[1]):
        rows = present[:, index]
        report["by_class"][CLASS_NAMES[index]] = _figures(hits[rows, index], shares[rows, index])
    if objects is not None:
        objects = np.asarray(objects).reshape(-1)
        if len(objects) != len(present):
            raise ValueError(f"objects holds {len(objects)} counts for {len(present)} composites.")
        report["by_objects"] = {}
        for count in np.unique(objects):
            rows = objects == count
            report["by_objects"][str(int(count))] = _figures(
                hits[rows][present[rows]], shares[rows][present[rows]]
            )
    return report
