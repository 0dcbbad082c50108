"""The loss lab page (`?lab=1`), driven through `streamlit.testing.v1.AppTest`."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from conftest import start_app

from core.kinds import KINDS
from demo.app_pages import lab as lab_page

APP = str(Path(__file__).resolve().parents[1] / "demo" / "app.py")
pytestmark = pytest.mark.slow  # every test here starts the app


def charts(at):
    return at.get("vega_lite_chart") or at.get("arrow_vega_lite_chart")


def test_training_two_losses_shows_two_runs_side_by_side(fixture_models, monkeypatch):
    at = start_app(APP, fixture_models, monkeypatch, {"lab": "1"})
    assert not at.exception and not at.error
    assert any(c.value.startswith("**Frozen:** the trunk of **BCE**") for c in at.caption)
    at.selectbox(key="lab_loss").select("bce").run()
    at.button(key="lab_train").click().run()
    at.selectbox(key="lab_loss").select("cce").run()
    at.radio(key="lab_optimizer").set_value("adamw").run()
    assert at.select_slider(key="lab_rate").value == 1e-3  # the optimizer's default rate
    at.button(key="lab_train").click().run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["run"]) == ["1. BCE, sgd 0.01, 4", "2. CCE, adamw 0.001, 4"]
    assert len(charts(at)) == 4  # loss, exact match, best threshold, the composite's outputs
    gradients = at.dataframe[1].value  # one column per kind, after the true labels
    assert [c.split(" (")[0] for c in gradients.columns] == [
        "true",
        *(kind.short for kind in KINDS.values()),
    ]
    bce = gradients[gradients.columns[1]]
    assert (bce[gradients["true"] == ""] < 0).all()  # BCE pushes every absent class down


def test_a_busy_server_says_so_and_keeps_the_page(fixture_models, monkeypatch):
    monkeypatch.setattr(lab_page, "WAIT_FOR_SLOT_S", 0.01)
    at = start_app(APP, fixture_models, monkeypatch, {"lab": "1"})
    slots = lab_page.training_slots()
    assert isinstance(slots, threading.BoundedSemaphore)
    for _ in range(lab_page.TRAINING_SLOTS):
        slots.acquire()
    try:
        at.button(key="lab_train").click().run()
    finally:
        for _ in range(lab_page.TRAINING_SLOTS):
            slots.release()
    assert any(w.value.startswith("Busy:") for w in at.warning)
    assert not at.exception and not at.dataframe
