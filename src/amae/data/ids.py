"""Dense integer ids for users and items, with the mapping kept so outputs speak the user's ids."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from amae.data.io import read_json, write_json


@dataclass(frozen=True)
class IdMap:
    """Original ids (as strings) in dense-index order."""

    ids: np.ndarray  # object array of str

    @classmethod
    def fit(cls, values: pd.Series) -> IdMap:
        # Sorted unique ids make the encoding independent of row order.
        uniq = pd.unique(values.astype(str))
        return cls(np.sort(uniq.astype(object)))

    def __len__(self) -> int:
        return len(self.ids)

    def encode(self, values: pd.Series | np.ndarray | list) -> np.ndarray:
        """Dense indices; unknown ids become -1 so callers can report them."""
        index = pd.Index(self.ids)
        return index.get_indexer(pd.Series(values).astype(str)).astype(np.int64)

    def decode(self, indices: np.ndarray) -> np.ndarray:
        return self.ids[np.asarray(indices, dtype=np.int64)]

    def save(self, path: Path) -> None:
        write_json(path, [str(x) for x in self.ids])

    @classmethod
    def load(cls, path: Path) -> IdMap:
        return cls(np.asarray(read_json(path), dtype=object))
