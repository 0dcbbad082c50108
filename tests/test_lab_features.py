"""core.lab_features: the frozen trunks' pooled features, saved small and loaded back."""

from __future__ import annotations

import numpy as np
import pytest
from test_lab import synthetic_features

from core import lab_features
from core.data import FOUR_DISTINCT, NUM_CLASSES, ONE_TO_FOUR


def test_features_round_trip_as_float16(tmp_path):
    features = synthetic_features()
    path = tmp_path / "features.npz"
    lab_features.save_features([features], path)
    loaded = lab_features.load_features(path)[FOUR_DISTINCT]
    assert (loaded.trunk, loaded.x_train.dtype) == ("bce", np.float32)
    np.testing.assert_allclose(loaded.x_train, features.x_train, rtol=1e-3, atol=1e-3)
    np.testing.assert_array_equal(loaded.y_test, features.y_test)
    np.testing.assert_array_equal(loaded.shown_pixels, features.shown_pixels)


def test_a_damaged_file_is_refused_with_its_name(tmp_path):
    path = tmp_path / "features.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="features.npz cannot be read"):
        lab_features.load_features(path)
    np.savez(path, **{"four-distinct/trunk": np.array("bce")})
    with pytest.raises(ValueError, match="lack"):
        lab_features.load_features(path)


def test_the_image_halves_are_disjoint_and_balanced():
    labels = np.repeat(np.arange(NUM_CLASSES), 20)
    train, test = lab_features.lab_image_split(labels)
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == len(labels)
    assert (np.bincount(labels[test]) == 10).all()


def test_the_shipped_features_hold_both_families():
    families = lab_features.load_features()
    assert set(families) == {FOUR_DISTINCT, ONE_TO_FOUR}
    for data, features in families.items():
        assert features.trunk == lab_features.TRUNKS[data]
        assert features.x_train.shape[1] == lab_features.FEATURE_SIZE
        assert features.y_train.shape == (len(features.x_train), NUM_CLASSES)
        assert len(features.shown_pixels) == lab_features.SHOWN_COMPOSITES
    assert lab_features.DEFAULT_PATH.stat().st_size < 6_000_000
