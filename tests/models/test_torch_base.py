"""Saved torch models carry their model version; another version is refused with a clear message."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from amae.models import REGISTRY
from amae.models.base import TrainData
from amae.training import fit


def _fitted(name: str) -> object:
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 12, 200), rng.integers(0, 30, 200)
    data = TrainData(12, 30, users, items, np.arange(200, dtype=np.int64), seed=0)
    return fit(REGISTRY[name](epochs=1, progress=False), data)


@pytest.mark.parametrize("name", ["mf", "dmf"])
def test_saved_model_of_another_version_is_refused(name: str, tmp_path: Path) -> None:
    model = _fitted(name)
    model.save(tmp_path)
    meta = json.loads((tmp_path / "model.json").read_text())
    assert meta["version"] == REGISTRY[name].version >= 2
    users, items = np.arange(12), np.tile(np.arange(30), (12, 1))
    np.testing.assert_array_equal(REGISTRY[name].load(tmp_path).score(users, items), model.score(users, items))
    meta["version"] = 1
    (tmp_path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=f"saved by {name} version 1.*train it again"):
        REGISTRY[name].load(tmp_path)

