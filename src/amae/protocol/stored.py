"""A workspace's saved split, and the training history it defines.

Both experiments (fitting and full-ranking evaluation) and serving (the tracks a user already
played) read these, so they live with the protocol, below both.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from amae.data.contract import Dataset
from amae.data.io import DataError
from amae.data.provenance import Manifest, read_manifest, upstream
from amae.protocol.split import SPLIT_VERSIONS, Split, split_digest


def load_split(workspace: Path) -> Split:
    """The split saved in ``workspace/split``; a :class:`DataError` naming the command when there is none.

    A split drawn from other data than the workspace holds now (the dataset was ingested again
    since) is refused: its rows index the old interactions, so reading it through the new tables
    would train and evaluate on the wrong records.
    """
    folder = Path(workspace) / "split"
    if not (folder / "split.json").exists():
        raise DataError(f"{workspace}: no split yet (run 'amae split {workspace}' first)")
    saved = read_manifest(folder)
    if saved is None or split_digest(folder) is None or saved.versions != SPLIT_VERSIONS:
        raise DataError(f"{workspace}/split: incomplete or made by an older amae (format {saved and saved.versions}, "
                        f"this one writes {SPLIT_VERSIONS}); run 'amae split {workspace}' again")
    if saved.inputs.get("data") != upstream(Path(workspace) / "data"):
        raise DataError(f"{workspace}/split: drawn from other data than the workspace holds now (ingested again "
                        f"since); run '{resplit_command(workspace, saved)}' to draw it again")
    return Split.load(folder)


def resplit_command(workspace: Path, saved: Manifest | None) -> str:
    """The ``amae split`` command that redraws a saved split with the settings it was made with."""
    cfg = saved.config if saved is not None else {}
    if cfg.get("method") not in (None, "temporal", "random"):  # a given split (NCF negatives) comes with its data
        return f"amae ingest <the NCF files> --format ncf -w {workspace}"
    extra = "".join(f" --{k} {cfg[k]}" for k, default in (("method", "temporal"), ("seed", 0))
                    if k in cfg and cfg[k] != default)
    return f"amae split {workspace}{extra}"


def history_pairs(dataset: Dataset, split: Split) -> tuple[np.ndarray, np.ndarray]:
    """(user, item) pairs of the whole training period (fit + validation): excluded in full ranking."""
    rows = np.concatenate([split.fit_rows, split.valid_rows])
    inter = dataset.interactions
    return inter["user_idx"].to_numpy(np.int64)[rows], inter["item_idx"].to_numpy(np.int64)[rows]
