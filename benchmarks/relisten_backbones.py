"""Re-listening: how the backbones rank tracks a user already played, beside memory alone (UserPop).

Writes a synthetic world where a share of listens re-play an earlier track (``--relisten``), runs
ItemPop, UserPop, the content models (MF+AMAE and DMF+AMAE with and without the term, MF_S,
PMF_S, UCFE), MF and DMF (defaults: the re-listening term ``repeat``, and DMF's pair hidden
in training and scoring; without the term; without it, hidden in training only or never; each
also early-stopped on the new-pair validation cases instead of all, ``stop_on``) over seeds, and
prints full NDCG@10 on all pairs and on new pairs and sampled HR@10, mean ± std over seeds.
DMF hides each training pair from its own towers; scored with the pair visible, a re-listen met a
configuration training only showed beside negatives. Cells run on ``-j`` workers (numbers do not depend on it).

    python benchmarks/relisten_backbones.py --out /tmp/relisten --relisten 0.7 --users 300 --seeds 3 -j 2

Writes ``benchmarks/results/relisten_backbones.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _common import write_results

from amae.compute.tasks import available_cores, run_tasks
from amae.data.synthetic import WorldConfig, generate_world
from amae.data.workspace import ingest
from amae.experiments.parallel import CellTask, run_cell_task
from amae.experiments.runner import ensure_features
from amae.experiments.summary import seed_summary
from amae.models import REGISTRY
from amae.protocol.split import split_workspace

#: label -> (model, params)
VARIANTS = {
    "itempop": ("itempop", {}),
    "userpop": ("userpop", {}),
    "mf": ("mf", {}),
    "mf, stopped on new pairs": ("mf", {"stop_on": "new_pairs"}),
    "mf, no repeat term": ("mf", {"repeat": False}),
    "mf, no repeat, new pairs": ("mf", {"repeat": False, "stop_on": "new_pairs"}),
    "dmf": ("dmf", {}),
    "dmf, stopped on new pairs": ("dmf", {"stop_on": "new_pairs"}),
    "dmf, no repeat term": ("dmf", {"repeat": False}),
    "dmf, no repeat, new pairs": ("dmf", {"repeat": False, "stop_on": "new_pairs"}),
    "dmf, no repeat, hidden in train": ("dmf", {"repeat": False, "score_hidden": False}),
    "dmf, no repeat, never hidden": ("dmf", {"repeat": False, "hide_target": False}),
    "mf+amae": ("mf+amae", {}),
    "mf+amae, no repeat term": ("mf+amae", {"repeat": False}),
    "dmf+amae": ("dmf+amae", {}),
    "dmf+amae, no repeat term": ("dmf+amae", {"repeat": False}),
    "mf_s": ("mf_s", {}),
    "pmf_s": ("pmf_s", {}),
    "ucfe": ("ucfe", {}),
}
VIEWS = (("full", "NDCG@10"), ("full_new_pairs", "NDCG@10"), ("sampled", "HR@10"), ("sampled_new_pairs", "HR@10"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--relisten", type=float, default=0.7)
    ap.add_argument("--users", type=int, default=300)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("-j", "--jobs", type=int, default=available_cores())
    ap.add_argument("--only", action="append", choices=list(VARIANTS), help="run these rows only (repeatable)")
    args = ap.parse_args()
    world, ws = args.out / "world", args.out / "ws"
    if not (world / "_world.json").exists():
        generate_world(world, WorldConfig(n_users=args.users, relisten=args.relisten))
    split_workspace(ws, ingest(world, ws), seed=0)
    chosen = [label for label in VARIANTS if not args.only or label in args.only]
    if any(REGISTRY[VARIANTS[label][0]].needs_content for label in chosen):
        ensure_features(ws, {}, args.jobs, {"visual": 512}, print)
    tasks = [(label, CellTask(str(ws), model, s, {**params, "progress": False}, "cpu", label=label.replace(" ", "_")
                              .replace(",", "")))
             for label, (model, params) in VARIANTS.items() if label in chosen for s in range(args.seeds)]
    outcomes = run_tasks(run_cell_task, [(t,) for _, t in tasks], n_jobs=args.jobs)
    rows: dict[str, dict] = {}
    for (label, _), o in zip(tasks, outcomes, strict=True):
        if "error" in o:
            raise SystemExit(f"{label}: {o['error']}")
        rows.setdefault(label, []).append(o["metrics"])
    table = {label: seed_summary(cells) for label, cells in rows.items()}
    print(f"re-listen share {args.relisten}, {args.users} users, {args.seeds} seeds")
    print(f"{'model':30}" + "".join(f"{p + ' ' + m:>28}" for p, m in VIEWS))
    for label, s in table.items():
        print(f"{label:30}" + "".join(f"{s[p][m][0]:>20.4f} ± {s[p][m][1]:.4f}" for p, m in VIEWS))
    write_results("relisten_backbones", {"relisten": args.relisten, "users": args.users, "seeds": args.seeds,
                                         "rows": {label: {f"{p} {m}": s[p][m] for p, m in VIEWS}
                                                  for label, s in table.items()}})


if __name__ == "__main__":
    main()
