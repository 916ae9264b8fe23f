"""One (model, seed) cell: fit on the workspace's split, evaluate under every protocol, save.

A cell is a folder ``WS/models/<label>-<params hash>-seed<k>`` sealed by a manifest
(:mod:`amae.data.provenance`) naming the data, split and features it was trained on; it is reused
only while they are all unchanged, so an interrupted experiment resumes where it stopped and a
changed input retrains instead of silently reusing an old result.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError

from amae.config import save_settings
from amae.data.contract import Dataset
from amae.data.io import DataError, atomic_folder, read_json, write_json, write_npy
from amae.data.provenance import Manifest, changed_inputs, check, seal, upstream
from amae.models import REGISTRY, Recommender, TrainData
from amae.models.base import did_you_mean, known_params
from amae.protocol.metrics import evaluate
from amae.protocol.split import Split, split_digest

# Moved below experiments so serving can use them too; still importable from here for existing callers.
from amae.protocol.stored import history_pairs, load_split  # noqa: F401
from amae.training import fit
from amae.training.cells import cell_dir, find_cells, params_key, resolve_cell, settings_of  # noqa: F401


def train_data(dataset: Dataset, split: Split, seed: int, device: str) -> TrainData:
    inter = dataset.interactions
    rows = split.fit_rows
    return TrainData(dataset.n_users, dataset.n_items, inter["user_idx"].to_numpy(np.int64)[rows],
                     inter["item_idx"].to_numpy(np.int64)[rows], inter["timestamp"].to_numpy(np.int64)[rows],
                     valid=split.valid, rows=rows, seed=seed, device=device)


def cell_manifest(workspace: Path, model_name: str, params: dict, seed: int) -> Manifest:
    """A cell's manifest: the data, the split, the features a content model reads, model, params, seed.

    The model's defaults are in it too, so a changed default (a patience, a learning rate) makes
    every cell that relied on it stale instead of silently reused.
    """
    ws = Path(workspace)
    inputs: dict[str, str | None] = {"data": upstream(ws / "data"), "split": split_digest(ws / "split")}
    if model_name in REGISTRY and REGISTRY[model_name].needs_content:
        for mod in ("text", "visual"):
            inputs[f"features/{mod}"] = upstream(ws / "features" / mod)
    versions = {"model": REGISTRY[model_name].version} if model_name in REGISTRY else {}
    defaults = settings_of(known_params(REGISTRY[model_name])) if model_name in REGISTRY else {}
    return Manifest("cell", inputs, {"model": model_name, "params": settings_of(params), "defaults": defaults,
                                     "seed": int(seed)}, versions)


def model_class(name: str) -> type[Recommender]:
    """The registered model ``name``, or a one-line error suggesting the closest registered name."""
    if name not in REGISTRY:
        hint = did_you_mean(name, list(REGISTRY))
        raise DataError(f"unknown model '{name}' ({hint}known: {', '.join(sorted(REGISTRY))})")
    return REGISTRY[name]


def validate_params(model_name: str, params: dict[str, Any]) -> None:
    """Unknown or ill-typed parameters of one model: a one-line error naming the parameter."""
    from amae.models.base import check_params

    problems = check_params(model_class(model_name), params)
    if problems:
        raise DataError(problems[0] + (f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""))


def fit_model(workspace: Path, dataset: Dataset, split: Split, model_name: str, seed: int,
              params: dict[str, Any], device: str = "cpu") -> Recommender:
    """Fit one model on the split's fit records (validation cases only for early stopping)."""
    cls = model_class(model_name)
    data = train_data(dataset, split, seed, device)
    if cls.needs_content:
        if not dataset.has_content:
            raise DataError(f"model '{model_name}' needs posts, but this dataset has none")
        # A control's noise or shuffle is drawn anew for every training seed, so the seed-resampled
        # intervals include the control's own randomness (the draw is recorded in the model's source).
        content_params = {**params, "noise_seed": int(params.get("noise_seed", 0)) + seed}
        data.content = cls.prepare_content(Path(workspace), dataset, split, content_params)
    try:
        model: Recommender = cls(**params)
    except (ValueError, TypeError) as exc:  # a value the model itself refuses: the user's mistake
        raise DataError(f"model '{model_name}': {exc}") from None
    fit(model, data)
    return model


def _write_cell(out: Path, model: Recommender, ranks: dict[str, np.ndarray], metrics: dict, manifest: Manifest,
                settings: Any) -> None:
    """Write a finished cell as one unit: a failed write (a full disk) keeps the old cell, or none.

    The files go into a folder beside ``out`` that replaces it only once sealed, so no folder that
    looks like a result is ever half-written; an I/O failure is one line naming the cell.
    """
    try:
        with atomic_folder(out) as tmp:
            model.save(tmp)
            for name, values in ranks.items():
                write_npy(tmp / f"{name}.npy", values)
            if settings is not None:
                save_settings(tmp / "config.toml", settings)
            write_json(tmp / "metrics.json", metrics)
            seal(tmp, manifest)
    except (OSError, SafetensorError) as exc:  # the weights writer wraps the OSError in its own
        raise DataError(f"{out}: the trained model could not be written ({type(exc).__name__}: {exc}); "
                        "nothing was kept") from None


def run_cell(workspace: Path, dataset: Dataset, split: Split, model_name: str, seed: int,
             params: dict[str, Any] | None = None, device: str = "cpu", label: str | None = None,
             full_ranking: bool = True, settings: Any = None, force: bool = False) -> dict:
    """Fit ``model_name`` with ``params`` and ``seed``, evaluate, save weights, metrics and ranks.

    The cell folder is named by label and a hash of the parameters. A finished cell is reused only
    when its manifest matches: same data, split, features (content models), model, params, seed.
    The returned metrics say ``reused`` and, when recomputed over an earlier result, ``changes``.
    ``metrics.json`` also records how training ended (``fit_outcome``: best epoch, epochs run,
    stop reason, warnings) and, for content models, which modalities were left out and why.
    """
    label = label or model_name
    params = dict(params or {})
    out = cell_dir(workspace, label, seed, params)
    manifest = cell_manifest(workspace, model_name, params, seed)
    reasons = check(out, manifest)
    if not reasons and not force and (out / "metrics.json").exists():
        return {**read_json(out / "metrics.json"), "reused": True, "changes": []}
    t0 = time.perf_counter()
    model = fit_model(workspace, dataset, split, model_name, seed, params, device)
    fit_seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    result = evaluate(model.score, split.test, dataset.n_items if full_ranking else None,
                      history_pairs(dataset, split) if full_ranking else None)
    eval_seconds = time.perf_counter() - t1
    ranks = {name.strip("_"): result.pop(name) for name in ("_sampled_ranks", "_full_ranks") if name in result}
    source = getattr(model, "source", None) or {}
    metrics = {"model": model_name, "label": label, "seed": seed, "params": params, "cell": out.name, **result,
               "fit_seconds": fit_seconds, "eval_seconds": eval_seconds, "epochs": len(model.history),
               "fit_outcome": model.fit_outcome, "absent_modalities": source.get("absent_modalities", {})}
    _write_cell(out, model, ranks, metrics, manifest, settings)
    return {**metrics, "reused": False, "changes": changed_inputs(reasons)}
