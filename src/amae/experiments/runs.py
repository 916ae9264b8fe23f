"""One (model, seed) cell: fit on the workspace's split, evaluate under every protocol, save.

Finished cells are recognised by their ``metrics.json`` and not recomputed, so an interrupted
experiment resumes where it stopped.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from amae.config import save_settings
from amae.data.contract import Dataset
from amae.data.io import DataError, read_json, write_json, write_npy
from amae.models import REGISTRY, Recommender, TrainData
from amae.protocol.metrics import evaluate
from amae.protocol.split import Split


def load_split(workspace: Path) -> Split:
    folder = Path(workspace) / "split"
    if not (folder / "split.json").exists():
        raise DataError(f"{workspace}: no split yet (run 'amae split {workspace}' first)")
    return Split.load(folder)


def train_data(dataset: Dataset, split: Split, seed: int, device: str) -> TrainData:
    inter = dataset.interactions
    rows = split.train_rows
    return TrainData(dataset.n_users, dataset.n_items, inter["user_idx"].to_numpy(np.int64)[rows],
                     inter["item_idx"].to_numpy(np.int64)[rows], inter["timestamp"].to_numpy(np.int64)[rows],
                     valid=split.valid, rows=rows, seed=seed, device=device)


def history_pairs(dataset: Dataset, split: Split) -> tuple[np.ndarray, np.ndarray]:
    """(user, item) pairs of the whole training period (fit + validation): excluded in full ranking."""
    rows = np.concatenate([split.train_rows, split.valid_rows])
    inter = dataset.interactions
    return inter["user_idx"].to_numpy(np.int64)[rows], inter["item_idx"].to_numpy(np.int64)[rows]


def cell_dir(workspace: Path, label: str, seed: int) -> Path:
    return Path(workspace) / "models" / f"{label}-seed{seed}"


def fit_model(workspace: Path, dataset: Dataset, split: Split, model_name: str, seed: int,
              params: dict[str, Any], device: str = "cpu") -> Recommender:
    """Fit one model on the split's fit records (validation cases only for early stopping)."""
    if model_name not in REGISTRY:
        raise DataError(f"unknown model '{model_name}' (known: {', '.join(sorted(REGISTRY))})")
    cls = REGISTRY[model_name]
    data = train_data(dataset, split, seed, device)
    if cls.needs_content:
        if not dataset.has_content:
            raise DataError(f"model '{model_name}' needs posts, but this dataset has none")
        # A control's noise or shuffle is drawn anew for every training seed, so the seed-resampled
        # intervals include the control's own randomness (the draw is recorded in the model's source).
        content_params = {**params, "noise_seed": int(params.get("noise_seed", 0)) + seed}
        data.content = cls.prepare_content(Path(workspace), dataset, split, content_params)
    model: Recommender = cls(**params)
    model.fit(data)
    return model


def _settings_of(params: dict) -> dict:
    return {k: v for k, v in params.items() if k != "progress"}  # display-only


def run_cell(workspace: Path, dataset: Dataset, split: Split, model_name: str, seed: int,
             params: dict[str, Any] | None = None, device: str = "cpu", label: str | None = None,
             full_ranking: bool = True, settings: Any = None, force: bool = False) -> dict:
    """Fit ``model_name`` with ``params`` and ``seed``, evaluate, save weights, metrics and ranks.

    ``metrics.json`` also records how training ended (``fit_outcome``: best epoch, epochs run,
    stop reason, warnings) and, for content models, which modalities were left out and why.
    """
    label = label or model_name
    out = cell_dir(workspace, label, seed)
    params = dict(params or {})
    if (out / "metrics.json").exists() and not force:
        done = read_json(out / "metrics.json")
        if _settings_of(done.get("params", {})) == _settings_of(params):
            return done  # a finished cell with the same settings is not recomputed
    t0 = time.perf_counter()
    model = fit_model(workspace, dataset, split, model_name, seed, params, device)
    fit_seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    result = evaluate(model.score, split.test, dataset.n_items if full_ranking else None,
                      history_pairs(dataset, split) if full_ranking else None)
    eval_seconds = time.perf_counter() - t1
    model.save(out)
    write_npy(out / "sampled_ranks.npy", result.pop("_sampled_ranks"))
    if "_full_ranks" in result:
        write_npy(out / "full_ranks.npy", result.pop("_full_ranks"))
    source = getattr(model, "source", None) or {}
    metrics = {"model": model_name, "label": label, "seed": seed, "params": params, **result,
               "fit_seconds": fit_seconds, "eval_seconds": eval_seconds, "epochs": len(model.history),
               "fit_outcome": model.fit_outcome, "absent_modalities": source.get("absent_modalities", {})}
    if settings is not None:
        save_settings(out / "config.toml", settings)
    write_json(out / "metrics.json", metrics)
    return metrics
