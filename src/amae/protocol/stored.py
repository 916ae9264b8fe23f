"""A workspace's saved split, and the training history it defines.

Both experiments (fitting and full-ranking evaluation) and serving (the tracks a user already
played) read these, so they live with the protocol, below both.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from amae.data.contract import Dataset
from amae.data.io import DataError
from amae.data.provenance import read_manifest
from amae.protocol.split import SPLIT_VERSIONS, Split, split_digest


def load_split(workspace: Path) -> Split:
    """The split saved in ``workspace/split``; a :class:`DataError` naming the command when there is none."""
    folder = Path(workspace) / "split"
    if not (folder / "split.json").exists():
        raise DataError(f"{workspace}: no split yet (run 'amae split {workspace}' first)")
    saved = read_manifest(folder)
    if saved is None or split_digest(folder) is None or saved.versions != SPLIT_VERSIONS:
        raise DataError(f"{workspace}/split: incomplete or made by an older amae (format {saved and saved.versions}, "
                        f"this one writes {SPLIT_VERSIONS}); run 'amae split {workspace}' again")
    return Split.load(folder)


def history_pairs(dataset: Dataset, split: Split) -> tuple[np.ndarray, np.ndarray]:
    """(user, item) pairs of the whole training period (fit + validation): excluded in full ranking."""
    rows = np.concatenate([split.fit_rows, split.valid_rows])
    inter = dataset.interactions
    return inter["user_idx"].to_numpy(np.int64)[rows], inter["item_idx"].to_numpy(np.int64)[rows]
