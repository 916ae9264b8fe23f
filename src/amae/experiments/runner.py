"""``amae experiment``: ingest, split, features, Tables II-IV over seeds, controls, the case study, the report.

Every stage reuses what an earlier run left in the workspace (ingested data, split, feature
shards, tuned parameters, finished (method, seed) cells), so an interrupted experiment resumes and
a second call trains nothing. A row that cannot run on this dataset (content methods without
posts, a modality without data, models not installed) is reported as "not applicable" with the
reason; a cell that fails is reported as "failed" with the error, and the rest goes on.

What makes the answer trustworthy (docs/design.md sections 7.6 and 8.2-8.3): every AMAE row runs beside its noise and
shuffled controls, differences come with intervals that resample seeds and test cases, every
cell records how its training ended, ``tune`` gives every method the same Optuna budget on the
validation records, and Table I says how many listens have any post in their window at all.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from amae.compute.tasks import run_tasks
from amae.data.contract import Dataset
from amae.data.io import DataError, read_json
from amae.data.provenance import changed_inputs
from amae.data.workspace import load_workspace
from amae.experiments.parallel import CellTask, Workers, remember, run_cell_task
from amae.experiments.plan import (
    BACKBONES,
    CONTROLS,
    REFERENCE_LABEL,
    TABLE_TITLES,
    Row,
    applicability,
    control_rows,
    parse_tables,
    table_rows,
)
from amae.experiments.summary import PROTOCOLS, differences_vs_reference, seed_summary
from amae.experiments.verdict import ALL_PAIRS_METRIC, VERDICT_METRIC, verdict
from amae.features.modalities import POST_MODALITIES
from amae.models import REGISTRY
from amae.models.base import known_params
from amae.protocol.given import ingest
from amae.protocol.split import Split, split_workspace

#: Training presets. "default": every model's own defaults, i.e. the project's choices (code
#: dropout, identity codes...); "paper": the paper's literal settings where they differ (README
#: lists each [choice]); "quick": capped epochs so that all tables fit in minutes on the demo world.
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "paper": {"dim": 16, "init_std": 0.01, "batch_size": 512, "n_negatives": 3, "code_dropout": 0.0,
              "global_dropout": 0.0, "context_input": "raw", "literal_relu": True},
    "quick": {"epochs": 8, "patience": 3, "min_epochs": 4, "stage1_epochs": 3},
}
MODALITIES = tuple(POST_MODALITIES)
Log = Callable[[str], None]


def resolve_source(source: Path, workspace: Path | None, out_dir: Path) -> tuple[str, Path, Path]:
    """(kind, source, workspace): kind is "workspace", "ncf" (``source + '.train.rating'`` exists)
    or "contract" (a dataset folder)."""
    source = Path(source)
    if (source / "data" / "interactions.parquet").exists():
        return "workspace", source, source
    ws = Path(workspace) if workspace is not None else Path(out_dir) / "workspace"
    if Path(f"{source}.train.rating").exists():
        return "ncf", source, ws
    if source.is_dir():
        return "contract", source, ws
    raise DataError(f"{source}: neither a dataset folder, an NCF prefix ({source}.train.rating) nor a workspace")


def prepare_workspace(kind: str, source: Path, workspace: Path, split_method: str, split_seed: int,
                      log: Log, n_negatives: int = 99) -> tuple[Dataset, Split, dict[str, float]]:
    """Ingest (unless this workspace already holds this source) and split (unless split)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if kind == "workspace":
        dataset = load_workspace(workspace)
    else:
        dataset = ingest(source, workspace, "ncf" if kind == "ncf" else "contract")
        reasons = changed_inputs(dataset.provenance.get("changes", []))
        log(f"ingest {source} -> {workspace}: " + ("reused (unchanged)" if dataset.provenance.get("reused")
                                                   else "done" + (f" ({'; '.join(reasons)})" if reasons else "")))
    timings["ingest"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    split, why = split_workspace(workspace, dataset, method=split_method, seed=split_seed, n_negatives=n_negatives,
                                 keep_existing=True)
    if why:
        real = changed_inputs(why)
        log(f"split ({split_method}, seed {split_seed})" + (f": {'; '.join(real)}" if real else ""))
    timings["split"] = time.perf_counter() - t0
    return dataset, split, timings


def ensure_features(workspace: Path, settings: dict[str, Any], n_jobs: int, batch_sizes: dict[str, int],
                    log: Log) -> tuple[dict[str, dict], dict[str, float]]:
    """Extract (or confirm) text and visual features: modality -> report (or error).

    Always goes through :func:`extract_features`, which reuses finished shards and refits the
    text model when the split or the texts changed, so features from before the split never leak.
    """
    from amae.features.pipeline import extract_features

    reports: dict[str, dict] = {}
    timings: dict[str, float] = {}
    for m in MODALITIES:
        t0 = time.perf_counter()
        try:
            extract_features(workspace, m, settings.get(m, {}), n_jobs=n_jobs, batch_size=batch_sizes.get(m),
                             progress=False)
        except Exception as exc:  # noqa: BLE001 - one modality failing must not end the experiment
            reports[m] = {"error": f"{type(exc).__name__}: {exc}"}
            log(f"{m} features failed: {exc}")
            continue
        reports[m] = read_json(workspace / "features" / m / "report.json")
        timings[f"features {m}"] = time.perf_counter() - t0
    return reports, timings


@dataclass
class Context:
    """What every step of an experiment reads: the data, the settings and the log."""

    ws: Path
    dataset: Dataset
    split: Split
    seeds: list[int]
    device: str
    preset: str
    params: dict[str, Any]
    model_params: dict[str, dict[str, Any]]
    progress: bool
    log: Log
    groups: list[str] = field(default_factory=list)
    usable: dict[str, int] | None = None
    tuned: dict[str, dict[str, Any]] = field(default_factory=dict)
    workers: Workers = field(default_factory=Workers)
    on_cell: Callable[[int, int], None] = lambda done, total: None

    def not_applicable(self, row: Row) -> str | None:
        """Why ``row`` cannot run on this workspace (None: it can)."""
        from amae.models import REGISTRY

        has = self.dataset.has_content
        return applicability(row, REGISTRY, has, self.groups if has else None, self.usable)


def plan_rows(wanted: list[str], methods: list[str] | None, controls: tuple[str, ...] = tuple(CONTROLS)
              ) -> tuple[dict[str, list[Row]], dict[str, Row]]:
    """The rows of each wanted table, and every cell to train (MF, the rows, the ``controls`` of
    each content row) by label. A verdict needs the noise control; the shuffled one is context."""
    unknown = sorted(set(controls) - set(CONTROLS))
    if unknown:
        raise DataError(f"unknown control(s) {unknown} (use any of {', '.join(CONTROLS)})")
    table_plan = {t: table_rows(t) for t in wanted if t != "case"}
    if methods:
        keep = set(methods)
        table_plan = {t: [r for r in rows if r.label in keep or r.model in keep or r.name in keep]
                      for t, rows in table_plan.items()}
    mf_row = next(r for r in table_rows("II") if r.label == REFERENCE_LABEL)
    unique: dict[str, Row] = {mf_row.label: mf_row}
    for rows in table_plan.values():
        for r in rows:
            unique.setdefault(r.label, r)
            for name, c in control_rows(r).items():
                if name in controls:
                    unique.setdefault(c.label, c)
    return table_plan, unique


def shared_params(ctx: Context, model: str) -> dict[str, Any]:
    """The preset and the experiment-wide params, restricted to what ``model`` takes.

    They are set for every model at once (``epochs`` means nothing to ItemPop), so each model gets
    the ones it knows; per-model and row params are passed as they are and checked strictly.
    """
    known = known_params(REGISTRY[model]) if model in REGISTRY else {}
    return {k: v for k, v in {**PRESETS[ctx.preset], **ctx.params}.items() if k in known}


def effective_params(ctx: Context, row: Row) -> dict[str, Any]:
    """Preset, then experiment params, then tuned values, then per-model params, then the row's switches."""
    return {**shared_params(ctx, row.model), **ctx.tuned.get(row.model, {}),
            **ctx.model_params.get(row.model, {}), **row.params}


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


def outcome_summary(runs: list[dict]) -> dict[str, Any]:
    """Per seed: best epoch, epochs run, stop reason; and every warning (cap, early best)."""
    per_seed, warnings = {}, []
    for r in runs:
        o = r.get("fit_outcome")
        if not o:
            continue
        per_seed[str(r["seed"])] = {k: o.get(k) for k in ("best_epoch", "epochs_run", "stop_reason", "epoch_cap")}
        warnings += [f"seed {r['seed']}: {w}" for w in o.get("warnings", [])]
    return {"per_seed": per_seed, "warnings": warnings}


def summarise_entry(ctx: Context, label: str, entry: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    """A row's numbers: mean ± std per protocol, per seed, how training ended, difference to MF."""
    runs = [entry["runs"][s] for s in sorted(entry["runs"])]
    s: dict[str, Any] = {"status": entry["status"], "reason": entry["reason"], "seeds": sorted(entry["runs"]),
                         "failed_seeds": {str(k): v for k, v in entry["errors"].items()},
                         "reused_seeds": entry["reused"], "params": entry["params"]}
    if not runs:
        return s
    s["metrics"] = seed_summary(runs)
    s["per_seed"] = {str(r["seed"]): {p: r[p] for p in PROTOCOLS if p in r} for r in runs}
    s["fit_seconds"] = float(np.mean([r["fit_seconds"] for r in runs]))
    s["eval_seconds"] = float(np.mean([r["eval_seconds"] for r in runs]))
    s["epochs"] = float(np.mean([r.get("epochs", 0) for r in runs]))
    s["training"] = outcome_summary(runs)
    s["cells"] = {str(r["seed"]): r.get("cell") for r in runs}
    absent = {m: why for r in runs for m, why in (r.get("absent_modalities") or {}).items()}
    if absent:
        s["absent_modalities"] = absent
    if label != REFERENCE_LABEL and reference["runs"]:
        s["vs_mf"] = differences(ctx, entry, reference)
    return s


def differences(ctx: Context, entry: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    """Bootstrap differences between two rows' cells, paired by seed (the cell folders they ran in)."""
    def dirs(e: dict[str, Any]) -> dict[int, Path]:
        return {sd: ctx.ws / "models" / m["cell"] for sd, m in e["runs"].items()}

    return differences_vs_reference(dirs(entry), dirs(reference), ctx.split.test.new_pair)


def attach_controls(ctx: Context, rows: list[Row], cells: dict[str, dict], summaries: dict[str, dict]) -> None:
    """For every controlled row: its controls' numbers, its difference to each, and its verdict."""
    proto, metric = VERDICT_METRIC
    reference = (summaries.get(REFERENCE_LABEL, {}).get("metrics", {}).get(proto, {}).get(metric) or [None])[0]
    for r in rows:
        s = summaries[r.label]
        if not r.controlled or s["status"] != "ok" or "controls" in s:
            continue
        s["controls"] = {}
        for name, c in control_rows(r).items():
            cs = summaries.get(c.label)
            if cs is None:
                continue
            s["controls"][name] = {k: cs.get(k) for k in ("status", "reason", "metrics", "seeds", "training")}
            s["controls"][name]["vs_mf_mean"] = (cs.get("vs_mf", {}).get(proto, {}).get(metric) or [None])[0]
            if cs["status"] == "ok":
                s[f"vs_{name}"] = differences(ctx, cells[r.label], cells[c.label])
        s["verdict"] = verdict(s, reference)


def build_tables(ctx: Context, table_plan: dict[str, list[Row]], cells: dict[str, dict],
                 summaries: dict[str, dict]) -> dict[str, Any]:
    from amae.experiments.paper_numbers import paper_value

    out = {}
    for t, rows in table_plan.items():
        attach_controls(ctx, rows, cells, summaries)
        out[t] = {"title": TABLE_TITLES[t], "rows": [
            {"name": r.name, "label": r.label, "model": r.model, "backbone": r.backbone, "row_params": r.params,
             "controlled": r.controlled, "paper": paper_value(r.paper_key), **summaries[r.label]} for r in rows]}
    return out


def run_case_study(ctx: Context, out_dir: Path, case_tracks: list[str] | None, n_case_tracks: int) -> dict:
    if not ctx.dataset.has_content:
        return {"status": "not applicable", "reason": "the dataset has no posts"}
    try:
        from amae.experiments.case_study import case_study

        return {"status": "ok", **case_study(ctx.ws, ctx.dataset, ctx.split, out_dir, case_tracks, n_case_tracks)}
    except DataError as exc:
        return {"status": "failed", "reason": str(exc)}


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


def prepare_content(ctx: Context, wanted: list[str], unique: dict[str, Row], feature_settings: dict | None,
                    feature_jobs: int, feature_batch_sizes: dict[str, int] | None, timings: dict) -> dict[str, dict]:
    """Extract features only when a content row or the case study will read them (collaborative-only
    runs skip the expensive step), then record in ``ctx`` which groups and posts the models may use.

    Returns the extraction report per modality (empty when nothing was extracted).
    """
    dataset, ws = ctx.dataset, ctx.ws
    feature_reports: dict[str, dict] = {}
    if dataset.has_content and ("case" in wanted or any(r.model not in ("itempop", "mf", "dmf")
                                                        for r in unique.values())):
        feature_reports, ftimes = ensure_features(ws, feature_settings or {}, feature_jobs,
                                                  feature_batch_sizes or {"visual": 512}, ctx.log)
        timings.update(ftimes)
    if dataset.has_content:
        from amae.features.content import usable_posts
        from amae.features.extract import available_groups

        ctx.groups, ctx.usable = available_groups(ws / "features"), usable_posts(ws)
    return feature_reports


def _tune_and_run_cells(ctx: Context, unique: dict[str, Row], tune: int, timings: dict) -> tuple[dict, dict]:
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


def add_ceilings(ctx: Context, kind: str, source: Path, tables_out: dict, summaries: dict[str, dict],
                 timings: dict) -> dict | None:
    """On a folder written by ``amae world``: the Bayes ceilings, and beside every content row the
    share of the available content gain it captured over its own backbone (MF+AMAE over MF,
    DMF+AMAE over DMF when DMF ran; None on other data)."""
    from amae.experiments.ceilings import captured_shares, world_ceilings, world_folder

    folder = world_folder(kind, source, ctx.ws)
    t0 = time.perf_counter()
    ceilings = None if folder is None else world_ceilings(folder, ctx.dataset, ctx.split)
    timings["ceilings"] = time.perf_counter() - t0
    if ceilings is None:
        point_to_like(tables_out, ctx.ws)
        return None
    for table in tables_out.values():
        for row in table["rows"]:
            if row.get("controlled") and row.get("metrics"):
                plain = next((p for b, p, _ in BACKBONES if b == row.get("backbone")), REFERENCE_LABEL)
                if not summaries.get(plain, {}).get("metrics"):
                    plain = REFERENCE_LABEL  # the row's own backbone did not run: over MF, and said so
                row["captured"] = {**captured_shares(row["metrics"], summaries[plain].get("metrics", {}), ceilings),
                                   "over": plain}
    ctx.log("Bayes ceilings (full NDCG@10, all / new pairs): " + ", ".join(
        f"{c} {ceilings[c]['full']['NDCG@10']:.4f} / {ceilings[c]['full_new_pairs']['NDCG@10']:.4f}"
        for c in ("collaborative", "observable", "omniscient")))
    return ceilings


def point_to_like(tables_out: dict, ws: Path) -> None:
    """Beside an inconclusive verdict on data without a known truth: the command that shows what
    data shaped like these can reveal (a planted effect in a world ``--like`` the workspace)."""
    for table in tables_out.values():
        for row in table["rows"]:
            if str(row.get("verdict", "")).startswith("inconclusive"):
                row["verdict"] += (f"; to see what data shaped like these can reveal, plant an effect: "
                                   f"amae world W --like {ws} --effect 2.5, then amae experiment W")


def run_experiment(dataset_or_workspace: Path, out_dir: Path, tables: list[str] | str = ("II", "III", "IV", "case"),
                   seeds: list[int] = (0, 1, 2), device: str = "auto", *, workspace: Path | None = None,
                   preset: str = "default", params: dict[str, Any] | None = None,
                   model_params: dict[str, dict[str, Any]] | None = None, methods: list[str] | None = None,
                   tune: int = 0, split_method: str = "temporal", split_seed: int = 0, n_negatives: int = 99,
                   feature_settings: dict | None = None, controls: tuple[str, ...] = tuple(CONTROLS),
                   feature_jobs: int = 2, feature_batch_sizes: dict[str, int] | None = None,
                   case_tracks: list[str] | None = None, n_case_tracks: int = 5,
                   progress: bool = False, log: Log | None = None, workers: Workers | None = None,
                   on_cell: Callable[[int, int], None] | None = None) -> dict:
    """Run the paper's Tables II-IV (and the Fig. 3 case study) on a dataset; write the report.

    Args:
        dataset_or_workspace: a dataset folder (data contract), an NCF prefix (``P.train.rating``
            exists; its given split and negatives are used) or an existing workspace.
        out_dir: report folder: ``report.md``, ``report.html``, ``results.json``, PNGs; also the
            workspace (``out_dir/workspace``) unless ``workspace`` is given.
        tables: any of ``II``, ``III``, ``IV``, ``case`` (list or comma-separated string).
        seeds: training seeds; each (method, seed) is one resumable cell.
        preset: ``default`` (the project's choices), ``paper`` (the paper's literal settings) or
            ``quick`` (capped epochs).
        params: parameters for every model (e.g. ``{"epochs": 1}``), over the preset.
        model_params: per registered model name, over ``params``.
        methods: keep only rows whose label, name or model is listed (the MF reference always runs).
        tune: Optuna trials per method on the validation records (0: every method on its defaults).
        split_method, split_seed, n_negatives: how to split when the workspace has no split yet.
        case_tracks: track ids for the case study (default: the ``n_case_tracks`` most played).
        controls: which controls every content row runs beside it (``noise`` is what the verdict
            reads; without it a row is "not judged").
        workers: where cells and tuning trials run (processes or Dask); the numbers are the same.
        on_cell: told ``(finished, total)`` as each cell finishes (a progress display).
    Returns:
        Everything written to ``results.json`` (plus ``report`` paths).
    """
    log = log or (lambda msg: None)
    t_start = time.perf_counter()
    wanted = parse_tables(tables)
    if preset not in PRESETS:
        raise DataError(f"unknown preset '{preset}' (use {', '.join(PRESETS)})")
    kind, source, ws = resolve_source(Path(dataset_or_workspace), workspace, Path(out_dir))
    dataset, split, timings = prepare_workspace(kind, source, ws, split_method, split_seed, log, n_negatives)
    ctx = Context(ws, dataset, split, list(seeds), device, preset, dict(params or {}), dict(model_params or {}),
                  progress, log, workers=workers or Workers(), on_cell=on_cell or (lambda done, total: None))
    table_plan, unique = plan_rows(wanted, methods, tuple(controls))
    feature_reports = prepare_content(ctx, wanted, unique, feature_settings, feature_jobs, feature_batch_sizes,
                                      timings)
    tuning, cells = _tune_and_run_cells(ctx, unique, tune, timings)
    summaries = {label: summarise_entry(ctx, label, entry, cells[REFERENCE_LABEL]) for label, entry in cells.items()}
    tables_out = build_tables(ctx, table_plan, cells, summaries)
    case = _timed_case_study(ctx, Path(out_dir), case_tracks, n_case_tracks, timings) if "case" in wanted else None
    ceilings = add_ceilings(ctx, kind, source, tables_out, summaries, timings)
    timings["total"] = time.perf_counter() - t_start
    results = assemble_results(ctx, kind, source, wanted, methods, tables_out, case, feature_reports, timings,
                               cells, budget_of(ctx, tune, tuning), feature_settings)
    results["ceilings"] = ceilings
    from amae.experiments.report import write_report

    results["report"] = {k: str(v) for k, v in write_report(results, Path(out_dir)).items()}
    return results


def _timed_case_study(ctx: Context, out_dir: Path, tracks: list[str] | None, n_tracks: int,
                      timings: dict) -> dict | None:
    t0 = time.perf_counter()
    case = run_case_study(ctx, out_dir, tracks, n_tracks)
    timings["case study"] = time.perf_counter() - t0
    return case


def assemble_results(ctx: Context, kind: str, source: Path, wanted: list[str], methods: list[str] | None,
                     tables_out: dict, case: dict | None, feature_reports: dict, timings: dict, cells: dict,
                     budget: dict, feature_settings: dict | None) -> dict[str, Any]:
    from amae.experiments.coverage import context_coverage

    return {
        "dataset": {"source": str(source), "kind": kind, "workspace": str(ctx.ws),
                    "stats": table_one(ctx.dataset, ctx.split, feature_reports, ctx.usable),
                    "coverage": context_coverage(ctx.dataset, ctx.split, ctx.ws),
                    "usable_posts": ctx.usable or {}},
        "protocols": PROTOCOLS,
        "config": {"tables": wanted, "seeds": list(ctx.seeds), "device": ctx.device,
                   "device_used": device_used(ctx.device), "workers": ctx.workers.describe(), "preset": ctx.preset,
                   "preset_params": PRESETS[ctx.preset], "params": ctx.params, "model_params": ctx.model_params,
                   "methods": methods, "split": ctx.split.info,
                   "interval": "t, Welch-Satterthwaite (seed and case variance)",
                   "feature_settings": feature_settings or {}, "verdict_metric": list(VERDICT_METRIC),
                   "all_pairs_metric": list(ALL_PAIRS_METRIC),
                   "python": platform.python_version(), "machine": platform.machine()},
        "provenance": provenance_of(ctx.ws),
        "budget": budget, "tables": tables_out, "reference": REFERENCE_LABEL, "case_study": case,
        "features": feature_reports, "timings": timings,
        "failures": [f"{label} seed {seed}: {err}" for label, e in cells.items() for seed, err in e["errors"].items()],
        "trained_cells": sum(len(e["runs"]) - len(e["reused"]) for e in cells.values()),
        "reused_cells": sum(len(e["reused"]) for e in cells.values()),
    }


def device_used(device: str) -> str:
    """The device the cells ran on (``auto`` resolved), with the accelerator's name where there is one."""
    import torch

    from amae.training.trainer import resolve_device

    used = resolve_device(device)
    return f"{used} ({torch.cuda.get_device_name(used)})" if used.type == "cuda" else str(used)


def provenance_of(ws: Path) -> dict[str, Any]:
    """The fingerprints every number of the report rests on (each cell's own are in its manifest)."""
    from amae import __version__
    from amae.data.provenance import upstream
    from amae.protocol.split import split_digest

    return {"amae": __version__, "data": upstream(ws / "data"), "split": split_digest(ws / "split"),
            **{f"features/{m}": upstream(ws / "features" / m) for m in MODALITIES}}


def table_one(dataset: Dataset, split: Split, feature_reports: dict[str, dict],
              usable: dict[str, int] | None = None) -> dict[str, Any]:
    """Table I: the dataset's size, sparsity, content and what feature extraction skipped.

    A modality whose posts carry no data is listed as left out, not with its (all-zero) groups.
    """
    st = dataset.stats
    n_u, n_i, n_r = dataset.n_users, dataset.n_items, len(dataset.interactions)
    out: dict[str, Any] = {
        "users": n_u, "tracks": n_i, "interactions": n_r,
        "density": n_r / max(n_u * n_i, 1),
        "interactions per user": n_r / max(n_u, 1),
        "posts": int(st.get("n_posts", 0) or (len(dataset.posts) if dataset.posts is not None else 0)),
        "media files": int(st.get("n_media", 0)),
        "fit records": int(len(split.fit_rows)), "validation records": int(len(split.valid_rows)),
        "test cases": int(len(split.test)), "test cases, new pairs": int(split.test.new_pair.sum()),
        "split": str(split.info.get("method", st.get("format", "?"))),
        "duplicates dropped": int(st.get("duplicates_dropped", 0)),
    }
    if dataset.posts is not None and len(dataset.posts):
        posts = dataset.posts
        out["posts with media"] = int((posts["media"].map(len) > 0).sum())
        out["users with posts"] = int(posts["user_idx"].nunique())
        out["posts per user"] = len(posts) / max(n_u, 1)
    for m, rep in feature_reports.items():
        if "error" in rep:
            out[f"{m} features"] = f"failed: {rep['error']}"
            continue
        if usable is not None and usable.get(m, 1) == 0:
            from amae.features.modalities import POST_MODALITIES

            out[f"{m} feature groups"] = f"none: {POST_MODALITIES[m].absent_reason}, so {m} is left out of every model"
        else:
            out[f"{m} feature groups"] = ", ".join(f"{g} ({d})" for g, d in rep.get("groups", {}).items())
        out[f"{m}: skipped media"] = int(rep.get("failures", 0))
        if rep.get("failures_by_reason"):
            out[f"{m}: skipped media by reason"] = ", ".join(f"{k}: {v}" for k, v in rep["failures_by_reason"].items())
    return out
