import tarfile

import numpy as np
import pytest
from conftest import (
    SHARED_CIFAR,
    add_bytes_to_tar,
    make_tarball,
    tiny_arrays,
    write_batches,
    write_class_folders,
)

from core import data


def assert_same(loaded, expected):
    for (images, labels), (want_images, want_labels) in zip(loaded, expected, strict=True):
        order = np.lexsort((want_images[:, 0, 0, 2], want_labels))
        np.testing.assert_array_equal(labels, want_labels[order])
        np.testing.assert_array_equal(images, want_images[order])
        assert images.dtype == np.uint8 and labels.dtype == np.int64


# --- Sources -----------------------------------------------------------------------------------


def test_class_folders_round_trip(tmp_path, arrays):
    root = write_class_folders(tmp_path / "cifar", arrays)
    assert_same(data.load_cifar10(root), arrays)


def test_class_folder_tarball_with_prefix_is_read_in_place(tmp_path, arrays):
    folder = write_class_folders(tmp_path / "src", arrays)
    archive = make_tarball(folder, tmp_path / "cifar.tar.gz", "cifar10")
    before = sorted(p.name for p in tmp_path.iterdir())
    assert_same(data.load_cifar10(archive), arrays)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_official_batches_folder_and_tarball(tmp_path, arrays):
    folder = write_batches(tmp_path / "cifar-10-batches-py", arrays)
    (x_train, y_train), (x_test, y_test) = data.load_cifar10(folder)
    np.testing.assert_array_equal(x_train, arrays[0][0])
    np.testing.assert_array_equal(y_test, arrays[1][1])
    assert data.load_cifar10(tmp_path)[1][0].shape == x_test.shape  # parent folder works too
    archive = make_tarball(folder, tmp_path / "cifar-10-python.tar.gz", "cifar-10-batches-py")
    (tar_train, _), _ = data.load_cifar10(archive)
    np.testing.assert_array_equal(tar_train, x_train)


def test_second_load_comes_from_the_cache(tmp_path, arrays, monkeypatch):
    root = write_class_folders(tmp_path / "cifar", arrays)
    first = data.load_cifar10(root)
    cached = list(data.cache_folder().glob("*.npz"))
    assert len(cached) == 1
    monkeypatch.setattr(data, "_load_folder", lambda _: pytest.fail("decoded again"))
    second = data.load_cifar10(root)
    np.testing.assert_array_equal(first[0][0], second[0][0])


def test_cache_key_changes_when_the_source_changes(tmp_path, arrays):
    root = write_class_folders(tmp_path / "cifar", arrays)
    before = data.source_fingerprint(root)
    (root / "train" / "cat" / "0000.png").unlink()
    assert data.source_fingerprint(root) != before
    assert len(data.load_cifar10(root)[0][0]) == len(arrays[0][0]) - 1


def test_missing_path():
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.load_cifar10("/nonexistent/cifar")


def test_unknown_layout(tmp_path):
    (tmp_path / "random").mkdir()
    (tmp_path / "random" / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="Unknown CIFAR-10 layout"):
        data.load_cifar10(tmp_path)
    plain = tmp_path / "plain.bin"
    plain.write_bytes(b"not an archive")
    with pytest.raises(ValueError, match="neither a folder nor a tar"):
        data.load_cifar10(plain)


def test_misspelled_class_folder_is_named(tmp_path, arrays):
    root = write_class_folders(tmp_path / "cifar", arrays)
    (root / "test" / "airplane").rename(root / "test" / "aeroplane")
    with pytest.raises(ValueError, match="'aeroplane' \\(did you mean 'airplane'\\?\\)"):
        data.load_cifar10(root)


def test_missing_class_folder(tmp_path, arrays):
    root = write_class_folders(tmp_path / "cifar", arrays)
    for file in (root / "train" / "truck").iterdir():
        file.unlink()
    (root / "train" / "truck").rmdir()
    with pytest.raises(ValueError, match="missing from train/.*truck"):
        data.load_cifar10(root)


def test_undecodable_image_is_named(tmp_path, arrays):
    root = write_class_folders(tmp_path / "cifar", arrays)
    (root / "train" / "dog" / "0001.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(ValueError, match="train/dog/0001.png"):
        data.load_cifar10(root)


def test_split_without_images(tmp_path, arrays):
    folder = write_class_folders(tmp_path / "src", arrays)
    with tarfile.open(tmp_path / "train-only.tar.gz", "w:gz") as tar:
        tar.add(folder / "train", arcname="train")
    with pytest.raises(ValueError, match="'test' split .* has no images"):
        data.load_cifar10(tmp_path / "train-only.tar.gz")


def test_wrong_image_size_or_mode(tmp_path, arrays):
    from PIL import Image

    root = write_class_folders(tmp_path / "cifar", arrays)
    Image.new("RGB", (33, 32)).save(root / "test" / "cat" / "0000.png")
    with pytest.raises(ValueError, match="33x32 RGB; CIFAR-10 images must be 32x32 RGB"):
        data.load_cifar10(root)
    Image.new("RGB", (32, 32)).save(root / "test" / "cat" / "0000.png")
    Image.new("L", (32, 32)).save(root / "test" / "cat" / "0001.png")
    with pytest.raises(ValueError, match="32x32 L"):
        data.load_cifar10(root)


def test_truncated_image_in_tarball(tmp_path, arrays):
    folder = write_class_folders(tmp_path / "src", arrays)
    archive = tmp_path / "broken.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="")
        payload = (folder / "test" / "ship" / "0000.png").read_bytes()[:40]
        add_bytes_to_tar(tar, "test/ship/9999.png", payload)
    with pytest.raises(ValueError, match="test/ship/9999.png"):
        data.load_cifar10(archive)


@pytest.mark.skipif(not SHARED_CIFAR.exists(), reason="shared CIFAR-10 copy not present")
def test_shared_jpeg_copy_has_the_full_dataset():
    (x_train, y_train), (x_test, y_test) = data.load_cifar10(SHARED_CIFAR)
    assert x_train.shape == (50_000, 32, 32, 3) and x_test.shape == (10_000, 32, 32, 3)
    assert np.bincount(y_train).tolist() == [5_000] * 10
    assert np.bincount(y_test).tolist() == [1_000] * 10


# --- Composites --------------------------------------------------------------------------------


def test_compose_places_tiles_in_reading_order():
    tiles = np.stack([np.full((32, 32, 3), value, np.uint8) for value in (1, 2, 3, 4)])
    composite = data.compose(tiles)
    assert composite.shape == (64, 64, 3)
    assert composite[0, 0, 0] == 1 and composite[0, 63, 0] == 2
    assert composite[63, 0, 0] == 3 and composite[63, 63, 0] == 4
    assert composite[31, 31, 0] == 1 and composite[32, 32, 0] == 4
    with pytest.raises(ValueError, match="4 tiles of 32x32x3"):
        data.compose(tiles[:3])


def test_make_composites_invariants():
    (images, labels), _ = tiny_arrays(per_class_train=5)
    x, y, classes, indices = data.make_composites(images, labels, 300, seed=7, return_indices=True)
    assert x.shape == (300, 64, 64, 3) and x.dtype == np.uint8
    assert y.shape == (300, 10) and y.dtype == np.float32
    assert classes.shape == (300, 4)
    assert all(len(set(row)) == 4 for row in classes.tolist())
    np.testing.assert_array_equal(y.sum(axis=1), 4)
    np.testing.assert_array_equal(labels[indices], classes)
    quadrants = [(slice(0, 32), slice(0, 32)), (slice(0, 32), slice(32, 64))]
    quadrants += [(slice(32, 64), slice(0, 32)), (slice(32, 64), slice(32, 64))]
    for q, (rows, cols) in enumerate(quadrants):
        np.testing.assert_array_equal(x[:, rows, cols], images[indices[:, q]])
    for row in range(300):
        assert set(np.flatnonzero(y[row])) == set(classes[row])


def test_make_composites_is_deterministic_per_seed():
    (images, labels), _ = tiny_arrays()
    first = data.make_composites(images, labels, 50, seed=3)
    second = data.make_composites(images, labels, 50, seed=3)
    other = data.make_composites(images, labels, 50, seed=4)
    for a, b in zip(first, second, strict=True):
        assert a.tobytes() == b.tobytes()
    assert first[0].tobytes() != other[0].tobytes()


def test_class_choice_is_uniform_and_positions_random():
    (images, labels), _ = tiny_arrays()
    _, y, classes = data.make_composites(images, labels, 20_000, seed=1)
    frequency = y.mean(axis=0)
    np.testing.assert_allclose(frequency, 0.4, atol=0.02)
    for quadrant in range(4):
        counts = np.bincount(classes[:, quadrant], minlength=10) / len(classes)
        np.testing.assert_allclose(counts, 0.1, atol=0.015)


def test_train_and_test_composites_come_from_their_own_split():
    (train_images, train_labels), (test_images, test_labels) = tiny_arrays()
    x_train, _, _ = data.make_composites(train_images, train_labels, 100, seed=0)
    x_test, _, _ = data.make_composites(test_images, test_labels, 100, seed=0)
    # The top-left pixel of every tile carries its split id (1 train, 2 test).
    corners = (slice(None), [0, 0, 32, 32], [0, 32, 0, 32], 0)
    assert set(np.unique(x_train[corners])) == {1}
    assert set(np.unique(x_test[corners])) == {2}


@pytest.mark.parametrize("distinct", [1, 2, 3, 4])
def test_k_distinct_classes(distinct):
    (images, labels), _ = tiny_arrays()
    _, y, classes = data.make_composites(images, labels, 200, seed=5, distinct=distinct)
    np.testing.assert_array_equal(y.sum(axis=1), distinct)
    assert all(len(set(row)) == distinct for row in classes.tolist())


def test_repeated_classes_count_once():
    (images, labels), _ = tiny_arrays()
    _, y, classes = data.make_composites(images, labels, 500, seed=2, distinct=None)
    distinct_counts = np.array([len(set(row)) for row in classes.tolist()])
    np.testing.assert_array_equal(y.sum(axis=1), distinct_counts)
    assert distinct_counts.min() < 4
    np.testing.assert_array_equal(data.multi_hot(np.array([[3, 3, 3, 3]]))[0], np.eye(10)[3])


def test_bad_composite_arguments():
    (images, labels), _ = tiny_arrays()
    with pytest.raises(ValueError, match="distinct must be"):
        data.make_composites(images, labels, 5, seed=0, distinct=5)
    with pytest.raises(ValueError, match="shape"):
        data.make_composites(images[:, :16], labels, 5, seed=0)
    with pytest.raises(ValueError, match="No images of class"):
        data.make_composites(images[labels < 9], labels[labels < 9], 50, seed=0)


def test_fresh_composites_change_per_epoch_and_replay_on_resume():
    (images, labels), _ = tiny_arrays()
    dataset = data.fresh_composites(images, labels, 10, 4, seed=0)
    assert len(dataset) == 3
    x0, y0 = dataset[0]
    assert x0.shape == (4, 64, 64, 3) and dataset[2][0].shape == (2, 64, 64, 3)
    np.testing.assert_array_equal(y0.sum(axis=1), 4)
    dataset.on_epoch_end()
    x1, _ = dataset[0]
    assert x0.tobytes() != x1.tobytes()
    resumed = data.fresh_composites(images, labels, 10, 4, seed=0, first_epoch=1)
    assert resumed[0][0].tobytes() == x1.tobytes()


def test_augmentation_only_flips_and_shifts_within_the_tile():
    rng = np.random.default_rng(0)
    tile = np.arange(32 * 32 * 3, dtype=np.int64).reshape(1, 32, 32, 3) % 251
    tiles = np.repeat(tile, 64, axis=0).astype(np.uint8)
    out = data.augment_tiles(tiles, rng, max_shift=0)
    flipped = [np.array_equal(o, tiles[0, :, ::-1]) for o in out]
    unchanged = [np.array_equal(o, tiles[0]) for o in out]
    assert all(f or u for f, u in zip(flipped, unchanged, strict=True))
    assert 10 < sum(flipped) < 54
    shifted = data.augment_tiles(tiles, rng, max_shift=2)
    assert shifted.shape == tiles.shape
    # With shifts switched on, at least some tiles move.
    assert any(not np.array_equal(s, tiles[0]) for s in shifted)


def test_augmentation_equals_padding_each_tile_and_cropping_it():
    tiles = np.random.default_rng(1).integers(0, 256, (40, 32, 32, 3), dtype=np.uint8)
    for max_shift in (1, 4):
        out = data.augment_tiles(tiles, np.random.default_rng(7), max_shift=max_shift)
        # The same draws, in the same order, applied one tile at a time.
        rng = np.random.default_rng(7)
        flip = rng.random(len(tiles)) < 0.5
        top = rng.integers(0, 2 * max_shift + 1, size=len(tiles))
        left = rng.integers(0, 2 * max_shift + 1, size=len(tiles))
        for n, tile in enumerate(tiles):
            tile = tile[:, ::-1] if flip[n] else tile
            pad = ((max_shift, max_shift), (max_shift, max_shift), (0, 0))
            padded = np.pad(tile, pad, mode="reflect")
            expected = padded[top[n] : top[n] + 32, left[n] : left[n] + 32]
            np.testing.assert_array_equal(out[n], expected)
        assert out.flags.c_contiguous and out.dtype == np.uint8


def test_worker_threads_keep_the_batches_and_their_order():
    import keras

    (images, labels), _ = tiny_arrays()
    # A model that returns its input shows, through Keras' own loop, what each batch held.
    identity = keras.Sequential([keras.Input((64, 64, 3)), keras.layers.Flatten()])

    def composites(workers):
        dataset = data.fresh_composites(images, labels, 40, 8, seed=3, workers=workers)
        return identity.predict(dataset, verbose=0)

    single = composites(1)
    assert single.shape == (40, 64 * 64 * 3) and len({row.tobytes() for row in single}) == 40
    np.testing.assert_array_equal(composites(3), single)


def test_fresh_composites_pass_the_shift_to_the_augmentation():
    (images, labels), _ = tiny_arrays()
    sources = {images[i].tobytes() for i in range(len(images))}
    sources |= {images[i, :, ::-1].tobytes() for i in range(len(images))}

    def tiles_unmoved(max_shift):
        x, _ = data.fresh_composites(images, labels, 8, 8, seed=0, max_shift=max_shift)[0]
        tiles = [x[n, r : r + 32, c : c + 32] for n in range(8) for r in (0, 32) for c in (0, 32)]
        return [tile.tobytes() in sources for tile in tiles]

    # Without a shift every tile is a training image or its mirror image.
    assert all(tiles_unmoved(0))
    assert not all(tiles_unmoved(4))


def test_object_composites_hold_one_to_four_objects_on_flat_backgrounds():
    (images, labels), _ = tiny_arrays(per_class_train=5)
    x, y, classes, counts = data.make_object_composites(images, labels, 400, seed=5)
    assert x.shape == (400, 64, 64, 3) and x.dtype == np.uint8 and y.shape == (400, 10)
    assert np.bincount(counts).tolist() == [0, 100, 100, 100, 100]  # balanced
    assert ((classes >= 0).sum(axis=1) == counts).all()
    tiles = x.reshape(400, 2, 32, 2, 32, 3).transpose(0, 1, 3, 2, 4, 5).reshape(400, 4, 32, 32, 3)
    sources = {image.tobytes(): label for image, label in zip(images, labels, strict=True)}
    for n in range(400):
        for quadrant in range(4):
            tile = tiles[n, quadrant]
            if classes[n, quadrant] >= 0:  # an object: a training image of the right class
                assert sources[tile.tobytes()] == classes[n, quadrant]
            else:  # empty: one flat colour
                assert (tile == tile[0, 0]).all()
        present = sorted({int(c) for c in classes[n] if c >= 0})
        assert np.flatnonzero(y[n]).tolist() == present  # a repeated class counts once
    empty = tiles[classes < 0][:, 0, 0]
    grey = (empty == empty[:, :1]).all(axis=1)
    assert 0.35 < grey.mean() < 0.65 and len({tuple(c) for c in empty}) > 50
    again = data.make_object_composites(images, labels, 400, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip((x, y, classes, counts), again, strict=True))
    with pytest.raises(ValueError, match="between 1 and 4"):
        data.make_object_composites(images, labels, 2, seed=0, objects=[0, 5])
