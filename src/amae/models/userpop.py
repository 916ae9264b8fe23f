"""UserPop: the user's own training tracks by play count, then everything else by popularity.

A trivial baseline that knows nothing but memory of plays. Both protocols rank a re-listen (a
test listen of a track the user already played in training) against tracks the user never
played, so UserPop puts every re-listen first; where most test listens are re-listens, it beats
every model on all pairs, and a reader of the report must see that the headline then measures
re-listening. On new pairs it is ItemPop.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from amae.data.io import read_json, write_json, write_npy
from amae.models.base import Recommender, TrainData, as_2d, register


@register
class UserPop(Recommender):
    name = "userpop"

    def fit(self, data: TrainData) -> UserPop:
        self.n_items = int(data.n_items)
        self.popularity = np.bincount(data.items, minlength=data.n_items).astype(np.float64)
        keys, plays = np.unique(np.asarray(data.users, np.int64) * self.n_items + np.asarray(data.items, np.int64),
                                return_counts=True)
        self.keys, self.plays = keys, plays.astype(np.float64)
        return self

    def score(self, users: np.ndarray, items: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
        """``plays(u, i) * (max popularity + 1) + popularity(i)``: played tracks first, by plays, then the rest."""
        users, items = as_2d(users, items)
        wanted = users.astype(np.int64)[:, None] * self.n_items + np.asarray(items, np.int64)
        at = np.searchsorted(self.keys, wanted).clip(max=max(len(self.keys) - 1, 0))
        plays = np.where(self.keys[at] == wanted, self.plays[at], 0.0) if len(self.keys) else np.zeros(wanted.shape)
        return plays * (self.popularity.max(initial=0.0) + 1.0) + self.popularity[items]

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        for name in ("popularity", "keys", "plays"):
            write_npy(folder / f"{name}.npy", getattr(self, name))
        write_json(folder / "model.json", {"name": self.name, "params": self.params, "n_items": self.n_items})

    @classmethod
    def load(cls, folder: Path) -> UserPop:
        folder = Path(folder)
        meta = read_json(folder / "model.json")
        model = cls(**meta["params"])
        model.n_items = int(meta["n_items"])
        model.popularity, model.keys, model.plays = (np.load(folder / f"{n}.npy") for n in ("popularity", "keys",
                                                                                              "plays"))
        return model
