"""Adapter for NCF-format files (``D.train.rating``, ``D.test.rating``, ``D.test.negative``).

These files come with their own leave-one-out test split and 99 negatives per test case, which
are used as given so our numbers are comparable with published ones. The reference evaluator
collapses a negative equal to the positive, so such a duplicate is dropped (the row is padded
with -1, which the metrics treat as absent). No timestamps exist: record order stands in for time.

This module only reads: it returns the interactions, the positions of the given test records and
their negatives as plain arrays. Turning those into a split (the validation holdout, the cases, the
split manifest) is the protocol's job: :func:`amae.protocol.given.given_split`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from amae.data.io import DataError


@dataclass
class NCFData:
    interactions: pd.DataFrame  # user_idx, item_idx, timestamp (record order), value
    n_users: int
    n_items: int
    test_rows: np.ndarray  # positions in ``interactions`` of the given test records (after every training one)
    test_negatives: np.ndarray  # (len(test_rows), k) given negatives per test record, -1 padded at the end
    dropped_duplicate_negatives: int
    source: str  # the file prefix


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


def load_ncf(prefix: str | Path) -> NCFData:
    """Read ``prefix.train.rating``, ``prefix.test.rating`` and ``prefix.test.negative``."""
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
    inter = pd.DataFrame({"user_idx": np.r_[train["user"].to_numpy(np.int64), test["user"].to_numpy(np.int64)],
                          "item_idx": np.r_[train["item"].to_numpy(np.int64), test["item"].to_numpy(np.int64)],
                          "timestamp": np.arange(len(train) + len(test), dtype=np.int64),
                          "value": np.r_[train["value"].to_numpy(float), test["value"].to_numpy(float)]})
    test_rows = np.arange(len(train), len(inter), dtype=np.int64)
    return NCFData(inter, n_users, n_items, test_rows, negatives, n_dup, prefix)
