"""core.kinds: the one table of model kinds that the trainer, the manifest and the app read."""

from __future__ import annotations

import pytest

from core import losses, train
from core.kinds import KINDS, Kind, kind_of
from core.model import OUTPUTS
from core.recipes import TrainConfig


def test_every_kind_names_an_ending_a_keras_loss_and_a_lab_loss():
    for kind in KINDS.values():
        assert kind.output in OUTPUTS
        assert callable(kind.training_loss()) and callable(kind.lab_loss)
    assert KINDS["bce"].training_loss() is losses.binary_loss
    assert KINDS["cce"].training_loss() is losses.categorical_loss


def test_the_properties_say_what_the_loss_names_used_to():
    assert [loss for loss, kind in KINDS.items() if kind.categorical] == ["cce", "softmax"]
    assert [loss for loss, kind in KINDS.items() if kind.shares_one_unit] == ["softmax"]
    assert [loss for loss, kind in KINDS.items() if kind.scale_free] == ["cce"]


def test_an_unknown_loss_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="loss must be one of bce, cce, softmax, mse"):
        kind_of("hinge")
    with pytest.raises(ValueError, match="got 'hinge'"):
        TrainConfig(loss="hinge")


@pytest.mark.parametrize("loss", list(KINDS))
def test_the_trainer_takes_every_kind(loss):
    config, _, _ = train.parse_args(["--loss", loss])
    assert (config.loss, config.output) == (loss, KINDS[loss].output)


def test_a_kind_added_to_the_table_is_a_choice_of_the_trainer(monkeypatch):
    kind = Kind("softmax", "softmax + hinge", "hinge", False, "binary_loss", KINDS["bce"].lab_loss)
    monkeypatch.setitem(KINDS, "hinge", kind)
    config, _, _ = train.parse_args(["--loss", "hinge"])
    assert (config.loss, config.output, config.name) == ("hinge", "softmax", "hinge")


def test_the_app_names_a_view_for_every_kind():
    from demo import url
    from demo.app_pages import workbench as app

    assert set(app.VIEW_NAMES) == set(url.VIEWS) == {url.ALL_MODELS, *KINDS}
    assert app.VIEW_NAMES["mse"] == "MSE only"
