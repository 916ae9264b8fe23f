"""Equal tuning for every method: a seeded Optuna (TPE) search on the validation records only.

``amae experiment --tune N`` gives each method the same budget: N trials, each one full fit on the
fit records (early-stopped on the validation cases, as always) scored by its validation NDCG@10
(sampled protocol) on the validation cases whose pair is new, the view the verdict is read on
(all validation cases when fewer than :data:`MIN_NEW_PAIRS` are new). Tuning on all pairs had
traded discovery for memorised re-listens (MF picked d = 64 and tuned MF+AMAE's new-pairs NDCG@10
fell from 0.284 to 0.236 on the demo world, as reported in issue #20). The test cases are never
read here. The best parameters are saved under
``WS/tuning/<model>/record.json``, sealed by a manifest of what they were tuned on (the data, split
and features the model's cells read, the trials, the seed, the base parameters, the space), and
reused across seeds and re-runs only while all of that stays the same. Table III/IV variants and the controls
of a row use the tuned parameters of their model, so a control differs from its row only in its
content. A model without a search space (ItemPop) gets no trials and the report says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amae.compute.tasks import run_tasks
from amae.data.contract import Dataset
from amae.data.io import read_json, write_json
from amae.data.provenance import Manifest, check, seal, unseal
from amae.experiments.parallel import Workers, loaded, remember
from amae.experiments.runs import cell_manifest, fit_model
from amae.models import REGISTRY
from amae.protocol.metrics import sampled_ranks, summarise
from amae.protocol.split import Split
from amae.training.trainer import MIN_STOP_CASES, stopping_cases

#: the sampler's seed; the trials of every method are drawn from it
TUNING_SEED = 0
#: fewest new-pair validation cases the objective is read on (else on every validation case): the
#: same cases early stopping reads by default (``stop_on="new_pairs"``, :func:`stopping_cases`)
MIN_NEW_PAIRS = MIN_STOP_CASES


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


def objective_cases(split: Split) -> tuple[Any, str]:
    """The validation cases the objective reads, and what they are."""
    chosen, view = stopping_cases(split.valid, "new_pairs")
    if view == "new_pairs":
        return chosen, "validation NDCG@10 (sampled), new pairs"
    return chosen, "validation NDCG@10 (sampled), all pairs (too few new pairs)"


def validation_ndcg(model: Any, split: Split) -> float:
    """The objective: NDCG@10 on :func:`objective_cases` (1 + their sampled negatives)."""
    return float(summarise(sampled_ranks(model.score, objective_cases(split)[0]))["NDCG@10"])


#: trials asked of the sampler at once, then run side by side and told back in order. Fixed, not
#: the number of workers, so a search is the same whatever runs it; a batch's trials are suggested
#: from the same history (TPE's first 10 trials are random draws anyway).
TRIAL_BATCH = 4
SCHEME = (f"Optuna TPE (seed {TUNING_SEED}), in batches of {TRIAL_BATCH} trials asked together, run in "
          "parallel and told back in order; the same with any number of workers")


def _search(workspace: Path, model_name: str, space: dict[str, tuple], base_params: dict[str, Any], n_trials: int,
            device: str, workers: Workers, log: Callable[[str], None]) -> tuple[Any, float]:
    """The seeded study after ``n_trials`` trials, and the worker-seconds they took."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=TUNING_SEED))
    worker_seconds = 0.0
    while len(study.trials) < n_trials:
        batch = [study.ask() for _ in range(min(TRIAL_BATCH, n_trials - len(study.trials)))]
        values = [suggest(trial, space) for trial in batch]
        tasks = [(TrialTask(str(workspace), model_name, TUNING_SEED, {**base_params, **v}, device),) for v in values]
        scores = run_tasks(run_trial_task, tasks, n_jobs=workers.n_jobs, engine=workers.engine,
                           address=workers.address)
        for trial, v, (score, seconds) in zip(batch, values, scores, strict=True):
            study.tell(trial, score)
            worker_seconds += seconds
            log(f"tune {model_name} trial {trial.number + 1}/{n_trials}: valid NDCG@10 {score:.4f} {v}")
    return study, worker_seconds


@dataclass(frozen=True)
class TrialTask:
    """One trial: fit ``model`` with ``params`` at the tuning seed (any worker process runs it)."""

    workspace: str
    model: str
    seed: int
    params: dict[str, Any]
    device: str = "cpu"


def run_trial_task(task: TrialTask) -> tuple[float, float]:
    """(validation NDCG@10, seconds) of one trial; an error ends the search (raised in the caller)."""
    t0 = time.perf_counter()
    dataset, split = loaded(Path(task.workspace))
    model = fit_model(Path(task.workspace), dataset, split, task.model, task.seed, dict(task.params), task.device)
    return validation_ndcg(model, split), time.perf_counter() - t0


def tune(workspace: Path, dataset: Dataset, split: Split, model_name: str, base_params: dict[str, Any],
         n_trials: int, device: str = "cpu", log: Callable[[str], None] | None = None,
         workers: Workers | None = None) -> dict[str, Any]:
    """Search ``model_name``'s space for ``n_trials`` trials; returns (and saves) the record.

    The trials of a batch (:data:`TRIAL_BATCH`) run on ``workers`` at once; the batches, not the
    workers, fix what the sampler sees, so the record is the same with any number of workers.

    The record: ``params`` (the best trial's values, to be laid over ``base_params``), ``trials``
    (each trial's values and validation NDCG@10), ``best_valid_NDCG@10``, ``n_trials``, ``seconds``.
    """
    log = log or (lambda msg: None)
    workers = workers or Workers()
    remember(Path(workspace), dataset, split)
    space = REGISTRY[model_name].search_space
    # What the search was run on: the same inputs as the model's cells, plus the budget and space.
    cell = cell_manifest(workspace, model_name, base_params, TUNING_SEED)
    config = {"model": model_name, "n_trials": int(n_trials), "seed": TUNING_SEED,
              "base_params": cell.config["params"], "defaults": cell.config["defaults"], "space": space,
              "objective": objective_cases(split)[1], "scheme": SCHEME}
    manifest = Manifest("tuning", cell.inputs, config, cell.versions)
    folder = Path(workspace) / "tuning" / model_name
    if not check(folder, manifest) and (folder / "record.json").exists():
        return {**read_json(folder / "record.json"), "reused": True}
    unseal(folder)
    if not space or n_trials <= 0:
        record = {"params": {}, "trials": [], "n_trials": 0, "best_valid_NDCG@10": None,
                  "seconds": 0.0, "note": "no search space: run on its defaults"}
        write_json(folder / "record.json", record)
        seal(folder, manifest)
        return {**record, "reused": False}
    t0 = time.perf_counter()
    study, worker_seconds = _search(workspace, model_name, space, base_params, int(n_trials), device, workers, log)
    record = {"params": dict(study.best_params), "n_trials": len(study.trials), "objective": config["objective"],
              "scheme": config["scheme"], "best_valid_NDCG@10": float(study.best_value),
              "seconds": time.perf_counter() - t0, "worker_seconds": worker_seconds,
              "trials": [{"params": t.params, "valid_NDCG@10": t.value} for t in study.trials]}
    write_json(folder / "record.json", record)
    seal(folder, manifest)
    return {**record, "reused": False}
