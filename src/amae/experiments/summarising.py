"""Summarising an experiment: rows per seed, differences with intervals, controls and verdicts,
the Bayes ceilings on synthetic worlds, Table I and what goes into ``results.json``.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from amae.data.contract import Dataset
from amae.experiments.context import MODALITIES, PRESETS, Context
from amae.experiments.plan import (
    BACKBONES,
    REFERENCE_LABEL,
    TABLE_TITLES,
    Row,
    control_rows,
)
from amae.experiments.summary import PROTOCOLS, differences_vs_reference, seed_summary
from amae.experiments.verdict import ALL_PAIRS_METRIC, VERDICT_METRIC, verdict
from amae.protocol.split import Split


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
        if (rep.get("summary") or {}).get("languages"):
            out[f"{m}: languages (posts, share with an affect hit)"] = language_mix(rep["summary"]["languages"])
        out[f"{m}: skipped media"] = int(rep.get("failures", 0))
        if rep.get("failures_by_reason"):
            out[f"{m}: skipped media by reason"] = ", ".join(f"{k}: {v}" for k, v in rep["failures_by_reason"].items())
    return out


def language_mix(languages: dict[str, dict], top: int = 8) -> str:
    """``"en 812 (0.91), id 120 (0.78), ..."``: the most common languages, their posts and affect share."""
    shown = list(languages.items())[:top]
    rest = sum(v["posts"] for _, v in list(languages.items())[top:])
    text = ", ".join(f"{code} {v['posts']} ({v['affect_share']:.2f})" for code, v in shown)
    return text + (f", {len(languages) - top} more ({rest} posts)" if rest else "")
