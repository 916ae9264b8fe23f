"""``amae experiment``: ingest, split, features, Tables II-IV over seeds, controls, the case study, the report.

Every stage reuses what an earlier run left in the workspace (ingested data, split, feature
shards, tuned parameters, finished (method, seed) cells), so an interrupted experiment resumes and
a second call trains nothing. A row that cannot run on this dataset (content methods without
posts, a modality without data, models not installed) is reported as "not applicable" with the
reason; a cell that fails is reported as "failed" with the error, and the rest goes on.

What makes the answer trustworthy (docs/design.md sections 7.6 and 8.2-8.3): every AMAE row runs
beside its noise and shuffled controls, differences come with intervals that include seed and
test-case variance, every cell records how its training ended, ``tune`` gives every method the
same Optuna budget on the validation records, and Table I says how many listens have any post in
their window at all.

This module runs the stages in order; the parts live beside it: :mod:`~amae.experiments.context`
(the settings, presets and rows), :mod:`~amae.experiments.running` (tuning and the cells on the
workers) and :mod:`~amae.experiments.summarising` (rows, controls, verdicts, ceilings, results).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from amae.data.contract import Dataset
from amae.data.io import DataError, read_json
from amae.data.provenance import changed_inputs
from amae.data.workspace import load_workspace
from amae.experiments.context import MODALITIES, PRESETS, Context, Log, plan_rows
from amae.experiments.parallel import Workers
from amae.experiments.plan import (
    CONTROLS,
    REFERENCE_LABEL,
    Row,
    parse_tables,
)
from amae.experiments.running import budget_of, tune_and_run_cells
from amae.experiments.summarising import add_ceilings, assemble_results, build_tables, summarise_entry
from amae.protocol.given import ingest
from amae.protocol.split import Split, split_workspace


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


def run_case_study(ctx: Context, out_dir: Path, case_tracks: list[str] | None, n_case_tracks: int) -> dict:
    if not ctx.dataset.has_content:
        return {"status": "not applicable", "reason": "the dataset has no posts"}
    try:
        from amae.experiments.case_study import case_study

        return {"status": "ok", **case_study(ctx.ws, ctx.dataset, ctx.split, out_dir, case_tracks, n_case_tracks)}
    except DataError as exc:
        return {"status": "failed", "reason": str(exc)}


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
        from amae.content.posts import usable_posts
        from amae.features.extract import available_groups

        ctx.groups, ctx.usable = available_groups(ws / "features"), usable_posts(ws)
    return feature_reports


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
    tuning, cells = tune_and_run_cells(ctx, unique, tune, timings)
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
