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


# --- Objects anywhere --------------------------------------------------------------------------

FILL, SINGLE, SCATTERED, GRID = (
    data.LAYOUTS.index(name) for name in ("fill", "single", "scattered", "grid")
)


def coded_sources(per_class, split_id, ramp=False):
    """Images whose colour tells where they come from: green 25 * class + 5, blue 100 * split +
    index within the class; red 7 (a flat image), or with `ramp` a horizontal ramp 4 * column."""
    labels = np.repeat(np.arange(10), per_class)
    index = np.tile(np.arange(per_class), 10)
    images = np.zeros((len(labels), 32, 32, 3), np.uint8)
    images[..., 0] = 4 * np.arange(32) if ramp else 7
    images[..., 1] = (25 * labels + 5)[:, None, None]
    images[..., 2] = (100 * split_id + index)[:, None, None]
    return images, labels


def shown_slots(boxes):
    """(n, 64, 64): the slot whose object shows at each pixel (-1: the background), found by
    painting the (top, left, side) boxes in slot order by hand."""
    shown = np.full((len(boxes), 64, 64), -1)
    for n, row in enumerate(boxes):
        for slot, (top, left, side) in enumerate(row.tolist()):
            if side > 0:
                shown[n, top : top + side, left : left + side] = slot
    return shown


def recording_backgrounds(monkeypatch):
    """Keep a copy of every background `make_anywhere_composites` paints its objects on."""
    drawn, original = [], data._backgrounds

    def recording(n, rng):
        canvas = original(n, rng)
        drawn.append(canvas.copy())  # the canvas itself is painted over in place
        return canvas

    monkeypatch.setattr(data, "_backgrounds", recording)
    return drawn


@pytest.fixture(scope="module")
def scenes():
    """Flat coded training sources; composites in the training mix and scattered ones of four
    objects, each with the backgrounds it was painted on."""
    images, labels = coded_sources(4, split_id=1)
    with pytest.MonkeyPatch.context() as patch:
        backgrounds = recording_backgrounds(patch)
        mixed = data.make_anywhere_composites(images, labels, 300, seed=11)
        scattered = data.make_anywhere_composites(
            images, labels, 150, seed=12, layouts="scattered", counts=4
        )
    return (
        images,
        labels,
        {"mixed": (mixed, backgrounds[0]), "scattered": (scattered, backgrounds[1])},
    )


def assert_painted_from(drawn, background, images, labels):
    """Every object shows as the flat colour of a source of its class from `images`, over at
    least MIN_VISIBLE of its box; everything else is the background it was painted on."""
    sources = {
        tuple(image[0, 0].tolist()): label for image, label in zip(images, labels, strict=True)
    }
    shown = shown_slots(drawn.boxes)
    background = np.clip(np.rint(background), 0, 255).astype(np.uint8)
    visible = data.visible_fractions(drawn.boxes, drawn.classes >= 0)
    for n, x in enumerate(drawn.x):
        np.testing.assert_array_equal(x[shown[n] == -1], background[n][shown[n] == -1])
        for slot in np.flatnonzero(drawn.classes[n] >= 0):
            pixels = x[shown[n] == slot]
            assert (pixels == pixels[0]).all()  # a flat source stays flat when resized
            assert sources[tuple(pixels[0].tolist())] == drawn.classes[n, slot]
            share = len(pixels) / drawn.boxes[n, slot, 2] ** 2
            assert share >= data.MIN_VISIBLE
            assert share == pytest.approx(visible[n, slot])


@pytest.mark.parametrize("which", ["mixed", "scattered"])
def test_anywhere_labels_name_exactly_the_objects_placed(scenes, which):
    drawn, _ = scenes[2][which]
    n = len(drawn.x)
    assert drawn.x.shape == (n, 64, 64, 3) and drawn.x.dtype == np.uint8
    assert drawn.y.shape == (n, 10) and drawn.y.dtype == np.float32
    expected = np.zeros((n, 10), np.float32)
    for row, classes in enumerate(drawn.classes.tolist()):
        expected[row, [c for c in classes if c >= 0]] = 1
    np.testing.assert_array_equal(drawn.y, expected)
    present = drawn.classes >= 0
    np.testing.assert_array_equal(drawn.counts, present.sum(axis=1))
    np.testing.assert_array_equal(drawn.y.sum(axis=1), drawn.counts)  # so the classes are distinct
    np.testing.assert_array_equal(present, np.arange(4) < drawn.counts[:, None])  # slots 0..k-1
    np.testing.assert_array_equal(drawn.boxes >= 0, np.repeat(present[..., None], 3, axis=2))
    np.testing.assert_array_equal(drawn.boxes[~present], -1)


@pytest.mark.parametrize("which", ["mixed", "scattered"])
def test_anywhere_objects_show_their_class_and_the_rest_is_background(scenes, which):
    images, labels, drawn = scenes
    assert_painted_from(*drawn[which], images, labels)


def test_anywhere_backgrounds_do_not_depend_on_the_images():
    # The same seed with other images of the same labels: the same scenes, the same pixels
    # wherever no object is, so a background carries nothing of any class.
    flat = coded_sources(3, split_id=1)
    (noisy, labels), _ = tiny_arrays(per_class_train=3)
    np.testing.assert_array_equal(labels, flat[1])
    first = data.make_anywhere_composites(*flat, 60, seed=4)
    second = data.make_anywhere_composites(noisy, labels, 60, seed=4)
    for name in ("classes", "boxes", "layouts"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    outside = shown_slots(first.boxes) == -1
    assert outside.sum() > 60_000  # much of the frame is background
    np.testing.assert_array_equal(first.x[outside], second.x[outside])
    assert (first.x[~outside] != second.x[~outside]).any()


def test_anywhere_background_kinds_vary(scenes):
    _, background = scenes[2]["mixed"]
    corners = {tuple(b[0, 0].round().tolist()) for b in background}
    assert len(corners) > 200
    flat = (background == background[:, :1, :1]).all(axis=(1, 2, 3))
    assert 0.2 < flat.mean() < 0.5  # a third are flat colours, the others gradients or noise


@pytest.mark.parametrize("which", ["mixed", "scattered"])
def test_anywhere_box_geometry(scenes, which):
    drawn, _ = scenes[2][which]
    present = drawn.classes >= 0
    top, left, side = (drawn.boxes[..., i][present] for i in range(3))
    assert (top >= 0).all() and (left >= 0).all() and (side > 0).all()
    assert (top + side <= 64).all() and (left + side <= 64).all()
    layout, count = drawn.layouts, drawn.counts
    np.testing.assert_array_equal(count[layout == FILL], 1)
    np.testing.assert_array_equal(count[layout == SINGLE], 1)
    np.testing.assert_array_equal(count[layout == GRID], 4)
    assert (drawn.boxes[layout == FILL, 0] == [0, 0, 64]).all()
    quadrants = [[0, 0, 32], [0, 32, 32], [32, 0, 32], [32, 32, 32]]
    for boxes in drawn.boxes[layout == GRID]:
        np.testing.assert_array_equal(boxes, quadrants)
    sides = drawn.boxes[layout == SINGLE, 0, 2]
    low, high = data.SINGLE_SIZES
    assert ((sides >= low) & (sides <= high)).all()
    assert set(count[layout == SCATTERED]) == ({4} if which == "scattered" else {2, 3, 4})
    for k in set(count[layout == SCATTERED]):
        chosen = (layout == SCATTERED) & (count == k)
        low, high = data.SCATTERED_SIZES[k]
        sides = drawn.boxes[chosen, :k, 2]
        assert chosen.sum() > 20 and ((sides >= low) & (sides <= high)).all()
        assert sides.max() - sides.min() >= (high - low) // 2  # sizes do vary


def test_anywhere_layout_mix(scenes):
    drawn, _ = scenes[2]["mixed"]
    shares = np.bincount(drawn.layouts, minlength=4) / len(drawn.layouts)
    np.testing.assert_allclose(shares, data.LAYOUT_SHARES, atol=0.08)
    assert set(drawn.counts[drawn.layouts == SCATTERED]) == {2, 3, 4}
    # Drawing full composites costs milliseconds each, so the 10,000 draws test the layout
    # choice alone, which `make_anywhere_composites` makes first.
    layouts = data._layout_indices(None, 10_000, np.random.default_rng(0))
    shares = np.bincount(layouts, minlength=4) / len(layouts)
    np.testing.assert_allclose(shares, data.LAYOUT_SHARES, atol=0.02)


def test_visible_fractions_by_hand():
    a, b, c = (0, 0, 20), (10, 10, 20), (0, 0, 10)
    present = np.array([[True, True, False, False]])
    boxes = np.array([[a, b, c, c]])
    # B, painted after A, covers A's rows and columns 10..19: 100 of its 400 pixels.
    np.testing.assert_allclose(data.visible_fractions(boxes, present), [[0.75, 1, 1, 1]])
    np.testing.assert_allclose(
        data.visible_fractions(boxes[:, [1, 0]], present[:, :2]), [[0.75, 1]]
    )
    # C covers another 100 of A's pixels (rows and columns 0..9), none of B's.
    three = np.array([[True, True, True, False]])
    np.testing.assert_allclose(data.visible_fractions(boxes, three), [[0.5, 1, 1, 1]])
    # The same box twice: the earlier copy is hidden entirely.
    np.testing.assert_allclose(
        data.visible_fractions(np.array([[a, a]]), np.array([[True, True]])), [[0, 1]]
    )
    masks = data.box_masks(np.array([a, b, (60, 58, 10), (-1, -1, -1)]))
    assert masks.sum(axis=(1, 2)).tolist() == [400, 400, 4 * 6, 0]  # clipped at the frame
    assert masks[0, 19, 19] and not masks[0, 20, 0] and masks[1, 29, 10] and not masks[1, 9, 10]


def test_anywhere_fallback_puts_scattered_objects_in_the_quadrants(monkeypatch):
    # With no placement tries left, every scattered composite takes the fallback.
    monkeypatch.setattr(data, "PLACEMENT_TRIES", 0)
    images, labels = coded_sources(2, split_id=1)
    counts = np.resize([2, 3, 4], 60)
    backgrounds = recording_backgrounds(monkeypatch)
    drawn = data.make_anywhere_composites(images, labels, 60, 3, layouts="scattered", counts=counts)
    np.testing.assert_array_equal(drawn.counts, counts)
    present = drawn.classes >= 0
    np.testing.assert_array_equal(data.visible_fractions(drawn.boxes, present)[present], 1.0)
    for boxes, k in zip(drawn.boxes, counts, strict=True):
        top, left, side = boxes[:k].T
        np.testing.assert_array_equal(top // 32 * 2 + left // 32, np.arange(k))
        assert ((top % 32 + side <= 32) & (left % 32 + side <= 32)).all()
        low, high = data.SCATTERED_SIZES[k]
        assert ((side >= low) & (side <= high)).all()
    assert_painted_from(drawn, backgrounds[0], images, labels)


def test_anywhere_objects_are_the_sources_resized_bilinearly():
    images, labels = coded_sources(2, split_id=1, ramp=True)
    drawn = data.make_anywhere_composites(images, labels, 40, 8, layouts="single")
    for x, (top, left, side), label in zip(
        drawn.x, drawn.boxes[:, 0], drawn.classes[:, 0], strict=True
    ):
        box = x[top : top + side, left : left + side]
        # A linear ramp stays linear: column q of the box samples the source at column
        # (q + 0.5) * 32 / side - 0.5, clamped to the source's first and last columns.
        at = np.clip((np.arange(side) + 0.5) * 32 / side - 0.5, 0, 31)
        np.testing.assert_array_equal(box[..., 0], np.broadcast_to(np.rint(4 * at), (side, side)))
        assert (box[..., 1] == 25 * label + 5).all() and set(np.unique(box[..., 2])) <= {100, 101}
    # Filling the frame doubles the ramp: 0, 1, 3, 5, ..., 123, 124 (hand computed).
    fill = data.make_anywhere_composites(images, labels, 40, 9, layouts="fill", augment=True)
    ramp = np.array([0, *range(1, 124, 2), 124])
    flipped = [(x[..., 0] == ramp[::-1]).all() for x in fill.x]
    assert all(f or (x[..., 0] == ramp).all() for f, x in zip(flipped, fill.x, strict=True))
    assert 5 < sum(flipped) < 35  # augment flips objects left-right at random


def test_paint_bilinear_resize():
    rng = np.random.default_rng(0)
    sources = rng.integers(0, 256, size=(2, 32, 32, 3), dtype=np.uint8)
    canvas = np.full((2, 64, 64, 3), -1.0, np.float32)
    data._paint(canvas, sources, np.array([[0, 0, 32], [10, 20, 32]]), np.array([True, True]))
    np.testing.assert_array_equal(canvas[0, :32, :32], sources[0])  # side 32: an exact copy
    np.testing.assert_array_equal(canvas[1, 10:42, 20:52], sources[1])
    assert (canvas[0, 32:] == -1).all() and (canvas[0, :, 32:] == -1).all()
    assert (
        (canvas[1, :10] == -1).all()
        and (canvas[1, :, :20] == -1).all()
        and (canvas[1, 42:] == -1).all()
    )
    before = canvas.copy()
    data._paint(canvas, sources, np.array([[0, 0, 64], [5, 5, 20]]), np.array([False, False]))
    np.testing.assert_array_equal(canvas, before)  # absent objects paint nothing
    flat = np.full((1, 32, 32, 3), 173, np.uint8)
    np.testing.assert_allclose(data._resize_bilinear(flat, 64), 173, atol=1e-3)
    ramp = np.broadcast_to((4 * np.arange(32, dtype=np.uint8))[None, None, :, None], (1, 32, 32, 3))
    hand = {64: [0, *range(1, 124, 2), 124], 16: range(2, 128, 8)}  # (q/2 - 1/4) and (2q + 1/2)
    for side, expected in hand.items():
        resized = data._resize_bilinear(ramp, side)
        np.testing.assert_allclose(resized[0, 7, :, 1], list(expected), atol=1e-3)
        assert np.abs(resized[0] - resized[0, :1]).max() < 1e-3  # the rows stay equal
    for side in (17, 24, 45, 56):
        row = data._resize_bilinear(ramp, side)[0, 0, :, 0]
        assert (np.diff(row) >= -1e-4).all() and row[-1] - row[0] > 100


def test_anywhere_composites_are_reproducible_per_seed():
    images, labels = coded_sources(2, split_id=1)
    first = data.make_anywhere_composites(images, labels, 30, seed=6, augment=True)
    second = data.make_anywhere_composites(images, labels, 30, seed=6, augment=True)
    other = data.make_anywhere_composites(images, labels, 30, seed=7, augment=True)
    for name in ("x", "y", "classes", "boxes", "layouts"):
        assert getattr(first, name).tobytes() == getattr(second, name).tobytes()
    assert first.x.tobytes() != other.x.tobytes() and first.boxes.tobytes() != other.boxes.tobytes()


def test_anywhere_layouts_by_name_or_index_and_counts():
    images, labels = coded_sources(2, split_id=1)
    for name in data.LAYOUTS:
        drawn = data.make_anywhere_composites(images, labels, 6, 0, layouts=name)
        np.testing.assert_array_equal(drawn.layouts, data.LAYOUTS.index(name))
    chosen = np.resize([GRID, FILL, SCATTERED, SINGLE], 12)
    drawn = data.make_anywhere_composites(images, labels, 12, 0, layouts=chosen.tolist(), counts=3)
    np.testing.assert_array_equal(drawn.layouts, chosen)
    np.testing.assert_array_equal(drawn.counts, np.resize([4, 1, 3, 1], 12))
    counts = np.resize([4, 2, 3], 9)
    drawn = data.make_anywhere_composites(images, labels, 9, 0, layouts="scattered", counts=counts)
    np.testing.assert_array_equal(drawn.counts, counts)
    assert len(data.make_anywhere_composites(images, labels, 0, 0).x) == 0


def test_bad_anywhere_arguments():
    images, labels = coded_sources(2, split_id=1)
    with pytest.raises(ValueError, match="one of fill, single, scattered, grid; got 'diagonal'"):
        data.make_anywhere_composites(images, labels, 2, 0, layouts="diagonal")
    for layouts in ([0, 4], [-1, 0], [0, 1, 2]):
        with pytest.raises(ValueError, match="layouts must hold 2 indices into"):
            data.make_anywhere_composites(images, labels, 2, 0, layouts=layouts)
    for counts in (1, 5, [2, 0]):
        with pytest.raises(ValueError, match="scattered composite holds 2 to 4 objects"):
            data.make_anywhere_composites(images, labels, 2, 0, layouts="scattered", counts=counts)
    with pytest.raises(ValueError, match="n must be >= 0"):
        data.make_anywhere_composites(images, labels, -1, 0)
    with pytest.raises(ValueError, match="shape"):
        data.make_anywhere_composites(images[:, :16], labels, 2, 0)
    with pytest.raises(ValueError, match="No images of class"):
        data.make_anywhere_composites(images[labels < 9], labels[labels < 9], 50, 0)


def test_anywhere_composites_come_from_their_own_split(scenes, monkeypatch):
    train_images, train_labels, drawn = scenes
    test_images, test_labels = coded_sources(2, split_id=2)
    backgrounds = recording_backgrounds(monkeypatch)
    test_drawn = data.make_anywhere_composites(test_images, test_labels, 60, seed=11)
    # Blue tells the split (100 train, 200 test) and the index, so a lookup in the split's own
    # sources finds every object, and none of the other split's.
    assert_painted_from(test_drawn, backgrounds[0], test_images, test_labels)
    with pytest.raises(KeyError):
        assert_painted_from(test_drawn, backgrounds[0], train_images, train_labels)
    with pytest.raises(KeyError):
        assert_painted_from(*drawn["mixed"], test_images, test_labels)


def test_draw_composites_of_objects_anywhere():
    (images, labels), _ = tiny_arrays()
    x, y = data.draw_composites(images, labels, 20, 5, kind="anywhere")
    drawn = data.make_anywhere_composites(images, labels, 20, 5)
    assert x.tobytes() == drawn.x.tobytes() and y.tobytes() == drawn.y.tobytes()
    with pytest.raises(ValueError, match="four-distinct, one-to-four, anywhere; got 'everywhere'"):
        data.draw_composites(images, labels, 2, 0, kind="everywhere")


def test_fresh_composites_of_objects_anywhere_replay_per_seed_epoch_and_batch():
    (images, labels), _ = tiny_arrays()
    dataset = data.fresh_composites(images, labels, 10, 4, seed=3, kind="anywhere")
    assert len(dataset) == 3
    x0, y0 = dataset[0]
    assert x0.shape == (4, 64, 64, 3) and x0.dtype == np.uint8
    assert y0.shape == (4, 10) and y0.dtype == np.float32
    assert dataset[2][0].shape == (2, 64, 64, 3) and dataset[2][1].shape == (2, 10)
    assert set(y0.sum(axis=1).tolist()) <= {1, 2, 3, 4}
    # Batch b of epoch e is the batch drawn from default_rng([seed, e, b]).
    expected = data.make_anywhere_composites(
        images, labels, 4, np.random.default_rng([3, 0, 1]), augment=True
    )
    x1, y1 = dataset[1]
    assert x1.tobytes() == expected.x.tobytes() and y1.tobytes() == expected.y.tobytes()
    assert dataset[0][0].tobytes() == x0.tobytes()
    dataset.on_epoch_end()
    x_next, _ = dataset[0]
    assert x_next.tobytes() != x0.tobytes()
    resumed = data.fresh_composites(images, labels, 10, 4, seed=3, first_epoch=1, kind="anywhere")
    assert resumed[0][0].tobytes() == x_next.tobytes()
    plain = data.fresh_composites(images, labels, 10, 4, seed=3, augment=False, kind="anywhere")
    expected = data.make_anywhere_composites(images, labels, 4, np.random.default_rng([3, 0, 0]))
    assert plain[0][0].tobytes() == expected.x.tobytes()
