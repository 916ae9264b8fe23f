"""Calibrate `amae experiment`'s verdict: power on planted worlds, false positives on null worlds.

For each world (a shape from :data:`SHAPES`, a mood strength, a world seed) this writes the world
with `amae world`'s generator, runs `amae experiment` on it at the defaults (Table II rows MF and
the content rows asked for, with their noise controls; default preset and seeds), and records each
content row's verdict, its interval and MDE, and the share of the available gain it captured.
Then it prints, per backbone, shape and strength, the share of worlds called "content gain" with a
95% Wilson interval: on planted worlds that is the power, on null worlds (mood strength 0: the
posts carry the mood, listening ignores it) the false-positive rate. It writes
``OUT/calibration-<strengths, methods, shapes>.json``; finished worlds are reused, so an interrupted run resumes.

    python benchmarks/verdict_calibration.py --out /tmp/calib --planted 10 --null 10 -j 2
    python benchmarks/verdict_calibration.py --out /tmp/calib --planted 5 --null 0 --strength 1.0 \
        --shape default --shape more_users --method mf+amae --method dmf+amae

World seeds start at ``--first-seed`` (100 by default), away from the seeds 0-2 the verdict's
design was looked at on.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import replace
from pathlib import Path
from typing import Any

from scipy.stats import binomtest

from amae.data.synthetic import WorldConfig

#: world shapes, as changes to the demo world's configuration
SHAPES: dict[str, dict[str, Any]] = {
    "default": {},
    "more_users": {"n_users": 300},
    "fewer_posts": {"posts_per_day": 0.7},
    "image_heavy": {"image_share": 0.5},
}


def run_world(root: Path, name: str, config: WorldConfig, methods: list[str], seeds: int) -> dict[str, Any]:
    """Generate one world, run the experiment on it, return what each content row was told."""
    from amae.data.synthetic import generate_world
    from amae.experiments.runner import run_experiment

    tag = "" if methods == ["mf+amae"] else "--" + "_".join(sorted(methods))
    done = root / "results" / f"{name}{tag}.json"  # the experiment itself reuses the cells it shares
    if done.exists():
        return json.loads(done.read_text())
    world = root / "worlds" / name
    if not (world / "_world_truth.json").exists():
        generate_world(world, config)
    t0 = time.perf_counter()
    res = run_experiment(world, root / "reports" / name, "II", list(range(seeds)), "cpu",
                         methods=["mf", *methods], controls=("noise",), feature_jobs=1)
    rows = {r["label"]: r for r in res["tables"]["II"]["rows"] if r["label"] in methods}
    out = {"name": name, "mood_strength": config.mood_strength, "seed": config.seed,
           "seconds": time.perf_counter() - t0,
           "ceilings": {k: (res.get("ceilings") or {}).get(k, {}).get("full_new_pairs") for k in
                        ("collaborative", "observable", "omniscient")},
           "rows": {m: _row_result(r) for m, r in rows.items()}}
    done.parent.mkdir(parents=True, exist_ok=True)
    tmp = done.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=1, default=str))
    tmp.replace(done)
    return out


def _row_result(row: dict[str, Any]) -> dict[str, Any]:
    from amae.experiments.verdict import ALL_PAIRS_METRIC, VERDICT_METRIC

    def stat(key: str, view: tuple[str, str]) -> dict | None:
        return ((row.get(key) or {}).get("stats") or {}).get(view[0], {}).get(view[1])

    verdict = row.get("verdict", "")
    return {"verdict": verdict, "called": verdict.startswith("content gain"),
            "vs_noise": stat("vs_noise", VERDICT_METRIC), "vs_mf": stat("vs_mf", VERDICT_METRIC),
            "vs_noise_all_pairs": stat("vs_noise", ALL_PAIRS_METRIC), "captured": row.get("captured")}


def wilson(k: int, n: int) -> tuple[float, float]:
    if n == 0:
        return float("nan"), float("nan")
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def plan(args: argparse.Namespace) -> list[tuple[str, WorldConfig]]:
    """(name, config) of every world to run: planted at each strength and null, per shape."""
    worlds = []
    for shape in args.shape:
        base = replace(WorldConfig(), **SHAPES[shape])
        for strength, count in [(s, args.planted) for s in args.strength] + [(0.0, args.null)]:
            for k in range(count):
                seed = args.first_seed + k
                worlds.append((f"{shape}-s{strength:g}-w{seed}", replace(base, mood_strength=strength, seed=seed)))
    return worlds


def summarise(results: list[dict], methods: list[str]) -> list[dict[str, Any]]:
    """Per (method, shape, strength): worlds, called, share with its Wilson interval, mean MDE and capture."""
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        shape = r["name"].split("-s")[0]
        for m in methods:
            if m in r["rows"]:
                groups.setdefault((m, shape, r["mood_strength"]), []).append(r["rows"][m] | {"seconds": r["seconds"]})
    out = []
    for (m, shape, strength), rows in sorted(groups.items()):
        k = sum(bool(x["called"]) for x in rows)
        mdes = [x["vs_noise"]["mde"] for x in rows if x.get("vs_noise")]
        shares = [x["captured"]["full_new_pairs"]["share"] for x in rows
                  if (x.get("captured") or {}).get("full_new_pairs")]
        out.append({"method": m, "shape": shape, "mood_strength": strength, "worlds": len(rows), "called": k,
                    "share": k / len(rows), "wilson95": wilson(k, len(rows)),
                    "what": "power" if strength > 0 else "false-positive rate",
                    "mean_mde": sum(mdes) / len(mdes) if mdes else None,
                    "mean_captured_new_pairs": sum(shares) / len(shares) if shares else None,
                    "mean_world_seconds": sum(x["seconds"] for x in rows) / len(rows)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--planted", type=int, default=10, help="planted worlds per shape and strength")
    ap.add_argument("--null", type=int, default=10, help="null worlds per shape")
    ap.add_argument("--strength", type=float, action="append", help="planted mood strength(s) (default 2.5)")
    ap.add_argument("--shape", action="append", choices=sorted(SHAPES), help="world shape(s) (default: default)")
    ap.add_argument("--method", action="append", help="content rows (default mf+amae)")
    ap.add_argument("--seeds", type=int, default=3, help="training seeds (amae experiment's default)")
    ap.add_argument("--first-seed", type=int, default=100)
    ap.add_argument("-j", "--jobs", type=int, default=1, help="worlds run at once, one process each")
    args = ap.parse_args()
    args.strength, args.shape = args.strength or [2.5], args.shape or ["default"]
    methods = args.method or ["mf+amae"]
    worlds = plan(args)
    t0 = time.perf_counter()
    results = []
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=max(1, args.jobs), mp_context=ctx) as pool:
        futures = {pool.submit(run_world, args.out, name, cfg, methods, args.seeds): name for name, cfg in worlds}
        for fut in as_completed(futures):
            r = fut.result()
            results.append(r)
            calls = ", ".join(f"{m}: {x['verdict'][:60]}" for m, x in r["rows"].items())
            print(f"[{len(results)}/{len(worlds)}] {r['name']} ({r['seconds']:.0f}s) {calls}", flush=True)
    wall = time.perf_counter() - t0
    summary = summarise(results, methods)
    print(f"\n{'method':10} {'shape':12} {'strength':>8} {'worlds':>6} {'called':>6}  share [95% Wilson]  what")
    for s in summary:
        lo, hi = s["wilson95"]
        print(f"{s['method']:10} {s['shape']:12} {s['mood_strength']:8g} {s['worlds']:6d} {s['called']:6d}  "
              f"{s['share']:.2f} [{lo:.2f}, {hi:.2f}]  {s['what']}; mean MDE {s['mean_mde'] or float('nan'):.4f}, "
              f"captured (new pairs) {s['mean_captured_new_pairs'] or float('nan'):.0%}")
    print(f"wall time {wall:.0f} s for {len(worlds)} worlds ({args.jobs} at once)")
    args.out.mkdir(parents=True, exist_ok=True)
    tag = "_".join([*(f"s{x:g}" for x in args.strength), *sorted(methods), *args.shape])
    (args.out / f"calibration-{tag}.json").write_text(json.dumps(
        {"summary": summary, "worlds": sorted(results, key=lambda r: r["name"]), "wall_seconds": wall,
         "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}, indent=1, default=str))


if __name__ == "__main__":
    main()
