"""Equal tuning for every method: a seeded Optuna (TPE) search on the validation records only.

``amae experiment --tune N`` gives each method the same budget: N trials, each one full fit on the
fit records (early-stopped on the validation cases, as always) scored by its validation NDCG@10
(sampled protocol). The test cases are never read here. The best parameters are saved under
``WS/tuning/<model>.json`` with what they were tuned on (split, trials, seed, base parameters) and
reused across seeds and re-runs while that stays the same. Table III/IV variants and the controls
of a row use the tuned parameters of their model, so a control differs from its row only in its
content. A model without a search space (ItemPop) gets no trials and the report says so.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from amae.data.contract import Dataset
from amae.data.io import read_json, write_json
from amae.experiments.runs import fit_model
from amae.models import REGISTRY
from amae.protocol.metrics import sampled_ranks, summarise
from amae.protocol.split import Split

#: the sampler's seed; the trials of every method are drawn from it
TUNING_SEED = 0


def suggest(trial: Any, space: dict[str, tuple]) -> dict[str, Any]:
    """One trial's parameters from a model's declared ``search_space``."""
    out: dict[str, Any] = {}
    for name, spec in space.items():
        kind = spec[0]
        if kind == "float":
            out[name] = trial.suggest_float(name, float(spec[1]), float(spec[2]), log=bool(spec[3]))
        elif kind == "int":
            out[name] = trial.suggest_int(name, int(spec[1]), int(spec[2]), log=bool(spec[3]))
        elif kind == "categorical":
            out[name] = trial.suggest_categorical(name, list(spec[1]))
        else:
            raise ValueError(f"search space of '{name}': unknown kind {kind!r}")
    return out


def validation_ndcg(model: Any, split: Split) -> float:
    """The objective: NDCG@10 on the validation cases (1 + their sampled negatives)."""
    return float(summarise(sampled_ranks(model.score, split.valid))["NDCG@10"])


def _split_stamp(workspace: Path) -> str:
    digest = hashlib.blake2b(digest_size=12)
    for name in ("train_rows.npy", "valid_negatives.npy", "split.json"):
        path = Path(workspace) / "split" / name
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def tune(workspace: Path, dataset: Dataset, split: Split, model_name: str, base_params: dict[str, Any],
         n_trials: int, device: str = "cpu", log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Search ``model_name``'s space for ``n_trials`` trials; returns (and saves) the record.

    The record: ``params`` (the best trial's values, to be laid over ``base_params``), ``trials``
    (each trial's values and validation NDCG@10), ``best_valid_NDCG@10``, ``n_trials``, ``seconds``.
    """
    import optuna

    log = log or (lambda msg: None)
    space = REGISTRY[model_name].search_space
    stamp = {"model": model_name, "n_trials": int(n_trials), "seed": TUNING_SEED, "split": _split_stamp(workspace),
             "base_params": json.loads(json.dumps({k: v for k, v in base_params.items() if k != "progress"},
                                                  default=str)),
             "space": json.loads(json.dumps(space))}
    path = Path(workspace) / "tuning" / f"{model_name}.json"
    if path.exists():
        saved = read_json(path)
        if saved.get("stamp") == stamp:
            return {**saved, "reused": True}
    if not space or n_trials <= 0:
        record = {"stamp": stamp, "params": {}, "trials": [], "n_trials": 0, "best_valid_NDCG@10": None,
                  "seconds": 0.0, "note": "no search space: run on its defaults"}
        write_json(path, record)
        return {**record, "reused": False}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=TUNING_SEED))
    t0 = time.perf_counter()

    def objective(trial: Any) -> float:
        values = suggest(trial, space)
        model = fit_model(workspace, dataset, split, model_name, TUNING_SEED, {**base_params, **values}, device)
        score = validation_ndcg(model, split)
        log(f"tune {model_name} trial {trial.number + 1}/{n_trials}: valid NDCG@10 {score:.4f} {values}")
        return score

    study.optimize(objective, n_trials=int(n_trials))
    record = {"stamp": stamp, "params": dict(study.best_params), "n_trials": len(study.trials),
              "best_valid_NDCG@10": float(study.best_value), "seconds": time.perf_counter() - t0,
              "trials": [{"params": t.params, "valid_NDCG@10": t.value} for t in study.trials]}
    write_json(path, record)
    return {**record, "reused": False}
