import keras
import numpy as np
import pytest

from core.cam import class_activation_maps, normalize_map, overlay, upsample
from core.inference import Predictor
from core.model import build_model


def with_random_bias(model, seed):
    """The model with a non-zero bias in its last layer, as a trained model has."""
    from core.model import LOGITS_NAME

    layer = model.get_layer(LOGITS_NAME)
    kernel, bias = layer.get_weights()
    layer.set_weights([kernel, np.random.default_rng(seed).normal(0, 2, bias.shape)])
    return model


@pytest.fixture(scope="module")
def predictor():
    keras.utils.set_random_seed(0)
    models = {"bce": with_random_bias(build_model(), 1), "cce": with_random_bias(build_model(), 2)}
    return Predictor(models)


def test_cam_by_hand():
    features = np.zeros((1, 2, 2, 3), np.float32)
    features[0, 0, 0] = [1, 2, 0]
    features[0, 1, 1] = [0, 0, 4]
    kernel = np.array([[1.0, 0.0], [1.0, 1.0], [0.5, -1.0]])
    maps = class_activation_maps(features, kernel)
    np.testing.assert_allclose(maps[0, :, :, 0], [[3, 0], [0, 2]])
    np.testing.assert_allclose(maps[0, :, :, 1], [[2, 0], [0, -4]])
    with pytest.raises(ValueError, match="channels"):
        class_activation_maps(features, kernel[:2])


def test_map_mean_plus_bias_is_the_logit(predictor):
    composite = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    results = predictor.predict(composite)
    assert len(results) == 2
    for name in ("bce", "cce"):
        prediction = results[0][name]
        assert prediction.maps.shape == (8, 8, 10)
        bias = np.random.default_rng(1 if name == "bce" else 2).normal(0, 2, 10)
        np.testing.assert_allclose(
            prediction.maps.mean(axis=(0, 1)) + bias, prediction.logits, atol=1e-4
        )
        assert np.abs(bias).max() > 1  # the identity is checked with a bias that matters
        np.testing.assert_allclose(
            prediction.probabilities, 1 / (1 + np.exp(-prediction.logits)), rtol=1e-6
        )


def test_predictor_matches_the_models_and_counts_calls():
    keras.utils.set_random_seed(1)
    first, second = build_model(), build_model()
    predictor = Predictor({"a": first, "b": second})
    assert predictor.calls == 0
    x = np.random.default_rng(1).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    results = predictor.predict(x)
    assert predictor.calls == 1
    np.testing.assert_allclose(
        np.stack([r["a"].probabilities for r in results]),
        np.asarray(first(x, training=False)),
        atol=1e-5,
    )
    np.testing.assert_allclose(
        np.stack([r["b"].probabilities for r in results]),
        np.asarray(second(x, training=False)),
        atol=1e-5,
    )
    with pytest.raises(ValueError, match="64, 64, 3"):
        predictor.predict(np.zeros((1, 32, 32, 3)))


def test_a_group_is_compiled_on_its_first_prediction_only():
    """A page that shows one family never pays for compiling the others; a group's answers are
    the same whether it was compiled first, later or all at once."""
    keras.utils.set_random_seed(5)
    models = {name: with_random_bias(build_model(), seed) for seed, name in enumerate("abc")}
    predictor = Predictor(models, {"first": ["a", "b"], "second": ["c"]})
    assert predictor.compiled == [] and predictor.calls == 0
    x = np.random.default_rng(5).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    first = predictor.predict(x, "first")
    assert predictor.compiled == ["first"] and predictor.calls == 1
    keras.backend.clear_session(free_memory=False)  # as Streamlit does after every run
    second = predictor.predict(x, "second")
    assert predictor.compiled == ["first", "second"] and predictor.calls == 2
    for results, name in ((first, "a"), (first, "b"), (second, "c")):
        np.testing.assert_allclose(
            np.stack([r[name].probabilities for r in results]),
            np.asarray(models[name](x, training=False)),
            atol=1e-5,
        )
    eager = Predictor(models, {"first": ["a", "b"], "second": ["c"]})
    eager.compile_all()
    assert eager.compiled == ["first", "second"] and eager.calls == 0
    np.testing.assert_allclose(eager.predict(x, "second")[1]["c"].logits, second[1]["c"].logits)


def test_normalize_upsample_overlay():
    activation = np.array([[-1.0, 2.0], [1.0, 0.0]])
    np.testing.assert_allclose(normalize_map(activation), [[0, 1], [0.5, 0]])
    assert normalize_map(-np.ones((2, 2))).max() == 0
    big = upsample(activation, 4)
    assert big.shape == (4, 4) and big[0, 2] == 2.0 and big[3, 3] == 0.0
    image = np.full((4, 4, 3), 100, np.uint8)
    blended = overlay(image, activation)
    assert blended.shape == (4, 4, 3) and blended.dtype == np.uint8
    assert blended[0, 2, 0] > blended[0, 0, 0]  # the hot cell is redder


def test_a_softmax_model_shares_one_unit_of_mass():
    from core.inference import output_of

    keras.utils.set_random_seed(3)
    multi_class = with_random_bias(build_model(output="softmax"), 3)
    predictor = Predictor({"softmax": multi_class, "bce": build_model()})
    assert predictor.outputs == {"softmax": "softmax", "bce": "sigmoid"}
    x = np.random.default_rng(4).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    results = predictor.predict(x)
    probabilities = np.stack([r["softmax"].probabilities for r in results])
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-9)
    np.testing.assert_allclose(probabilities, np.asarray(multi_class(x, training=False)), atol=1e-5)
    assert output_of(multi_class) == "softmax"
    with pytest.raises(ValueError, match="output"):
        build_model(output="relu")
