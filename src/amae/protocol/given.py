"""A dataset's *given* split: an NCF file's own leave-one-out test cases and negatives, used as-is.

The data layer (:mod:`amae.data.adapters.ncf`) only reads the files; this module turns what it read
into a :class:`~amae.protocol.split.Split` (a seeded validation holdout, the fixed cases, the
new-pair flags) and writes it, sealed, into the workspace beside the ingested data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from amae.data.adapters.ncf import NCFData, load_ncf
from amae.data.contract import Dataset
from amae.data.provenance import Manifest, read_manifest, upstream
from amae.data.workspace import ingest as ingest_data
from amae.protocol.negatives import sample_negatives
from amae.protocol.split import N_NEGATIVES, SPLIT_VERSIONS, EvalCases, Split, set_membership, split_digest

GIVEN_METHOD = "ncf-given"


def validation_rows(users: np.ndarray, n_users: int, seed: int) -> np.ndarray:
    """One random record per user with at least two (positions into ``users``), sorted.

    Like the given test's leave-one-out; a user with a single training record keeps it for fitting.
    """
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(len(users)), users))
    first = np.r_[True, users[order][1:] != users[order][:-1]]
    counts = np.bincount(users, minlength=n_users)
    return np.sort(order[first & (counts[users[order]] >= 2)])


def given_split(ncf: NCFData, valid_seed: int = 0) -> Split:
    """The split the NCF files define: their test records with their own negatives (docs/design.md section 7.7).

    The fitting rows are the training file's records less a seeded validation holdout, whose cases
    get 99 sampled negatives (the given file has none for them).
    """
    inter = ncf.interactions
    users, items = inter["user_idx"].to_numpy(np.int64), inter["item_idx"].to_numpy(np.int64)
    times = inter["timestamp"].to_numpy(np.int64)
    period_rows = np.setdiff1d(np.arange(len(inter)), ncf.test_rows)
    tu, ti = users[period_rows], items[period_rows]
    valid_rows = period_rows[validation_rows(tu, ncf.n_users, valid_seed)]
    fit_rows = np.setdiff1d(period_rows, valid_rows)
    vu, vi = users[valid_rows], items[valid_rows]
    valid = EvalCases(vu, vi, times[valid_rows],
                      sample_negatives(vu, ncf.n_items, (users, items), N_NEGATIVES, valid_seed + 1),
                      ~set_membership(vu, vi, (users[fit_rows], items[fit_rows]), ncf.n_items))
    test_rows = ncf.test_rows.astype(np.int64)
    su, si = users[test_rows], items[test_rows]
    test = EvalCases(su, si, times[test_rows], ncf.test_negatives,
                     ~set_membership(su, si, (tu, ti), ncf.n_items))
    # record order is time: every training record comes before the first given test record
    train_end = np.full(ncf.n_users, len(period_rows), dtype=np.int64)
    info = {"method": GIVEN_METHOD, "source": ncf.source, "n_fit": len(fit_rows), "n_valid": len(valid_rows),
            "n_test": len(test_rows), "dropped_duplicate_negatives": ncf.dropped_duplicate_negatives,
            "valid_seed": valid_seed, "n_negatives": int(ncf.test_negatives.shape[1])}
    return Split(fit_rows, valid_rows, test_rows, valid, test, train_end, info)


def given_manifest(data_digest: str | None) -> Manifest:
    """The given split's manifest: drawn from exactly the ingested data (its manifest's digest)."""
    return Manifest("split", {"data": data_digest}, {"method": GIVEN_METHOD}, SPLIT_VERSIONS)


def save_given_split(workspace: Path, ncf: NCFData) -> Split:
    """Build the given split of ``ncf`` and write it, sealed, into ``workspace/split``."""
    ws = Path(workspace)
    split = given_split(ncf)
    split.save(ws / "split", given_manifest(upstream(ws / "data")))
    return split


def _split_drawn_from_data(workspace: Path) -> bool:
    """Whether ``workspace/split`` is a complete split drawn from the data the workspace holds now."""
    ws = Path(workspace)
    saved = read_manifest(ws / "split")
    return saved is not None and saved.inputs.get("data") == upstream(ws / "data") \
        and split_digest(ws / "split") is not None


def ingest(source: Path, workspace: Path, fmt: str = "contract", *, force: bool = False,
           max_media_per_post: int | None = None) -> Dataset:
    """:func:`amae.data.workspace.ingest`, plus an NCF source's given split into ``workspace/split``.

    The given split is written whenever the data was (re-)encoded, and also when the saved split
    was not drawn from the data now in the workspace (none, unfinished, or older: an ingest that
    stopped between sealing the data and sealing the split). A split made later from the same data
    (``amae split``) is kept when the data is reused.
    """
    dataset = ingest_data(source, workspace, fmt, force=force, max_media_per_post=max_media_per_post)
    if fmt == "ncf" and (not dataset.provenance.get("reused") or not _split_drawn_from_data(workspace)):
        save_given_split(workspace, load_ncf(source))
    return dataset
