"""ItemPop: rank by training popularity. The floor every personalised model must clear."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from amae.data.io import read_json, write_json, write_npy
from amae.models.base import Recommender, TrainData, as_2d, register


@register
class ItemPop(Recommender):
    name = "itempop"

    def fit(self, data: TrainData) -> ItemPop:
        self.counts = np.bincount(data.items, minlength=data.n_items).astype(np.float64)
        return self

    def score(self, users: np.ndarray, items: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
        _, items = as_2d(users, items)
        return self.counts[items]

    def save(self, folder: Path) -> None:
        write_npy(Path(folder) / "counts.npy", self.counts)
        write_json(Path(folder) / "model.json", {"name": self.name, "params": self.params})

    @classmethod
    def load(cls, folder: Path) -> ItemPop:
        meta = read_json(Path(folder) / "model.json")
        model = cls(**meta["params"])
        model.counts = np.load(Path(folder) / "counts.npy")
        return model
