"""Running an experiment's cells: tuning (when asked) and every (row, seed) cell on the workers.

Each cell is one :class:`amae.experiments.parallel.CellTask` on ``ctx.workers``; its numbers do not
depend on the engine or the number of workers. Tuning gives every method the same Optuna budget
(:mod:`amae.experiments.tuning`).
"""

from __future__ import annotations

import time
from typing import Any

from amae.compute.tasks import run_tasks
from amae.experiments.context import PRESETS, Context, effective_params, shared_params
from amae.experiments.parallel import CellTask, remember, run_cell_task
from amae.experiments.plan import (
    REFERENCE_LABEL,
    Row,
)
from amae.models import REGISTRY


def _entry(ctx: Context, row: Row) -> dict[str, Any]:
    """A row's empty entry (runs, reused seeds, errors), or its "not applicable" one."""
    entry: dict[str, Any] = {"status": "ok", "reason": None, "params": effective_params(ctx, row), "runs": {},
                             "reused": [], "errors": {}}
    reason = ctx.not_applicable(row)
    if reason is not None:
        entry.update(status="not applicable", reason=reason)
    return entry


def cell_tasks(ctx: Context, unique: dict[str, Row], entries: dict[str, dict]) -> list[tuple[str, CellTask]]:
    """Every (row, seed) cell to run, content models first: the longest tasks start first, so the
    workers finish together (the order changes no number: each cell is seeded on its own)."""
    tasks = [(label, CellTask(str(ctx.ws), row.model, seed, {**entries[label]["params"], "progress": ctx.progress},
                              ctx.device, label))
             for label, row in unique.items() if entries[label]["status"] == "ok" for seed in ctx.seeds]
    heavy = {name for name, cls in REGISTRY.items() if cls.needs_content}
    return sorted(tasks, key=lambda t: t[1].model not in heavy)


def _record(entry: dict[str, Any], label: str, seed: int, outcome: dict[str, Any]) -> str:
    """Put one finished cell into its row's entry; the line that reports it."""
    if "error" in outcome:
        entry["errors"][seed] = outcome["error"]
        if outcome.get("traceback"):  # a bug, not the data: where it happened goes in results.json
            entry.setdefault("tracebacks", {})[seed] = outcome["traceback"]
        return f"{label} seed {seed}: FAILED {outcome['error']}"
    m = outcome["metrics"]
    entry["runs"][seed] = m
    reused = bool(m.get("reused"))
    if reused:
        entry["reused"].append(seed)
    changes = f" (retrained because {'; '.join(m['changes'])})" if not reused and m.get("changes") else ""
    stop = (m.get("fit_outcome") or {}).get("stop_reason", "-")
    full = (m.get("full") or {}).get("NDCG@10")
    took = "reused" if reused else f"{outcome['seconds']:.1f}s"
    return (f"{label} seed {seed}: sampled HR@10 {m['sampled']['HR@10']:.4f} full NDCG@10 "
            f"{float('nan') if full is None else full:.4f} [{stop}] ({took}){changes}")


def run_all_cells(ctx: Context, unique: dict[str, Row]) -> dict[str, dict[str, Any]]:
    """Train (or reuse) every (row, seed) cell on ``ctx.workers``: the entry of each row label.

    Each cell is one task; finished cells are sealed as they complete, so an interrupted run resumes
    with them reused. ``ctx.on_cell(done, total)`` is told as each one finishes.
    """
    entries = {label: _entry(ctx, row) for label, row in unique.items()}
    for label, entry in entries.items():
        if entry["status"] != "ok":
            ctx.log(f"{label}: not applicable ({entry['reason']})")
    tasks = cell_tasks(ctx, unique, entries)
    remember(ctx.ws, ctx.dataset, ctx.split)
    finished = [0]

    def report(i: int, outcome: dict[str, Any]) -> None:
        label, task = tasks[i]
        ctx.log(_record(entries[label], label, task.seed, outcome))
        finished[0] += 1
        ctx.on_cell(finished[0], len(tasks))

    w = ctx.workers
    run_tasks(run_cell_task, [(t,) for _, t in tasks], n_jobs=w.n_jobs, engine=w.engine, address=w.address,
              on_result=report)
    for entry in entries.values():
        entry["errors"] = dict(sorted(entry["errors"].items()))
        if entry["status"] == "ok" and not entry["runs"]:
            entry.update(status="failed", reason="; ".join(f"seed {s}: {e}" for s, e in entry["errors"].items()))
    return entries


def tune_methods(ctx: Context, unique: dict[str, Row], n_trials: int) -> dict[str, dict[str, Any]]:
    """``--tune N``: the same Optuna budget for every model that has rows to run; model -> record."""
    from amae.experiments.tuning import tune

    records: dict[str, dict[str, Any]] = {}
    for row in unique.values():
        if row.model in records or row.control:
            continue
        if ctx.not_applicable(row) is not None:
            continue
        base = {**shared_params(ctx, row.model), **ctx.model_params.get(row.model, {}), "progress": False}
        t0 = time.perf_counter()
        try:
            records[row.model] = tune(ctx.ws, ctx.dataset, ctx.split, row.model, base, n_trials, ctx.device, ctx.log,
                                      ctx.workers)
        except Exception as exc:  # noqa: BLE001 - a model that cannot be tuned runs on its defaults
            records[row.model] = {"error": f"{type(exc).__name__}: {exc}", "params": {}, "n_trials": 0}
            ctx.log(f"tune {row.model}: FAILED {exc}")
            continue
        rec = records[row.model]
        ctx.log(f"tune {row.model}: {rec['n_trials']} trial(s), best valid NDCG@10 {rec.get('best_valid_NDCG@10')} "
                f"{rec['params']} ({'reused' if rec.get('reused') else f'{time.perf_counter() - t0:.0f}s'})")
        ctx.tuned[row.model] = dict(rec["params"])
    return records


def budget_of(ctx: Context, n_trials: int, tuning: dict[str, dict]) -> dict[str, Any]:
    """What each method was given: the training schedule per model and the tuning budget."""
    from amae.models import REGISTRY
    from amae.models.torch_base import TorchRecommender
    from amae.training.trainer import TrainConfig

    models = sorted(set(ctx.tuned) | set(tuning) | {REFERENCE_LABEL})
    schedule: dict[str, Any] = {}
    for name, cls in REGISTRY.items():
        if not issubclass(cls, TorchRecommender):
            schedule[name] = "no training loop (counts or neighbours)"
            continue
        defaults = {**TrainConfig().__dict__, **getattr(cls, "default_params", {})}
        eff = {**defaults, **PRESETS[ctx.preset], **ctx.params, **ctx.model_params.get(name, {}),
               **ctx.tuned.get(name, {})}
        schedule[name] = {k: eff.get(k) for k in ("epochs", "min_epochs", "patience", "stage1_epochs", "lr")
                          if k in eff}
    from amae.experiments.tuning import SCHEME

    return {"tuned": n_trials > 0, "trials_per_method": int(n_trials), "tuning": tuning, "schedule": schedule,
            "models": models, "scheme": SCHEME if n_trials > 0 else None}


def tune_and_run_cells(ctx: Context, unique: dict[str, Row], tune: int, timings: dict) -> tuple[dict, dict]:
    """Tune (when asked) before any cell runs, so every seed of a row trains with the chosen values;
    then every (row, seed) cell. Returns (tuning results, cells per row label), timing both."""
    t0 = time.perf_counter()
    tuning = tune_methods(ctx, unique, tune) if tune > 0 else {}
    timings["tuning"] = time.perf_counter() - t0
    if tuning:
        timings["tuning, worker-seconds"] = sum(r.get("worker_seconds", 0.0) for r in tuning.values()
                                                if not r.get("reused"))
    t0 = time.perf_counter()
    cells = run_all_cells(ctx, unique)
    timings["cells"] = time.perf_counter() - t0
    timings["cells, worker-seconds"] = sum(m.get("fit_seconds", 0.0) + m.get("eval_seconds", 0.0)
                                           for e in cells.values() for s, m in e["runs"].items()
                                           if s not in e["reused"])
    return tuning, cells
