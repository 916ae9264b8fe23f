"""Render an experiment's results as ``report.md``, a self-contained ``report.html`` and ``results.json``.

The report is built once as a list of blocks (heading, paragraph, table, image, code) and
rendered to both formats, so the Markdown and HTML always say the same thing. Every number's
protocol is named in its column header; the paper's numbers are labelled as measured on a
different, private dataset. All files are written atomically (temp file, then rename).
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from amae.data.io import write_json, write_text
from amae.experiments.paper_numbers import PROVENANCE

Block = tuple[str, Any]
DASH = "–"


def _fmt(ms: list[float] | None, digits: int = 4) -> str:
    if not ms:
        return DASH
    mean, std = ms[0], ms[1]
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _ci(d: list[float] | None) -> str:
    if not d:
        return DASH
    mean, lo, hi = d[:3]
    mark = "*" if lo > 0 or hi < 0 else ""
    return f"{mean:+.4f} [{lo:+.4f}, {hi:+.4f}]{mark}"


def _metric(row: dict, proto: str, metric: str) -> list[float] | None:
    return row.get("metrics", {}).get(proto, {}).get(metric)


def _delta(row: dict, proto: str, metric: str, key: str = "vs_mf") -> list[float] | None:
    return row.get(key, {}).get(proto, {}).get(metric)


def _paper(row: dict, metric: str) -> str:
    p = row.get("paper")
    return DASH if not p or metric not in p else f"{p[metric]:.4f}"


def _status(row: dict, notes: list[str]) -> str:
    if row["status"] == "ok":
        extra = f" ({len(row['failed_seeds'])} seed(s) failed)" if row.get("failed_seeds") else ""
        return f"ok, {len(row['seeds'])} seed(s){extra}"
    notes.append(f"**{row['name']}**: {row['status']} - {row['reason']}")
    return f"{row['status']} [{len(notes)}]"


def _training(row: dict) -> str:
    """``best/run epochs`` per seed and the stop reasons, e.g. ``12/20, 9/17 converged×2``."""
    per_seed = row.get("training", {}).get("per_seed", {})
    if not per_seed:
        return DASH
    runs = ", ".join(f"{o['best_epoch']}/{o['epochs_run']}" for o in per_seed.values())
    reasons: dict[str, int] = {}
    for o in per_seed.values():
        reasons[o["stop_reason"]] = reasons.get(o["stop_reason"], 0) + 1
    return runs + " " + " ".join(f"{k}×{v}" for k, v in reasons.items())


DIFFS = [("ΔHR@10 vs MF, sampled", "vs_mf", "sampled", "HR@10"),
         ("ΔNDCG@10 vs MF, sampled", "vs_mf", "sampled", "NDCG@10"),
         ("ΔNDCG@10 vs MF, full", "vs_mf", "full", "NDCG@10"),
         ("ΔNDCG@10 vs noise control, sampled", "vs_noise", "sampled", "NDCG@10"),
         ("ΔNDCG@10 vs noise control, full", "vs_noise", "full", "NDCG@10"),
         ("ΔNDCG@10 vs shuffled control, full", "vs_shuffle", "full", "NDCG@10")]


def _interval_note(results: dict) -> str:
    seeds = results["config"]["seeds"]
    if len(seeds) > 1:
        return (f"Intervals: 95%, Student's t on the paired difference (a method's seed k beside the reference's "
                f"seed k, on the same test cases), with a standard error that adds the seed-to-seed variance of "
                f"the {len(seeds)} seeds' mean differences and the case-to-case variance of the test set "
                "(Welch-Satterthwaite degrees of freedom), so few seeds give honestly wide intervals. "
                "* marks intervals that exclude 0. *MDE* = minimum detectable effect: the true difference this "
                "design would call significant with 80% power at the 5% level.")
    return ("Intervals: 95%, Student's t over test cases. With a single seed they cover **test-case noise only**, "
            "not the variance of training; run with --seeds 3 or more for intervals that include it. "
            "* marks intervals that exclude 0.")


def _mde(row: dict, key: str, proto: str, metric: str) -> str:
    st = (row.get(key) or {}).get("stats", {}).get(proto, {}).get(metric)
    return DASH if not st else f"{st['mde']:.4f}"


def _captured(row: dict, view: str) -> str:
    c = (row.get("captured") or {}).get(view)
    if not c or c["share"] != c["share"]:
        return DASH
    return f"{c['share']:.0%} of {c['available']:+.4f} (over {row['captured'].get('over', 'mf').upper()})"


def _view(proto: str) -> str:
    return proto.replace("_new_pairs", ", new pairs").replace("full", "full ranking")


def verdict_blocks(table: dict, results: dict) -> list[Block]:
    """Each content row's verdict on the primary metric, its power, the all-pairs view and captured share."""
    proto, metric = results["config"].get("verdict_metric", ["full_new_pairs", "NDCG@10"])
    aproto, ametric = results["config"].get("all_pairs_metric", ["full", "NDCG@10"])
    rows = [r for r in table["rows"] if r["status"] == "ok" and r.get("controlled")]
    if not rows:
        return []
    ceilings = results.get("ceilings") is not None
    head = ["content row", f"Δ vs noise control, {metric} {_view(proto)} (primary)", "MDE", "Δ vs MF (primary)",
            f"Δ vs noise control, {ametric} {_view(aproto)}", "MDE (all pairs)", "verdict"]
    head += ["captured, new pairs", "captured, all pairs"] if ceilings else []
    body = [[r["name"], _ci(_delta(r, proto, metric, "vs_noise")), _mde(r, "vs_noise", proto, metric),
             _ci(_delta(r, proto, metric)), _ci(_delta(r, aproto, ametric, "vs_noise")),
             _mde(r, "vs_noise", aproto, ametric), r.get("verdict", DASH)]
            + ([_captured(r, "full_new_pairs"), _captured(r, "full")] if ceilings else []) for r in rows]
    text = (f"The primary metric, fixed before any run, is {metric} with {_view(proto)}: discovery, the tracks a "
            "user had never played, where posts can change what is recommended. A re-listen is ranked against "
            "unplayed tracks only, so on all pairs a model that remembers plays scores high whatever the posts "
            "say; that view stands beside it. A content gain is called only when the row beats its noise control "
            "and MF on the primary metric. A verdict's MDE (minimum detectable effect) is the smallest true gain "
            "over the noise control it would have seen with 80% power at the 5% level.")
    if ceilings:
        text += (" *Captured* = the row's gain over its own backbone (MF, or DMF when it ran) divided by the "
                 "content gain the posts make available (observable minus collaborative Bayes ceiling, above).")
    return [("h3", "Verdicts, with what each could have detected"), ("p", text), ("table", (head, body))]


def ceiling_blocks(results: dict) -> list[Block]:
    """The Bayes ceilings of a synthetic world: what ranking by the generator's truth scores."""
    c = results.get("ceilings")
    if not c:
        return []
    views = [("sampled", "HR@10"), ("sampled", "NDCG@10"), ("full", "NDCG@10"), ("full_new_pairs", "NDCG@10")]
    names = ("collaborative", "observable", "omniscient")
    rows = [[name] + [f"{c[name][p][m]:.4f}" for p, m in views] for name in names]
    return [("h2", "Bayes ceilings (synthetic world)"),
            ("p", "This dataset was written by `amae world`, which keeps the truth its listening was drawn from. "
                  "Ranking each test case's candidates by the true listening probability, under the same protocol "
                  "as every model: **collaborative** knows each user's taste and each track's popularity and "
                  "mood, not the day's mood; **observable** also knows the day's mood whenever a post with text "
                  f"or media lies in the {c['window_seconds'] // 3600} h before the listen (what a perfect reader "
                  "of the window's posts could know); **omniscient** knows every day's mood. All three rank a "
                  "played track first (the protocol's candidates are unplayed tracks plus the positive). "
                  "Observable minus collaborative is the content gain available to a content model."),
            ("table", (["ceiling"] + [f"{m} {p.replace('_', ' ')}" for p, m in views], rows))]


def relisten_blocks(table: dict, results: dict) -> list[Block]:
    """What UserPop (memory of plays, nothing else) says about the all-pairs figures of this data."""
    rows = {r["label"]: r for r in table["rows"] if r["status"] == "ok"}
    if "userpop" not in rows:
        return []
    split = results["config"].get("split") or {}
    n, new = split.get("n_test", 0), split.get("n_test_new_pairs", 0)
    share = f"{(n - new) / n:.0%} of the {n} test cases are re-listens" if n else "the share of re-listens is unknown"
    user = (_metric(rows["userpop"], "full", "NDCG@10") or [float("nan")])[0]
    above = [r["name"] for label, r in rows.items() if label != "userpop"
             and (_metric(r, "full", "NDCG@10") or [float("-inf")])[0] > user]
    beaten = (f"on all pairs (full NDCG@10 {user:.4f}) it is beaten by {', '.join(above)}" if above else
              f"on all pairs (full NDCG@10 {user:.4f}) no model beats it: these figures mostly measure re-listening, "
              "so read the new-pairs table for discovery")
    return [("p", f"**UserPop** ranks each user's own training tracks first, by play count, then the rest by "
                  f"popularity: memory of plays and nothing else. Both protocols rank a re-listen against tracks "
                  f"the user never played, so it puts every re-listen first; {share}. Here {beaten}.")]


def table_blocks(table: dict, results: dict, images: dict[str, Path], key: str) -> list[Block]:
    """Main table, differences (to MF and to the controls), controls, new pairs, forest plot, warnings."""
    notes: list[str] = []
    proto, metric = results["config"].get("verdict_metric", ["full_new_pairs", "NDCG@10"])
    head = ["method", "status", "HR@10 sampled", "NDCG@10 sampled", "HR@10 full", "NDCG@10 full", "MRR full",
            "best/run epochs, stop", "verdict", "paper HR@10†", "paper NDCG@10†"]
    rows = [[r["name"], _status(r, notes), _fmt(_metric(r, "sampled", "HR@10")),
             _fmt(_metric(r, "sampled", "NDCG@10")), _fmt(_metric(r, "full", "HR@10")),
             _fmt(_metric(r, "full", "NDCG@10")), _fmt(_metric(r, "full", "MRR")), _training(r),
             r.get("verdict", DASH), _paper(r, "HR@10"), _paper(r, "NDCG@10")] for r in table["rows"]]
    ok = [r for r in table["rows"] if r["status"] == "ok"]
    blocks: list[Block] = [
        ("h2", table["title"]),
        ("p", "Mean ± standard deviation over seeds. *sampled* = the positive ranked against its 99 fixed "
              "negatives; *full* = ranked against every track not in the user's training history. The verdict "
              f"of a content row is read on {metric} ({_view(proto)}): a content gain is called a gain only "
              "when the row beats its **noise control** (same model and schedule, post features replaced by "
              "seeded noise of the same per-dimension mean and std). † " + PROVENANCE + "."),
        ("table", (head, rows))]
    if notes:
        blocks.append(("list", [f"[{i}] {n}" for i, n in enumerate(notes, 1)]))
    blocks += relisten_blocks(table, results)
    if ok:
        blocks += [("h3", "Differences, with 95% intervals"), ("p", _interval_note(results)),
                   ("table", (["method"] + [d[0] for d in DIFFS],
                              [[r["name"]] + [_ci(_delta(r, p, m, k)) for _, k, p, m in DIFFS] for r in ok]))]
    controls = [(r, name, c) for r in ok for name, c in (r.get("controls") or {}).items()]
    if controls:
        blocks += [("h3", "Controls (shuffled = each user's posts given to another user, times kept)"),
                   ("table", (["row", "control", "status", "HR@10 sampled", "NDCG@10 sampled", "NDCG@10 full",
                               "best/run epochs, stop"],
                              [[r["name"], name, c["status"] if c["status"] == "ok"
                                else f"{c['status']}: {c['reason']}",
                                _fmt(_metric(c, "sampled", "HR@10")), _fmt(_metric(c, "sampled", "NDCG@10")),
                                _fmt(_metric(c, "full", "NDCG@10")), _training(c)] for r, name, c in controls]))]
    blocks += verdict_blocks(table, results)
    if key in images:
        blocks.append(("img", (f"forest plot, table {key}", images[key])))
    rows2 = [[r["name"], _fmt(_metric(r, "sampled_new_pairs", "HR@10")),
              _fmt(_metric(r, "sampled_new_pairs", "NDCG@10")),
              _fmt(_metric(r, "full_new_pairs", "HR@10")), _fmt(_metric(r, "full_new_pairs", "NDCG@10")),
              _ci(_delta(r, "full_new_pairs", "NDCG@10"))] for r in ok]
    if rows2:
        blocks += [("h3", "Same methods, new (user, track) pairs only"),
                   ("table", (["method", "HR@10 sampled, new pairs", "NDCG@10 sampled, new pairs",
                               "HR@10 full, new pairs", "NDCG@10 full, new pairs", "ΔNDCG@10 vs MF full, new pairs"],
                              rows2))]
    warnings = [f"**{r['name']}** {w}" for r in ok for w in r.get("training", {}).get("warnings", [])]
    warnings += [f"**{r['name']}** [{name} control] {w}" for r, name, c in controls
                 for w in (c.get("training") or {}).get("warnings", [])]
    absent = {f"{m}: {why}" for r in ok for m, why in (r.get("absent_modalities") or {}).items()}
    if warnings or absent:
        blocks += [("h3", "Warnings"), ("list", [f"left out of every model: {a}" for a in sorted(absent)]
                                        + warnings)]
    return blocks


def budget_blocks(results: dict) -> list[Block]:
    budget = results.get("budget") or {}
    if not budget:
        return []
    if budget.get("tuned"):
        head = (f"Every method was tuned with the same budget: {budget['trials_per_method']} Optuna trials (TPE, "
                "seeded), each a full fit on the fit records scored by validation NDCG@10 (sampled) on the "
                "validation cases of new pairs, the view the verdict is read on (the objective column says when "
                "there were too few); the test cases were never read while tuning. Table III/IV variants and the "
                "controls use their model's tuned values; the values are reused across seeds. Search scheme: "
                f"{budget.get('scheme') or 'sequential'}.")
    else:
        head = ("**No tuning**: every method ran on its defaults (and the preset); no method was tuned, so none "
                "had more search than another. Use --tune N to give every method the same Optuna budget.")
    blocks: list[Block] = [("h2", "Budgets"), ("p", head)]
    tuning = budget.get("tuning") or {}
    if tuning:
        blocks.append(("table", (["model", "trials", "objective", "best value", "chosen values", "seconds"], [
            [m, str(t.get("n_trials", 0)), t.get("objective", DASH),
             DASH if t.get("best_valid_NDCG@10") is None else f"{t['best_valid_NDCG@10']:.4f}",
             _plain(t.get("params") or t.get("note") or t.get("error", DASH)), f"{t.get('seconds', 0):.0f}"]
            for m, t in tuning.items()])))
    sched = budget.get("schedule") or {}
    used = {r["model"] for t in results["tables"].values() for r in t["rows"]} | {"mf"}
    rows = [[m, _plain(sched[m])] for m in sorted(sched) if m in used]
    if rows:
        blocks += [("p", "Training schedule per model (epoch cap, minimum epochs before patience counts, patience "
                         "on validation NDCG@10; the best validation epoch is kept):"),
                   ("table", (["model", "schedule"], rows))]
    return blocks


def coverage_blocks(results: dict) -> list[Block]:
    cov = results["dataset"].get("coverage") or {}
    mods = cov.get("modalities") or {}
    if not mods:
        return []
    keys = list(next(iter(mods.values())).keys())
    keys = sorted({k for m in mods.values() for k in m}, key=lambda k: (keys.index(k) if k in keys else 99, k))
    blocks: list[Block] = [
        ("h3", f"Context coverage (window {cov.get('window_seconds', 0) // 3600} h before each listen)"),
        ("table", (["statistic"] + list(mods), [[k] + [_share(k, mods[m].get(k)) for m in mods] for k in keys]))]
    if cov.get("warnings"):
        blocks.append(("list", [f"**warning**: {w}" for w in cov["warnings"]]))
    return blocks


def _share(key: str, v: Any) -> str:
    if v is None:
        return DASH
    return f"{v:.1%}" if "listens" in key else _plain(v)


def _headline_blocks(results: dict) -> list[Block]:
    """The verdicts in one paragraph, first: what a reader who stops after one paragraph should know."""
    said = []
    for key in ("II", "III", "IV"):
        for r in (results["tables"].get(key) or {}).get("rows", []):
            if r.get("verdict") and r["name"] not in {n for n, _ in said}:
                said.append((r["name"], r["verdict"]))
    failures = results.get("failures") or []
    if not said and not failures:
        return []
    text = " ".join(f"**{name}**: {v}." for name, v in said) or "No content row was judged."
    if failures:
        text += f" {len(failures)} cell(s) failed (see the tables' notes)."
    return [("p", f"**Headline.** {text}")]


def _header_blocks(results: dict) -> list[Block]:
    """Title, what was run (dataset, seeds, device, preset, time, cells), the protocols and Table I."""
    cfg = results["config"]
    ds = results["dataset"]
    return [
        ("h1", "amae experiment report"),
        *_headline_blocks(results),
        ("p", f"Dataset: `{ds['source']}` ({ds['kind']}); workspace `{ds['workspace']}`. "
              f"Seeds: {len(cfg['seeds'])} ({', '.join(map(str, cfg['seeds']))}). "
              f"Device: {cfg.get('device_used', cfg['device'])} (asked for: {cfg['device']}). "
              f"Cells and trials ran on {cfg.get('workers', 'this process')}. "
              f"Training preset: {cfg['preset']}. Total time: {results['timings'].get('total', 0):.0f} s "
              f"({results['trained_cells']} cells trained, {results['reused_cells']} reused from earlier runs)."),
        ("p", "Protocols: " + "; ".join(f"**{k}** = {v}" for k, v in results["protocols"].items()) + "."),
        ("p", _interval_note(results)),
        ("h2", "Table I: dataset statistics"),
        ("table", (["statistic", "value"], [[k, _plain(v)] for k, v in ds["stats"].items()])),
    ]


def case_study_blocks(results: dict, images: dict[str, Path]) -> list[Block]:
    """The Fig. 3 section: why it was skipped, or how the means are taken, the figure and its numbers."""
    case = results.get("case_study")
    if case is None:
        return []
    blocks: list[Block] = [("h2", "Case study (cf. paper Fig. 3)")]
    if case.get("status") != "ok":
        blocks.append(("p", f"{case.get('status')}: {case.get('reason')}"))
        return blocks
    blocks.append(("p", f"Tracks: {case['selection']}. Global = mean of the listeners' global vectors (posts "
                        f"of the training period, one vote per listener); contextual = mean over listens of "
                        f"the posts in the {case['window_seconds'] // 3600} h before the listen (listens "
                        f"with an empty window left out). Visual features: posts with media only."))
    if "case" in images:
        blocks.append(("img", ("case study", images["case"])))
    head = ["feature", "all users (global)"] + [f"{t} global / contextual" for t in case["tracks"]]
    rows = [[f"{name} ({f['label']})", f"{f['population_global']:.4g}"]
            + [f"{x['global']:.4g} / {x['contextual']:.4g}" for x in f["tracks"]]
            for name, f in case["features"].items()]
    blocks.append(("table", (head, rows)))
    if case.get("missing"):
        blocks.append(("p", "Features not available (group not extracted or absent): " + ", ".join(case["missing"])))
    return blocks


def timing_blocks(results: dict) -> list[Block]:
    """Stage timings, then per method (first row of each label that ran) fit/evaluate time and seeds."""
    blocks: list[Block] = [("h2", "Timings"), ("table", (["stage", "seconds"],
                                                         [[k, f"{v:.1f}"] for k, v in results["timings"].items()]))]
    if any("worker-seconds" in k for k in results["timings"]):
        blocks.append(("p", "Stages are wall time; *worker-seconds* add up the time each cell or trial took in its "
                            "worker (fit and evaluation), so their ratio to the wall time is the parallelism reached."))
    trows = []
    for t in results["tables"].values():
        for r in t["rows"]:
            if r["status"] == "ok" and r["label"] not in {x[0] for x in trows}:
                trows.append([r["label"], f"{r['fit_seconds']:.1f}", f"{r['eval_seconds']:.1f}", f"{r['epochs']:.1f}",
                              ", ".join(map(str, r["seeds"])), ", ".join(map(str, r["reused_seeds"])) or DASH])
    if trows:
        blocks += [("h3", "Per method (mean over seeds; reused = finished in an earlier run)"),
                   ("table", (["label", "fit s", "evaluate s", "epochs", "seeds", "reused seeds"], trows))]
    return blocks


def _trailer_blocks(results: dict) -> list[Block]:
    """Feature extraction (skipped media), provenance fingerprints and the configuration, when present."""
    blocks: list[Block] = []
    feats = results.get("features") or {}
    if feats:
        blocks.append(("h2", "Feature extraction and skipped media"))
        blocks.append(("table", (["modality", "posts", "groups", "skipped media", "by reason", "seconds"], [
            [m, str(r.get("n_posts", DASH)), _plain(r.get("groups", r.get("error", DASH))),
             str(r.get("failures", DASH)),
             _plain(r.get("failures_by_reason") or DASH), f"{r.get('seconds', 0):.1f}"] for m, r in feats.items()])))
    prov = results.get("provenance") or {}
    if prov:
        blocks += [("h2", "Provenance"),
                   ("p", "Every cell was reused only when its manifest matched these inputs (and its model, "
                         "parameters and seed); each cell folder under `models/` holds its own `manifest.json`."),
                   ("table", (["input", "fingerprint"], [[k, str(v) if v else DASH] for k, v in prov.items()]))]
    blocks += [("h2", "Configuration"), ("code", json.dumps(results["config"], indent=2, default=str))]
    return blocks


def build_blocks(results: dict, images: dict[str, Path]) -> list[Block]:
    """The whole report as blocks, in reading order (rendered to Markdown and HTML alike)."""
    blocks = _header_blocks(results)
    blocks += coverage_blocks(results)
    blocks += budget_blocks(results)
    blocks += ceiling_blocks(results)
    for t in ("II", "III", "IV"):
        if t in results["tables"]:
            blocks += table_blocks(results["tables"][t], results, images, t)
    blocks += case_study_blocks(results, images)
    blocks += timing_blocks(results)
    blocks += _trailer_blocks(results)
    return blocks


def _plain(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {x}" for k, x in v.items()) or DASH
    return str(v)


def _md_cell(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for kind, c in blocks:
        if kind in ("h1", "h2", "h3"):
            out.append("#" * int(kind[1]) + " " + c)
        elif kind == "p":
            out.append(c)
        elif kind == "list":
            out.append("\n".join(f"- {x}" for x in c))
        elif kind == "table":
            head, rows = c
            out.append("\n".join(["| " + " | ".join(map(_md_cell, head)) + " |",
                                  "|" + "---|" * len(head)]
                                 + ["| " + " | ".join(map(_md_cell, r)) + " |" for r in rows]))
        elif kind == "img":
            alt, path = c
            out.append(f"![{alt}]({Path(path).name})")
        elif kind == "code":
            out.append("```json\n" + c + "\n```")
    return "\n\n".join(out) + "\n"


def _inline_md(s: str) -> str:
    """Escape, then the two inline marks the report uses: **bold** and `code`."""
    import re

    s = html.escape(s)
    s = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", s)
    s = re.sub(r"`(.+?)`", r"<code>\1</code>", s)
    return re.sub(r"(?<![\w*])\*(\w[^*]*?)\*(?![\w*])", r"<i>\1</i>", s)


CSS = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1400px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:13px}th,td{border:1px solid #ccc;padding:3px 7px}
th{background:#f3f3f3}td{text-align:right}td:first-child{text-align:left}tr:nth-child(even){background:#fafafa}
pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}img{max-width:100%}"""


def to_html(blocks: list[Block]) -> str:
    out = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>amae experiment report</title>",
           f"<style>{CSS}</style></head><body>"]
    for kind, c in blocks:
        if kind in ("h1", "h2", "h3"):
            out.append(f"<{kind}>{html.escape(c)}</{kind}>")
        elif kind == "p":
            out.append(f"<p>{_inline_md(c)}</p>")
        elif kind == "list":
            out.append("<ul>" + "".join(f"<li>{_inline_md(x)}</li>" for x in c) + "</ul>")
        elif kind == "table":
            head, rows = c
            out.append("<table><thead><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
                       + "</tr></thead><tbody>"
                       + "".join("<tr>" + "".join(f"<td>{html.escape(str(x))}</td>" for x in r) + "</tr>"
                                 for r in rows) + "</tbody></table>")
        elif kind == "img":
            alt, path = c
            data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
            out.append(f"<p><img alt='{html.escape(alt)}' src='data:image/png;base64,{data}'></p>")
        elif kind == "code":
            out.append(f"<pre>{html.escape(c)}</pre>")
    out.append("</body></html>")
    return "\n".join(out)


def write_report(results: dict, out_dir: Path) -> dict[str, Path]:
    """Write ``results.json``, ``report.md`` and ``report.html`` (atomically) into ``out_dir``."""
    out_dir = Path(out_dir)
    images: dict[str, Path] = {}
    case = results.get("case_study") or {}
    if case.get("figure") and Path(case["figure"]).exists():
        images["case"] = Path(case["figure"])
    from amae.experiments.forest import forest_plot

    proto, metric = results.get("config", {}).get("verdict_metric", ["full_new_pairs", "NDCG@10"])
    for key, table in results.get("tables", {}).items():
        png = forest_plot([r for r in table["rows"] if r["status"] == "ok"], out_dir / f"forest_{key}.png",
                          table["title"].split(":")[0], proto, metric)
        if png is not None:
            images[key] = png
    blocks = build_blocks(results, images)
    paths = {"results": out_dir / "results.json", "markdown": out_dir / "report.md", "html": out_dir / "report.html"}
    write_json(paths["results"], {k: v for k, v in results.items() if k != "report"})
    write_text(paths["markdown"], to_markdown(blocks))
    write_text(paths["html"], to_html(blocks))
    return paths
