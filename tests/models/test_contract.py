"""Every registered model through the common interface on one tiny synthetic world.

Generic on purpose: a newly registered model is picked up from ``REGISTRY`` without edits here.
Training is kept short by setting ``epochs`` and every ``*_epochs`` default to 2; a model may add
its own smaller sizes through a ``fast_params`` class attribute.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from amae.data.workspace import load_workspace
from amae.experiments.runs import load_split, train_data
from amae.models import REGISTRY
from amae.training import fit
from tests_helpers import text_workspace

N_CASES = 40


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, Any]:
    ws = text_workspace(tmp_path_factory.mktemp("contract"), n_users=40, n_days=12)
    return ws, load_workspace(ws), load_split(ws)


def fast_params(cls: type) -> dict[str, Any]:
    params: dict[str, Any] = {"progress": False}
    for key in getattr(cls, "default_params", {}):
        if key == "epochs" or key.endswith("_epochs"):
            params[key] = 2
    params.update(getattr(cls, "fast_params", {}))
    return params


def fitted(name: str, world: tuple[Path, Any, Any], seed: int = 0) -> Any:
    ws, dataset, split = world
    cls = REGISTRY[name]
    params = fast_params(cls)
    data = train_data(dataset, split, seed, "cpu")
    if cls.needs_content:
        data.content = cls.prepare_content(ws, dataset, split, params)
    return fit(cls(**params), data)


def cases(world: tuple[Path, Any, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    test = world[2].test
    return test.users[:N_CASES], test.candidates()[:N_CASES], test.times[:N_CASES]


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_model_contract(name: str, world: tuple[Path, Any, Any], tmp_path: Path) -> None:
    users, items, times = cases(world)
    model = fitted(name, world)
    scores = model.score(users, items, times)
    assert scores.shape == items.shape
    assert np.isfinite(scores).all()
    assert np.ptp(scores) > 0, f"{name}: every candidate scored the same"

    again = fitted(name, world).score(users, items, times)
    np.testing.assert_array_equal(scores, again, err_msg=f"{name}: same seed, different scores")

    model.save(tmp_path / name)
    loaded = type(model).load(tmp_path / name)
    np.testing.assert_array_equal(scores, loaded.score(users, items, times),
                                  err_msg=f"{name}: scores changed after save/load")
    saved = {p.suffix for p in (tmp_path / name).rglob("*") if p.is_file()}
    assert not saved & {".pkl", ".pickle", ".pt", ".pth"}, f"{name}: pickled files {saved}"


@pytest.mark.parametrize("name", ["mf+amae", "dmf+amae"])
def test_a_modality_without_data_is_left_out(name: str, world: tuple[Path, Any, Any]) -> None:
    """The contract world's posts have no media: the visual branch is absent, not trained on zeros."""
    model = fitted(name, world)
    assert model.module.modalities == ["text"]
    assert "usable media" in model.source["absent_modalities"]["visual"]
