"""Train/validation/test splits and the fixed evaluation cases (docs/design.md section 7).

Every test record becomes a case with 99 negatives drawn once, seeded, and saved with the split,
so every model is ranked against exactly the same candidates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from amae.data.io import DataError, read_json, write_json, write_npy, write_parquet
from amae.data.provenance import Manifest, seal, unseal, upstream
from amae.protocol.negatives import sample_negatives

N_NEGATIVES = 99


_INT64_MIN = np.iinfo(np.int64).min


@dataclass
class EvalCases:
    """Cases ``(user, positive item, time)`` with their fixed negatives (n, k)."""

    users: np.ndarray
    items: np.ndarray
    times: np.ndarray
    negatives: np.ndarray
    new_pair: np.ndarray  # True when (user, item) never occurs in the fitting data

    def __len__(self) -> int:
        return len(self.users)

    def subset(self, mask: np.ndarray) -> EvalCases:
        return EvalCases(self.users[mask], self.items[mask], self.times[mask], self.negatives[mask],
                         self.new_pair[mask])

    def candidates(self) -> np.ndarray:
        """(n, 1 + k) item matrix, positive first."""
        return np.concatenate([self.items[:, None], self.negatives], axis=1)

    def save(self, folder: Path, name: str) -> None:
        write_parquet(folder / f"{name}_cases.parquet", pd.DataFrame(
            {"user_idx": self.users, "item_idx": self.items, "timestamp": self.times,
             "new_pair": self.new_pair}))
        write_npy(folder / f"{name}_negatives.npy", self.negatives)  # int32 when the catalogue allows

    @classmethod
    def load(cls, folder: Path, name: str) -> EvalCases:
        frame = pd.read_parquet(folder / f"{name}_cases.parquet")
        negatives = np.load(folder / f"{name}_negatives.npy")
        return cls(frame["user_idx"].to_numpy(np.int64), frame["item_idx"].to_numpy(np.int64),
                   frame["timestamp"].to_numpy(np.int64), negatives, frame["new_pair"].to_numpy(bool))


@dataclass
class Split:
    """Row positions into the dataset's interaction table, plus the fixed cases."""

    fit_rows: np.ndarray  # the rows models fit on (the validation tail excluded)
    valid_rows: np.ndarray
    test_rows: np.ndarray
    valid: EvalCases
    test: EvalCases
    #: per user: time of the last training-period record (fit *and* validation rows), the end of the
    #: period whose posts may be read (see :func:`training_until` for the exclusive cutoff)
    train_end: np.ndarray
    info: dict

    def save(self, folder: Path, manifest: Manifest | None = None) -> None:
        """Write the split as one unit: the manifest (what it was made from) goes last."""
        folder = Path(folder)
        unseal(folder)
        for name in ("fit_rows", "valid_rows", "test_rows", "train_end"):
            write_npy(folder / f"{name}.npy", getattr(self, name).astype(np.int64))
        self.valid.save(folder, "valid")
        self.test.save(folder, "test")
        write_json(folder / "split.json", self.info)
        # Without a manifest (a split made by hand and saved into a workspace): drawn from the data beside it.
        seal(folder, manifest or Manifest("split", {"data": upstream(folder.parent / "data")}, {"info": self.info},
                                          SPLIT_VERSIONS))

    @classmethod
    def load(cls, folder: Path) -> Split:
        folder = Path(folder)
        arrays = {n: np.load(folder / f"{n}.npy") for n in ("fit_rows", "valid_rows", "test_rows", "train_end")}
        return cls(**arrays, valid=EvalCases.load(folder, "valid"), test=EvalCases.load(folder, "test"),
                   info=read_json(folder / "split.json"))


#: what shapes a saved split besides its data and settings: the file layout (2: ``fit_rows.npy``, was
#: ``train_rows.npy``; negatives int32 where the catalogue allows) and the negative sampler (2:
#: rejection sampling), so an older split is redrawn
SPLIT_VERSIONS = {"split_format": 2, "negative_sampler": 2}
#: the files of a saved split
SPLIT_FILES = ("fit_rows.npy", "valid_rows.npy", "test_rows.npy", "train_end.npy", "valid_cases.parquet",
               "valid_negatives.npy", "test_cases.parquet", "test_negatives.npy")


def split_digest(folder: Path) -> str | None:
    """Fingerprint of a complete saved split (None without one): the input every later stage names.

    It is the digest of the split's manifest (the data it was drawn from and its settings, which
    determine it), not a hash of its files: every cell asks for it, and at paper scale the files are
    hundreds of MB.
    """
    complete = all((Path(folder) / f).exists() for f in SPLIT_FILES)
    return upstream(folder) if complete else None


def split_manifest(data_digest: str | None, settings: dict) -> Manifest:
    """The split stage's manifest: the ingested data it was drawn from and its settings."""
    return Manifest("split", {"data": data_digest}, dict(settings), SPLIT_VERSIONS)


def period_end(users: np.ndarray, times: np.ndarray, n_users: int) -> np.ndarray:
    """Per user the time of their last given (training-period) record; INT64_MIN without one."""
    end = np.full(int(n_users), _INT64_MIN, dtype=np.int64)
    np.maximum.at(end, np.asarray(users, dtype=np.int64), np.asarray(times, dtype=np.int64))
    return end


def training_until(train_end: np.ndarray, n_users: int | None = None) -> np.ndarray:
    """The exclusive per-user cutoff of the training period: the one spelling of "before the cutoff".

    A post or record at time ``t`` of user ``u`` belongs to the training period when
    ``t < until[u]``, i.e. ``t <= train_end[u]``; a user without training records gets INT64_MIN
    (nothing qualifies). ``n_users`` pads users beyond ``train_end`` (no records) the same way.
    """
    end = np.asarray(train_end, dtype=np.int64)
    until = np.where(end == _INT64_MIN, _INT64_MIN, end + 1)
    if n_users is not None and n_users > len(until):
        until = np.concatenate([until, np.full(n_users - len(until), _INT64_MIN, dtype=np.int64)])
    return until


def in_training_period(users: np.ndarray, times: np.ndarray, train_end: np.ndarray) -> np.ndarray:
    """Which ``(user, time)`` pairs fall in their user's training period (unknown users: none)."""
    users = np.asarray(users, dtype=np.int64)
    until = training_until(train_end, int(users.max(initial=-1)) + 1)
    return np.asarray(times, dtype=np.int64) < until[users] if len(users) else np.zeros(0, dtype=bool)


def _rank_within_user(users: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows visited in ``order`` (grouped by user): position within the user and user size."""
    u = users[order]
    starts = np.r_[0, np.flatnonzero(np.diff(u)) + 1]
    sizes = np.diff(np.r_[starts, len(u)])
    pos_sorted = np.arange(len(u)) - np.repeat(starts, sizes)
    pos = np.empty(len(u), dtype=np.int64)
    size = np.empty(len(u), dtype=np.int64)
    pos[order] = pos_sorted
    size[order] = np.repeat(sizes, sizes)
    return pos, size


def chronological_masks(users: np.ndarray, times: np.ndarray, fraction: float) -> np.ndarray:
    """True for the last ``1 - fraction`` of each user's records by time (at least one kept first)."""
    order = np.lexsort((np.arange(len(users)), times, users))
    pos, size = _rank_within_user(users, order)
    n_first = np.maximum(1, np.ceil(fraction * size).astype(np.int64))
    return pos >= n_first


def make_cases(users: np.ndarray, items: np.ndarray, times: np.ndarray, n_items: int,
               interacted: tuple[np.ndarray, np.ndarray], seen_pairs: tuple[np.ndarray, np.ndarray],
               seed: int, n_negatives: int = N_NEGATIVES) -> EvalCases:
    negatives = sample_negatives(users, n_items, interacted, n_negatives, seed)
    seen = set_membership(users, items, seen_pairs, n_items)
    return EvalCases(users.astype(np.int64), items.astype(np.int64), times.astype(np.int64), negatives, ~seen)


def set_membership(users: np.ndarray, items: np.ndarray, pairs: tuple[np.ndarray, np.ndarray],
                   n_items: int) -> np.ndarray:
    """Whether each (user, item) is among ``pairs``: one vectorised isin over combined keys."""
    keys = np.unique(pairs[0].astype(np.int64) * n_items + pairs[1].astype(np.int64))
    return np.isin(users.astype(np.int64) * n_items + items.astype(np.int64), keys)


def _no_test_cases(users: np.ndarray, method: str, test_fraction: float) -> str:
    """Why a split drew no test case, in the data's terms (an experiment on it would measure nothing)."""
    if method == "temporal":
        most = int(np.bincount(users).max()) if len(users) else 0
        need = next((n for n in range(2, 10**4) if max(1, int(np.ceil((1.0 - test_fraction) * n))) < n), "many")
        return (f"the split makes no test cases: with test_fraction {test_fraction} a temporal split gives a user a "
                f"test case from {need} interactions on, and the most any user has is {most}")
    return (f"the split makes no test cases: none of {len(users)} interactions was drawn for the test period "
            f"(test_fraction {test_fraction}); use more data or a larger test fraction")


def split_interactions(interactions: pd.DataFrame, n_items: int, *, method: str = "temporal",
                       test_fraction: float = 0.2, valid_fraction: float = 0.1, seed: int = 0,
                       n_negatives: int = N_NEGATIVES) -> Split:
    """Split encoded interactions (user_idx, item_idx, timestamp) per docs/design.md section 7.

    ``temporal``: per user, the first 80% of records by time train, the rest test. ``random``: a
    seeded random record split. In both, the last 10% (by time) of each user's training records
    is the validation tail for early stopping; models never fit on it.
    """
    users = interactions["user_idx"].to_numpy(np.int64)
    items = interactions["item_idx"].to_numpy(np.int64)
    times = interactions["timestamp"].to_numpy(np.int64)
    rng = np.random.default_rng(seed)
    if method == "temporal":
        is_test = chronological_masks(users, times, 1.0 - test_fraction)
    elif method == "random":
        is_test = rng.random(len(users)) < test_fraction
    else:
        raise ValueError(f"unknown split method {method!r} (use 'temporal' or 'random')")
    if not is_test.any():
        raise DataError(_no_test_cases(users, method, test_fraction))
    train_idx = np.flatnonzero(~is_test)
    is_valid_sub = chronological_masks(users[train_idx], times[train_idx], 1.0 - valid_fraction)
    # Users with fewer than 5 training records keep them all for fitting.
    _, counts = np.unique(users[train_idx], return_counts=True)
    per_user = np.zeros(users.max() + 1, dtype=np.int64)
    per_user[np.unique(users[train_idx])] = counts
    is_valid_sub &= per_user[users[train_idx]] >= 5
    valid_rows, fit_rows = train_idx[is_valid_sub], train_idx[~is_valid_sub]
    test_rows = np.flatnonzero(is_test)

    interacted = (users, items)
    fit_pairs = (users[fit_rows], items[fit_rows])
    valid = make_cases(users[valid_rows], items[valid_rows], times[valid_rows], n_items, interacted,
                       fit_pairs, seed + 1, n_negatives)
    train_pairs = (users[train_idx], items[train_idx])
    test = make_cases(users[test_rows], items[test_rows], times[test_rows], n_items, interacted,
                      train_pairs, seed + 2, n_negatives)
    train_end = period_end(users[train_idx], times[train_idx], users.max() + 1)
    info = {"method": method, "test_fraction": test_fraction, "valid_fraction": valid_fraction,
            "seed": seed, "n_negatives": n_negatives, "n_fit": len(fit_rows), "n_valid": len(valid_rows),
            "n_test": len(test_rows), "n_test_new_pairs": int(test.new_pair.sum())}
    return Split(fit_rows, valid_rows, test_rows, valid, test, train_end, info)


def split_workspace(workspace: Path, dataset: object, *, method: str = "temporal", test_fraction: float = 0.2,
                    valid_fraction: float = 0.1, seed: int = 0, n_negatives: int = N_NEGATIVES,
                    keep_existing: bool = False) -> tuple[Split, list[str]]:
    """Split ``dataset`` (the workspace's ingested data) into ``workspace/split``, unless already done.

    Returns the split and why it was (re)made: an empty list means the saved split was reused
    because it was drawn, with these settings, from exactly the data the workspace holds now.
    ``keep_existing``: a saved split of the same data is kept whatever its settings (experiments
    use the split they find, such as an NCF file's given one).
    """
    from amae.data.provenance import check, read_manifest

    ws = Path(workspace)
    data = upstream(ws / "data")
    settings = {"method": method, "test_fraction": test_fraction, "valid_fraction": valid_fraction, "seed": seed,
                "n_negatives": n_negatives}
    manifest = split_manifest(data, settings)
    saved = read_manifest(ws / "split")
    if keep_existing and saved is not None and saved.inputs.get("data") == data and split_digest(ws / "split"):
        return Split.load(ws / "split"), []
    reasons = check(ws / "split", manifest)
    if not reasons and split_digest(ws / "split"):
        return Split.load(ws / "split"), []
    inter = dataset.interactions  # type: ignore[attr-defined]
    result = split_interactions(inter, dataset.n_items, method=method, test_fraction=test_fraction,  # type: ignore[attr-defined]
                                valid_fraction=valid_fraction, seed=seed, n_negatives=n_negatives)
    result.save(ws / "split", manifest)
    return result, reasons
