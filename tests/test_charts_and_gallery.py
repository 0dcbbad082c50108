import numpy as np
import pandas as pd
import pytest

from core.gallery import build_gallery, load_gallery
from demo import charts


def test_curves_frame_reshapes_history():
    history = {"epoch": [1, 2], "loss": [3.0, 2.0], "val_loss": [3.5, 2.5], "seconds": [9, 9]}
    frame = charts.curves_frame({"bce": history}, {"bce": "BCE"})
    assert len(frame) == 4  # seconds is not a curve
    validation = frame[frame.split == "validation"]
    assert validation.value.tolist() == [3.5, 2.5]
    assert set(frame.model) == {"BCE"}


def test_minutes_frame_starts_at_zero_and_follows_the_clock():
    history = {"epoch": [1, 2], "minutes_elapsed": [9.5, 19.0], "val_total_acc": [0.1, 0.3]}
    frame = charts.minutes_frame({"bce": history}, {"bce": "BCE"})
    assert frame.minutes.tolist() == [0.0, 9.5, 19.0]
    assert frame.value.tolist() == [0.0, 0.1, 0.3]
    spec = str(charts.minutes_chart(frame, "exact match", 0.4919, "article", 45).to_dict())
    assert "0.4919" in spec and "45 min" in spec
    with pytest.raises(ValueError, match="minutes_elapsed"):
        charts.minutes_frame({"bce": {"val_total_acc": [0.1]}}, {})


def test_probability_chart_draws_the_threshold_rule():
    frame = pd.DataFrame(
        {"class": ["a", "b"], "probability": [0.2, 0.9], "outcome": ["true negative"] * 2}
    )
    spec = charts.probability_chart(frame, 0.42).to_dict()
    assert any(layer["mark"]["type"] == "rule" for layer in spec["layer"])
    assert "0.42" in str(spec)
    assert all(
        layer["mark"]["type"] != "rule"
        for layer in charts.probability_chart(frame, None).to_dict()["layer"]
    )


def test_model_colours_come_from_the_frame_else_the_fallback_palette():
    frame = pd.DataFrame(
        {"model": ["CCE", "BCE", "CCE"], "colour": ["#ad1457", "#1565c0"] * 1 + ["#ad1457"]}
    )
    scale = charts.model_colour(frame).to_dict()["scale"]
    assert scale == {"domain": ["CCE", "BCE"], "range": ["#ad1457", "#1565c0"]}
    plain = charts.model_colour(pd.DataFrame({"model": ["x", "y"]})).to_dict()["scale"]
    assert plain["range"] == list(charts.FALLBACK_PALETTE[:2])


def test_gallery_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (200, 32, 32, 3), dtype=np.uint8)
    labels = np.repeat(np.arange(10), 20)
    chosen, chosen_labels, indices = build_gallery(images, labels, per_class=5)
    np.testing.assert_array_equal(chosen, images[indices])
    assert np.bincount(chosen_labels).tolist() == [5] * 10
    np.savez_compressed(tmp_path / "g.npz", images=chosen, labels=chosen_labels)
    gallery = load_gallery(tmp_path / "g.npz")
    assert all(group.shape == (5, 32, 32, 3) for group in gallery.values())
    with pytest.raises(ValueError, match="Only 20 images"):
        build_gallery(images, labels, per_class=21)
    np.savez_compressed(
        tmp_path / "bad.npz",
        images=chosen[chosen_labels != 3],
        labels=chosen_labels[chosen_labels != 3],
    )
    with pytest.raises(ValueError, match="no cat images"):
        load_gallery(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="Cannot read"):
        load_gallery(tmp_path / "missing.npz")


def test_shipped_gallery_has_test_images_of_every_class():
    gallery = load_gallery()
    assert all(len(group) == 30 for group in gallery.values())


def test_with_data_sends_rows_as_arrow_and_keeps_the_template():
    import altair as alt
    import pyarrow as pa

    template = charts.probability_chart(
        alt.NamedData(name="bars"), alt.NamedData(name="threshold"), ["true positive"]
    ).to_dict()
    rows = [{"class": "cat", "probability": 0.75, "outcome": "true positive"}]
    spec = charts.with_data(template, bars=rows, threshold=[{"threshold": 0.3}])
    assert "datasets" not in template  # the cached template is not changed
    table = pa.ipc.open_stream(spec["datasets"]["bars"]).read_all()
    assert table.to_pylist() == rows
    rule = pa.ipc.open_stream(spec["datasets"]["threshold"]).read_all()
    assert rule.column("threshold").to_pylist() == [0.3]
    assert spec["layer"] == template["layer"]


def test_with_arrow_datasets_converts_what_altair_inlined():
    import pyarrow as pa

    frame = pd.DataFrame({"model": ["BCE", "CCE"], "threshold": [0.5, 0.5], "value": [0.6, 0.7]})
    spec = charts.with_arrow_datasets(charts.sweep_chart(frame, 0.5).to_dict())
    tables = [pa.ipc.open_stream(data).read_all() for data in spec["datasets"].values()]
    assert any(t.num_rows == 2 and t.column("value").to_pylist() == [0.6, 0.7] for t in tables)
