"""`core.map_aim`: whether a class's activation map puts its mass where the class is."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import REPO, tiny_arrays

from core import data
from core import map_aim as ma
from core.cam import upsample

TOP_LEFT, TOP_RIGHT, BOTTOM_LEFT, BOTTOM_RIGHT = range(4)


def one_class_maps(*cells, shape=(2, 2), classes=10, value_class=0):
    """(len(cells), h, w, classes) maps: map k is zero except cells[k] ({(i, j): value}) in the
    channel of `value_class`."""
    maps = np.zeros((len(cells), *shape, classes))
    for index, values in enumerate(cells):
        for (i, j), value in values.items():
            maps[index, i, j, value_class] = value
    return maps


def test_cell_fractions_average_a_mask_into_the_maps_cells():
    mask = np.zeros((64, 64), bool)
    mask[:16, :16] = True  # a quarter of the top-left cell of a 2x2 map
    np.testing.assert_array_equal(ma.cell_fractions(mask, (2, 2)), [[0.25, 0], [0, 0]])
    np.testing.assert_array_equal(ma.cell_fractions(mask, (4, 4))[:2, :2], [[1, 0], [0, 0]])
    mask[63, 63] = True  # one pixel of the 8x8 pixels of an 8x8 map's last cell
    assert ma.cell_fractions(mask, (8, 8))[7, 7] == 1 / 64
    quadrants = ma.cell_fractions(ma.quadrant_masks(), (2, 2))
    np.testing.assert_array_equal(quadrants.reshape(4, 4), np.eye(4))
    with pytest.raises(ValueError, match="does not divide a 64x64"):
        ma.cell_fractions(mask, (5, 5))
    with pytest.raises(ValueError, match="must end in"):
        ma.cell_fractions(np.ones((32, 32)), (2, 2))


def test_a_2x2_map_with_its_mass_top_left_hits_the_top_left_quadrant():
    maps = one_class_maps({(0, 0): 2.0, (1, 1): -5.0})  # the negative cell carries no mass
    for quadrant, expected in ((TOP_LEFT, True), (TOP_RIGHT, False), (BOTTOM_RIGHT, False)):
        classes = np.full((1, 4), -1)
        classes[0, quadrant] = 0
        aim = ma.quadrant_aim(maps, classes)
        assert aim.hits[0, 0] == expected
        assert aim.own_shares[0, 0] == (1.0 if expected else 0.0)
    aim = ma.quadrant_aim(maps, [[0, 1, 2, 3]])
    assert aim.present[0].tolist() == [True] * 4 + [False] * 6
    # Classes 1-3 have all-zero maps: no positive mass is a miss.
    assert aim.hits[0].tolist() == [True] + [False] * 9


def test_the_quadrant_rule_on_a_finer_map_by_hand():
    # A 4x4 map: 3 in the top-left quadrant, 2 + 2 in the bottom-right, 1 in the top-right.
    maps = one_class_maps({(0, 0): 3.0, (2, 2): 2.0, (3, 3): 2.0, (0, 3): 1.0}, shape=(4, 4))
    shares = ma.region_shares(maps, ma.cell_fractions(ma.quadrant_masks(), (4, 4)))
    np.testing.assert_allclose(shares[0, :, 0], [3 / 8, 1 / 8, 0, 4 / 8])
    assert ma.quadrant_aim(maps, [[1, 2, 3, 0]]).hits[0, 0]
    assert not ma.quadrant_aim(maps, [[0, 2, 3, 1]]).hits[0, 0]


def test_ties_and_maps_without_positive_mass_are_misses():
    tie = one_class_maps({(0, 0): 1.0, (0, 1): 1.0})
    aim = ma.quadrant_aim(tie, [[0, 1, 2, 3]])
    assert not aim.hits[0, 0] and aim.own_shares[0, 0] == 0.5
    for flat in (0.0, -1.0):
        maps = np.full((1, 2, 2, 10), flat)
        aim = ma.quadrant_aim(maps, [[0, 1, 2, 3]])
        assert not aim.hits.any() and (aim.own_shares == 0).all()
    # A uniform map gives every quadrant a quarter: four ties, no hit.
    aim = ma.quadrant_aim(np.ones((1, 2, 2, 10)), [[0, 1, 2, 3]])
    assert not aim.hits.any() and aim.own_shares[0, :4].tolist() == [0.25] * 4
    # One object filling the frame has no rival: any positive mass hits, none misses.
    fill = np.array([[[0, 0, 64], [-1, -1, -1], [-1, -1, -1], [-1, -1, -1]]])
    maps = np.stack([np.zeros((2, 2)), np.full((2, 2), -1.0), np.eye(2)])[..., None]
    hits = [ma.object_aim(m[None], [[0, -1, -1, -1]], fill).hits[0, 0] for m in maps]
    assert hits == [False, False, True]


def test_a_class_placed_twice_owns_both_quadrants_and_empty_quadrants_are_rivals():
    classes = [[5, -1, 5, 2]]  # class 5 top-left and bottom-left, the top-right empty
    maps = one_class_maps({(0, 0): 3, (1, 0): 3, (0, 1): 4}, value_class=5)
    aim = ma.quadrant_aim(maps, classes)
    assert aim.hits[0, 5] and aim.own_shares[0, 5] == pytest.approx(0.6)  # 0.6 > 0.4
    maps = one_class_maps({(0, 0): 2, (1, 0): 2, (0, 1): 6}, value_class=5)
    aim = ma.quadrant_aim(maps, classes)
    assert not aim.hits[0, 5] and aim.own_shares[0, 5] == pytest.approx(0.4)  # 0.4 < 0.6
    assert aim.present[0].nonzero()[0].tolist() == [2, 5]


def test_shares_are_the_upsampled_maps_positive_mass_on_each_regions_pixels():
    rng = np.random.default_rng(3)
    maps = rng.normal(size=(5, 8, 8, 10))
    boxes = np.stack([rng.integers(0, 40, size=(5, 4)), rng.integers(0, 40, size=(5, 4))], -1)
    boxes = np.concatenate([boxes, rng.integers(8, 25, size=(5, 4, 1))], axis=-1)
    masks = ma.visible_masks(boxes)
    shares = ma.region_shares(maps, ma.cell_fractions(masks, (8, 8)))
    for n in range(5):
        for c in (0, 7):
            pixels = np.maximum(upsample(maps[n, :, :, c].astype(np.float32)), 0)
            expected = [pixels[mask].sum() / pixels.sum() for mask in masks[n]]
            np.testing.assert_allclose(shares[n, :, c], expected, rtol=1e-5)


def test_visible_masks_take_away_what_later_objects_paint_over():
    boxes = np.array([[[0, 0, 32], [16, 16, 32], [-1, -1, -1], [-1, -1, -1]]])
    masks = ma.visible_masks(boxes)
    assert masks.sum(axis=(2, 3)).tolist() == [[32 * 32 - 16 * 16, 32 * 32, 0, 0]]
    assert not (masks[0, 0] & masks[0, 1]).any()
    assert masks[0, 1, 16, 16] and not masks[0, 0, 16, 16]
    with pytest.raises(ValueError, match="boxes must be"):
        ma.visible_masks(boxes[0])


# Three objects on cells (0, 0), (0, 2) and (2, 0) of a 4x4 map (16-pixel cells), slot 4 unused.
THREE_BOXES = np.array([[[0, 0, 16], [0, 32, 16], [32, 0, 16], [-1, -1, -1]]])
THREE_CLASSES = np.array([[4, 6, 8, -1]])


def object_map(on_four, on_six, on_eight, background, value_class):
    return one_class_maps(
        {(0, 0): on_four, (0, 2): on_six, (2, 0): on_eight, (3, 3): background},
        shape=(4, 4),
        value_class=value_class,
    )


def test_the_objects_rule_by_hand():
    # Class 4: 0.5 of the mass on objects, more than the others' 0.25; a background twice as
    # heavy as all objects does not count against it.
    aim = ma.object_aim(object_map(0.5, 0.25, 0.25, 2.0, 4), THREE_CLASSES, THREE_BOXES)
    assert aim.hits[0, 4] and aim.own_shares[0, 4] == pytest.approx(0.5 / 3)
    assert aim.present[0].nonzero()[0].tolist() == [4, 6, 8]
    # Most of the mass on objects but under half of it: a plurality is not enough here.
    aim = ma.object_aim(object_map(0.4, 0.3, 0.3, 0.0, 4), THREE_CLASSES, THREE_BOXES)
    assert not aim.hits[0, 4] and aim.own_shares[0, 4] == pytest.approx(0.4)
    assert ma.quadrant_aim(object_map(0.4, 0.3, 0.3, 0.0, 4), [[4, 6, 8, -1]]).hits[0, 4]
    # Half and half on two objects is a tie: a miss for both.
    for value_class in (4, 6):
        aim = ma.object_aim(object_map(1, 1, 0, 0, value_class), THREE_CLASSES, THREE_BOXES)
        assert not aim.hits[0, value_class]
    # All of the mass on the background: no share on any object, a miss.
    aim = ma.object_aim(object_map(0, 0, 0, 1, 8), THREE_CLASSES, THREE_BOXES)
    assert not aim.hits[0, 8] and aim.own_shares[0, 8] == 0


def test_mass_under_a_later_object_counts_for_that_object():
    boxes = np.array([[[0, 0, 32], [0, 0, 16], [-1, -1, -1], [-1, -1, -1]]])
    maps = one_class_maps({(0, 0): 1.0}, shape=(4, 4), value_class=1)  # cell (0, 0): slot 2
    aim = ma.object_aim(maps, [[1, 2, -1, -1]], boxes)
    assert not aim.hits[0, 1] and aim.own_shares[0, 1] == 0
    maps = one_class_maps({(0, 0): 1.0}, shape=(4, 4), value_class=2)
    assert ma.object_aim(maps, [[1, 2, -1, -1]], boxes).hits[0, 2]


def maps_from_masks(masks, classes, shape, source_slot):
    """(n, h, w, 10) maps: the map of the class in slot s of composite n is the mask of slot
    source_slot(n, s) averaged into the map's cells; absent classes' maps are zero."""
    fractions = ma.cell_fractions(masks, shape)
    maps = np.zeros((len(masks), *shape, 10))
    for row, slot in zip(*np.nonzero(classes >= 0), strict=True):
        maps[row, ..., classes[row, slot]] = fractions[row, source_slot(row, slot)]
    return maps


def test_maps_made_from_composites_masks_hit_their_own_object_and_miss_the_next():
    (_, _), (x_test, y_test) = tiny_arrays(per_class_test=3)
    scenes = data.make_anywhere_composites(x_test, y_test, 12, 5, layouts="scattered")
    masks = ma.visible_masks(scenes.boxes)
    for shape in ((64, 64), (8, 8)):
        maps = maps_from_masks(masks, scenes.classes, shape, lambda row, slot: slot)
        aim = ma.object_aim(maps, scenes.classes, scenes.boxes)
        np.testing.assert_array_equal(aim.present, scenes.y > 0)
        assert aim.hits[aim.present].all()
    assert (aim.own_shares[aim.present] < 1).any()  # 8x8 cells straddle objects' edges
    # At full resolution a map on its own object's pixels holds all of its mass there ...
    maps = maps_from_masks(masks, scenes.classes, (64, 64), lambda row, slot: slot)
    assert (ma.object_aim(maps, scenes.classes, scenes.boxes).own_shares[aim.present] == 1).all()
    # ... and a map on the next object of the composite holds none of it: a miss.
    counts = scenes.counts
    maps = maps_from_masks(masks, scenes.classes, (64, 64), lambda row, s: (s + 1) % counts[row])
    moved = ma.object_aim(maps, scenes.classes, scenes.boxes)
    assert not moved.hits.any() and (moved.own_shares == 0).all()


def test_maps_made_from_one_to_four_composites_quadrants_hit():
    (_, _), (x_test, y_test) = tiny_arrays(per_class_test=3)
    _, y, classes, counts = data.make_object_composites(x_test, y_test, 12, 1)
    own = classes[:, :, None] == np.arange(10)  # (n, quadrants, classes)
    quadrants = ma.cell_fractions(ma.quadrant_masks(), (8, 8))
    maps = np.einsum("nqc,qij->nijc", own.astype(float), quadrants)
    aim = ma.quadrant_aim(maps, classes)
    np.testing.assert_array_equal(aim.present, y > 0)
    assert aim.hits[aim.present].all() and (aim.own_shares[aim.present] == 1).all()
    # The same maps judged against the quadrants turned half a turn: a class hits exactly when
    # it also sits in the opposite quadrants.
    turned = ma.quadrant_aim(maps, classes[:, ::-1])
    symmetric = (own == own[:, ::-1]).all(axis=1) & aim.present
    disjoint = ~(own & own[:, ::-1]).any(axis=1) & aim.present
    assert disjoint.sum() > 0
    assert not turned.hits[disjoint].any() and turned.hits[symmetric].all()
    assert counts.tolist() == (classes >= 0).sum(axis=1).tolist()


def test_summaries_add_up_and_name_every_class():
    hits = np.array([[True, False, False], [False, True, False]])
    own = np.array([[1.0, 0.25, 0.0], [0.5, 0.75, 0.0]])
    present = np.array([[True, True, False], [True, True, False]])
    aim = ma.Aim(hits, own, present)
    report = ma.summarize_aim(aim, objects=[2, 3])
    assert report["maps"] == 4 and report["hit_rate"] == 0.5
    assert report["mean_own_share"] == pytest.approx((1 + 0.25 + 0.5 + 0.75) / 4)
    assert report["by_class"]["airplane"] == {"maps": 2, "hit_rate": 0.5, "mean_own_share": 0.75}
    assert report["by_class"]["bird"] == {"maps": 0, "hit_rate": None, "mean_own_share": None}
    assert report["by_objects"]["3"] == {"maps": 2, "hit_rate": 0.5, "mean_own_share": 0.625}
    parts = report["by_objects"].values()
    assert sum(p["maps"] * p["hit_rate"] for p in parts) == report["maps"] * report["hit_rate"]
    with pytest.raises(ValueError, match="objects holds 1 counts for 2 composites"):
        ma.summarize_aim(aim, objects=[2])


def test_bad_shapes_are_refused_with_a_message():
    with pytest.raises(ValueError, match="maps must be"):
        ma.region_shares(np.zeros((2, 2, 10)), np.zeros((4, 2, 2)))
    with pytest.raises(ValueError, match="cells but the maps"):
        ma.region_shares(np.zeros((1, 8, 8, 10)), np.zeros((4, 4, 4)))
    with pytest.raises(ValueError, match="region classes"):
        ma.judge(np.zeros((1, 4, 10)), [[0, 1, 2]])


@pytest.mark.slow
def test_the_aim_of_a_real_models_maps_on_a_handful_of_composites():
    import keras

    from core.cam import model_maps
    from core.evaluate import evaluate_model, test_sets
    from core.inference import load_trained_model
    from core.model import LOGITS_NAME

    model = load_trained_model(REPO / "models" / "bce.keras", "sigmoid")
    (_, _), (x_test, y_test) = tiny_arrays(per_class_test=3)
    sets = test_sets(x_test, y_test, seed=0, n=8, subset_n=6)
    # CAM is exact: each map's mean plus the bias is the class's logit.
    x = sets["test"][0][:3]
    maps = model_maps(model, x, chunk=2)
    logits = keras.Model(model.inputs, model.get_layer(LOGITS_NAME).output).predict(x, verbose=0)
    bias = np.asarray(model.get_layer(LOGITS_NAME).bias)
    assert maps.shape == (3, 8, 8, 10)
    np.testing.assert_allclose(maps.mean(axis=(1, 2)) + bias, logits, atol=1e-3)

    whole = evaluate_model(model, sets)
    extra_sets = ["distinct_1", "distinct_2", "distinct_3", "repeats_allowed", "one_to_four"]
    assert list(whole["by_set"]) == extra_sets  # the layout sets are not among them
    assert list(whole["by_layout"]) == list(data.LAYOUTS)
    assert all(figures["composites"] == 6 for figures in whole["by_layout"].values())
    report = whole["map_aim"]
    assert set(report) == {"four_distinct", "one_to_four", "anywhere"}
    assert report["four_distinct"]["maps"] == 6 * 4
    assert report["one_to_four"]["maps"] == int(sets["one_to_four"][1][:6].sum())
    scattered = sets["layout_scattered"]
    assert report["anywhere"]["maps"] == int(scattered.counts.sum())
    assert set(report["anywhere"]["by_objects"]) == {"2", "3", "4"}
    for figures in report.values():
        assert set(figures["by_class"]) == set(data.CLASS_NAMES)
        assert 0 <= figures["hit_rate"] <= 1 and 0 <= figures["mean_own_share"] <= 1
        weighted = sum(
            part["maps"] * part["hit_rate"] for part in figures["by_class"].values() if part["maps"]
        )
        assert weighted == pytest.approx(figures["maps"] * figures["hit_rate"])
