"""Adapter for NCF-format files (``D.train.rating``, ``D.test.rating``, ``D.test.negative``).

These files come with their own leave-one-out test split and 99 negatives per test case, which
are used as given so our numbers are comparable with published ones. The reference evaluator
collapses a negative equal to the positive, so such a duplicate is dropped (the row is padded
with -1, which the metrics treat as absent). No timestamps exist: record order stands in for time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from amae.data.io import DataError
from amae.protocol.negatives import sample_negatives
from amae.protocol.split import EvalCases, Split, set_membership


@dataclass
class NCFData:
    interactions: pd.DataFrame  # user_idx, item_idx, timestamp (record order), value
    n_users: int
    n_items: int
    split: Split
    dropped_duplicate_negatives: int


def _read_rating(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise DataError(f"{path}: file not found")
    try:
        frame = pd.read_csv(path, sep="\t", header=None, usecols=[0, 1, 2])
    except Exception as exc:
        raise DataError(f"{path}: cannot be read as tab-separated user/item/value: {exc}") from exc
    frame.columns = ["user", "item", "value"]
    return frame


def _read_negatives(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not path.exists():
        raise DataError(f"{path}: file not found")
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    users, items, negs = [], [], []
    for lineno, line in enumerate(lines, 1):  # parsing a text format: once per file, not a hot path
        head, *rest = line.split("\t")
        try:
            u, i = head.strip("()").split(",")
            users.append(int(u))
            items.append(int(i))
            negs.append([int(x) for x in rest])
        except ValueError as exc:
            raise DataError(f"{path}: line {lineno}: expected '(user,item)<TAB>neg...': {exc}") from exc
    width = max(len(n) for n in negs)
    mat = np.full((len(negs), width), -1, dtype=np.int64)
    for r, n in enumerate(negs):
        mat[r, : len(n)] = n
    return np.asarray(users), np.asarray(items), mat


def load_ncf(prefix: str | Path, valid_seed: int = 0) -> NCFData:
    """Read ``prefix.train.rating`` etc.; hold out one random training record per user for validation."""
    prefix = str(prefix)
    train = _read_rating(Path(prefix + ".train.rating"))
    test = _read_rating(Path(prefix + ".test.rating"))
    neg_users, neg_items, negatives = _read_negatives(Path(prefix + ".test.negative"))
    if not (np.array_equal(neg_users, test["user"].to_numpy()) and np.array_equal(neg_items, test["item"].to_numpy())):
        raise DataError(f"{prefix}.test.negative: (user,item) pairs do not match {prefix}.test.rating row by row")
    dup = negatives == neg_items[:, None]
    n_dup = int(dup.sum())
    negatives = np.where(dup, -1, negatives)
    # padding (-1) to the end of each row, the given order otherwise kept
    negatives = np.take_along_axis(negatives, np.argsort(dup, axis=1, kind="stable"), axis=1)
    n_users = int(max(train["user"].max(), test["user"].max())) + 1
    n_items = int(max(train["item"].max(), test["item"].max(), negatives.max())) + 1

    tu, ti = train["user"].to_numpy(np.int64), train["item"].to_numpy(np.int64)
    inter = pd.DataFrame({"user_idx": np.r_[tu, test["user"].to_numpy(np.int64)],
                          "item_idx": np.r_[ti, test["item"].to_numpy(np.int64)],
                          "timestamp": np.arange(len(train) + len(test), dtype=np.int64),
                          "value": np.r_[train["value"].to_numpy(float), test["value"].to_numpy(float)]})
    rng = np.random.default_rng(valid_seed)
    # Validation: one random training record per user with at least two, like the test's leave-one-out.
    order = np.lexsort((rng.random(len(tu)), tu))
    first = np.r_[True, tu[order][1:] != tu[order][:-1]]
    counts = np.bincount(tu, minlength=n_users)
    valid_rows = np.sort(order[first & (counts[tu[order]] >= 2)])
    fit_rows = np.setdiff1d(np.arange(len(tu)), valid_rows)
    test_rows = np.arange(len(tu), len(inter))
    all_pairs = (inter["user_idx"].to_numpy(), inter["item_idx"].to_numpy())
    valid = EvalCases(tu[valid_rows], ti[valid_rows], valid_rows.astype(np.int64),
                      sample_negatives(tu[valid_rows], n_items, all_pairs, 99, valid_seed + 1),
                      ~set_membership(tu[valid_rows], ti[valid_rows], (tu[fit_rows], ti[fit_rows]), n_items))
    test_u, test_i = test["user"].to_numpy(np.int64), test["item"].to_numpy(np.int64)
    test_cases = EvalCases(test_u, test_i, test_rows.astype(np.int64), negatives,
                           ~set_membership(test_u, test_i, (tu, ti), n_items))
    train_end = np.full(n_users, len(tu), dtype=np.int64)
    info = {"method": "ncf-given", "source": prefix, "n_fit": len(fit_rows), "n_valid": len(valid_rows),
            "n_test": len(test_rows), "dropped_duplicate_negatives": n_dup, "valid_seed": valid_seed,
            "n_negatives": int(negatives.shape[1])}
    split = Split(fit_rows, valid_rows, test_rows, valid, test_cases, train_end, info)
    return NCFData(inter, n_users, n_items, split, n_dup)
