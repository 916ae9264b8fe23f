"""``amae experiment``: ingest, split, features, Tables II-IV over seeds, the case study, the report.

Every stage reuses what an earlier run left in the workspace (ingested data, split, feature
shards, finished (method, seed) cells), so an interrupted experiment resumes and a second call
trains nothing. A row that cannot run on this dataset (content methods without posts, models
not installed) is reported as "not applicable" with the reason; a cell that fails is reported as
"failed" with the error, and the rest of the experiment goes on.
"""

from __future__ import annotations

import platform
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from amae.data.contract import Dataset
from amae.data.io import DataError, read_json, write_json
from amae.data.workspace import ingest, load_workspace
from amae.experiments.plan import REFERENCE_LABEL, TABLE_TITLES, Row, applicability, parse_tables, table_rows
from amae.experiments.runs import cell_dir, load_split, run_cell
from amae.experiments.summary import PROTOCOLS, bootstrap_vs_reference, seed_summary
from amae.protocol.split import Split, split_interactions

#: Training budgets. "paper" keeps every model's own defaults (DESIGN section 6); "quick" caps the
#: epochs so that all three tables with 3 seeds fit in minutes on a laptop (the demo world).
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "quick": {"epochs": 4, "patience": 2, "stage1_epochs": 2},
}
MODALITIES = ("text", "visual")


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
                      log: Callable[[str], None],
                      n_negatives: int = 99) -> tuple[Dataset, Split, dict[str, float]]:
    """Ingest (unless this workspace already holds this source) and split (unless split)."""
    timings: dict[str, float] = {}
    stamp_path = workspace / "experiment_source.json"
    stamp = {"source": str(Path(source).resolve()), "kind": kind}
    t0 = time.perf_counter()
    if kind != "workspace" and not (stamp_path.exists() and read_json(stamp_path) == stamp
                                    and (workspace / "data" / "interactions.parquet").exists()):
        log(f"ingest {source} -> {workspace}")
        ingest(source, workspace, "ncf" if kind == "ncf" else "contract")
        write_json(stamp_path, stamp)
    dataset = load_workspace(workspace)
    timings["ingest"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if not (workspace / "split" / "split.json").exists():
        log(f"split ({split_method}, seed {split_seed})")
        split_interactions(dataset.interactions, dataset.n_items, method=split_method, seed=split_seed,
                           n_negatives=n_negatives).save(workspace / "split")
    split = load_split(workspace)
    timings["split"] = time.perf_counter() - t0
    return dataset, split, timings


def ensure_features(workspace: Path, settings: dict[str, Any], n_jobs: int, batch_sizes: dict[str, int],
                    log: Callable[[str], None]) -> tuple[dict[str, dict], dict[str, float]]:
    """Extract text and visual features unless already there: modality -> report (or error)."""
    from amae.features.pipeline import extract_features

    reports: dict[str, dict] = {}
    timings: dict[str, float] = {}
    for m in MODALITIES:
        path = workspace / "features" / m / "report.json"
        t0 = time.perf_counter()
        if not path.exists():
            log(f"extract {m} features")
            try:
                extract_features(workspace, m, settings.get(m, {}), n_jobs=n_jobs, batch_size=batch_sizes.get(m),
                                 progress=False)
            except Exception as exc:  # noqa: BLE001 - one modality failing must not end the experiment
                reports[m] = {"error": f"{type(exc).__name__}: {exc}"}
                log(f"{m} features failed: {exc}")
                continue
        reports[m] = read_json(path)
        timings[f"features {m}"] = time.perf_counter() - t0
    return reports, timings


def _effective_params(row: Row, preset: dict, params: dict, model_params: dict[str, dict]) -> dict[str, Any]:
    return {**preset, **params, **model_params.get(row.model, {}), **row.params}


def _same_params(saved: dict, wanted: dict) -> bool:
    strip = {"progress"}
    return {k: v for k, v in saved.items() if k not in strip} == {k: v for k, v in wanted.items() if k not in strip}


def run_experiment(dataset_or_workspace: Path, out_dir: Path, tables: list[str] | str = ("II", "III", "IV", "case"),
                   seeds: list[int] = (0, 1, 2), device: str = "auto", *, workspace: Path | None = None,
                   preset: str = "paper", params: dict[str, Any] | None = None,
                   model_params: dict[str, dict[str, Any]] | None = None, methods: list[str] | None = None,
                   split_method: str = "temporal", split_seed: int = 0, n_negatives: int = 99,
                   feature_settings: dict | None = None,
                   feature_jobs: int = 2, feature_batch_sizes: dict[str, int] | None = None,
                   case_tracks: list[str] | None = None, n_case_tracks: int = 5, n_boot: int = 1000,
                   progress: bool = False, log: Callable[[str], None] | None = None) -> dict:
    """Run the paper's Tables II-IV (and the Fig. 3 case study) on a dataset; write the report.

    Args:
        dataset_or_workspace: a dataset folder (data contract), an NCF prefix (``P.train.rating``
            exists; its given split and negatives are used) or an existing workspace.
        out_dir: report folder: ``report.md``, ``report.html``, ``results.json``, PNGs; also the
            workspace (``out_dir/workspace``) unless ``workspace`` is given.
        tables: any of ``II``, ``III``, ``IV``, ``case`` (list or comma-separated string).
        seeds: training seeds; each (method, seed) is one resumable cell.
        device: ``auto``, ``cpu`` or ``cuda``.
        preset: training budget, ``paper`` (model defaults) or ``quick`` (capped epochs).
        params: parameters for every model (e.g. ``{"epochs": 1}``), over the preset.
        model_params: per registered model name, over ``params``.
        methods: keep only rows whose label or model is listed (the MF reference always runs).
        split_method, split_seed, n_negatives: how to split when the workspace has no split yet
            (an NCF prefix or an existing split is used as it is).
        case_tracks: track ids for the case study (default: the ``n_case_tracks`` most played).
    Returns:
        Everything written to ``results.json`` (plus ``report`` paths).
    """
    log = log or (lambda msg: None)
    t_start = time.perf_counter()
    wanted = parse_tables(tables)
    if preset not in PRESETS:
        raise DataError(f"unknown preset '{preset}' (use {', '.join(PRESETS)})")
    params, model_params = dict(params or {}), dict(model_params or {})
    out_dir = Path(out_dir)
    kind, source, ws = resolve_source(Path(dataset_or_workspace), workspace, out_dir)
    dataset, split, timings = prepare_workspace(kind, source, ws, split_method, split_seed, log, n_negatives)
    from amae.models import REGISTRY

    # -- which cells ----------------------------------------------------------------------------
    table_plan = {t: table_rows(t) for t in wanted if t != "case"}
    if methods:
        keep = set(methods)
        table_plan = {t: [r for r in rows if r.label in keep or r.model in keep] for t, rows in table_plan.items()}
    mf_row = table_rows("II")[1]
    content_needed = dataset.has_content and ("case" in wanted or any(
        getattr(REGISTRY.get(r.model), "needs_content", False) for rows in table_plan.values() for r in rows))
    feature_reports: dict[str, dict] = {}
    if content_needed:
        feature_reports, ftimes = ensure_features(ws, feature_settings or {}, feature_jobs,
                                                  feature_batch_sizes or {"visual": 512}, log)
        timings.update(ftimes)
    from amae.features.extract import available_groups

    groups = available_groups(ws / "features") if dataset.has_content else []
    unique: dict[str, Row] = {mf_row.label: mf_row}
    for rows in table_plan.values():
        for r in rows:
            unique.setdefault(r.label, r)

    # -- run cells ------------------------------------------------------------------------------
    cells: dict[str, dict[str, Any]] = {}
    t_cells = time.perf_counter()
    for label, row in unique.items():
        reason = applicability(row, REGISTRY, dataset.has_content, groups if dataset.has_content else None)
        eff = _effective_params(row, PRESETS[preset], params, model_params)
        entry: dict[str, Any] = {"status": "ok", "reason": None, "params": eff, "runs": {}, "reused": [],
                                 "errors": {}}
        if reason is not None:
            entry.update(status="not applicable", reason=reason)
            cells[label] = entry
            log(f"{label}: not applicable ({reason})")
            continue
        for seed in seeds:
            metrics_path = cell_dir(ws, label, seed) / "metrics.json"
            force = metrics_path.exists() and not _same_params(read_json(metrics_path).get("params", {}), eff)
            reused = metrics_path.exists() and not force
            t0 = time.perf_counter()
            try:
                m = run_cell(ws, dataset, split, row.model, seed, {**eff, "progress": progress}, device,
                             label=label, force=force)
            except Exception as exc:  # noqa: BLE001 - a failing cell is reported, the rest runs
                entry["errors"][seed] = f"{type(exc).__name__}: {exc}"
                log(f"{label} seed {seed}: FAILED {exc}\n{traceback.format_exc(limit=3)}")
                continue
            entry["runs"][seed] = m
            if reused:
                entry["reused"].append(seed)
            log(f"{label} seed {seed}: sampled HR@10 {m['sampled']['HR@10']:.4f} "
                f"({'reused' if reused else f'{time.perf_counter() - t0:.1f}s'})")
        if not entry["runs"]:
            entry.update(status="failed", reason="; ".join(f"seed {s}: {e}" for s, e in entry["errors"].items()))
        cells[label] = entry
    timings["cells"] = time.perf_counter() - t_cells

    # -- summarise ------------------------------------------------------------------------------
    ref_dirs = {s: cell_dir(ws, REFERENCE_LABEL, s) for s in cells[REFERENCE_LABEL]["runs"]}
    summaries: dict[str, dict] = {}
    for label, entry in cells.items():
        runs = [entry["runs"][s] for s in sorted(entry["runs"])]
        s: dict[str, Any] = {"status": entry["status"], "reason": entry["reason"], "seeds": sorted(entry["runs"]),
                             "failed_seeds": {str(k): v for k, v in entry["errors"].items()},
                             "reused_seeds": entry["reused"], "params": entry["params"]}
        if runs:
            s["metrics"] = seed_summary(runs)
            s["per_seed"] = {str(r["seed"]): {p: r[p] for p in PROTOCOLS if p in r} for r in runs}
            s["fit_seconds"] = float(np.mean([r["fit_seconds"] for r in runs]))
            s["eval_seconds"] = float(np.mean([r["eval_seconds"] for r in runs]))
            s["epochs"] = float(np.mean([r.get("epochs", 0) for r in runs]))
            if label != REFERENCE_LABEL and ref_dirs:
                dirs = {sd: cell_dir(ws, label, sd) for sd in entry["runs"]}
                s["vs_mf"] = bootstrap_vs_reference(dirs, ref_dirs, split.test.new_pair, n_boot=n_boot)
        summaries[label] = s
    from amae.experiments.paper_numbers import paper_value

    tables_out = {}
    for t, rows in table_plan.items():
        tables_out[t] = {"title": TABLE_TITLES[t], "rows": [
            {"name": r.name, "label": r.label, "model": r.model, "backbone": r.backbone,
             "row_params": r.params, "paper": paper_value(r.paper_key), **summaries[r.label]} for r in rows]}

    # -- case study -----------------------------------------------------------------------------
    case: dict[str, Any] | None = None
    if "case" in wanted:
        t0 = time.perf_counter()
        if not dataset.has_content:
            case = {"status": "not applicable", "reason": "the dataset has no posts"}
        else:
            try:
                from amae.experiments.case_study import case_study

                case = {"status": "ok", **case_study(ws, dataset, split, out_dir, case_tracks, n_case_tracks)}
            except DataError as exc:
                case = {"status": "failed", "reason": str(exc)}
        timings["case study"] = time.perf_counter() - t0

    timings["total"] = time.perf_counter() - t_start
    results = {
        "dataset": {"source": str(source), "kind": kind, "workspace": str(ws), "stats": table_one(dataset, split,
                                                                                                    feature_reports)},
        "protocols": PROTOCOLS,
        "config": {"tables": wanted, "seeds": list(seeds), "device": device, "preset": preset,
                   "preset_params": PRESETS[preset], "params": params, "model_params": model_params,
                   "methods": methods, "split": split.info, "n_boot": n_boot,
                   "feature_settings": feature_settings or {},
                   "python": platform.python_version(), "machine": platform.machine()},
        "tables": tables_out, "reference": REFERENCE_LABEL, "case_study": case,
        "features": feature_reports, "timings": timings,
        "trained_cells": sum(len(e["runs"]) - len(e["reused"]) for e in cells.values()),
        "reused_cells": sum(len(e["reused"]) for e in cells.values()),
    }
    from amae.experiments.report import write_report

    results["report"] = {k: str(v) for k, v in write_report(results, out_dir).items()}
    return results


def table_one(dataset: Dataset, split: Split, feature_reports: dict[str, dict]) -> dict[str, Any]:
    """Table I: the dataset's size, sparsity, content and what feature extraction skipped."""
    st = dataset.stats
    n_u, n_i, n_r = dataset.n_users, dataset.n_items, len(dataset.interactions)
    out: dict[str, Any] = {
        "users": n_u, "tracks": n_i, "interactions": n_r,
        "density": n_r / max(n_u * n_i, 1),
        "interactions per user": n_r / max(n_u, 1),
        "posts": int(st.get("n_posts", 0) or (len(dataset.posts) if dataset.posts is not None else 0)),
        "media files": int(st.get("n_media", 0)),
        "fit records": int(len(split.train_rows)), "validation records": int(len(split.valid_rows)),
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
        out[f"{m} feature groups"] = ", ".join(f"{g} ({d})" for g, d in rep.get("groups", {}).items())
        out[f"{m}: skipped media"] = int(rep.get("failures", 0))
        if rep.get("failures_by_reason"):
            out[f"{m}: skipped media by reason"] = ", ".join(f"{k}: {v}" for k, v in rep["failures_by_reason"].items())
    return out
