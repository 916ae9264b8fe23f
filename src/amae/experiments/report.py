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
from amae.experiments.paper_numbers import NOT_TRANSCRIBED, PROVENANCE

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
    mean, lo, hi = d
    mark = "*" if lo > 0 or hi < 0 else ""
    return f"{mean:+.4f} [{lo:+.4f}, {hi:+.4f}]{mark}"


def _metric(row: dict, proto: str, metric: str) -> list[float] | None:
    return row.get("metrics", {}).get(proto, {}).get(metric)


def _delta(row: dict, proto: str, metric: str) -> list[float] | None:
    return row.get("vs_mf", {}).get(proto, {}).get(metric)


def _paper(row: dict, metric: str) -> str:
    p = row.get("paper")
    if p is None:
        return DASH
    if p == NOT_TRANSCRIBED:
        return "not transcribed"
    return f"{p[metric]:.4f}" if metric in p else DASH


def _status(row: dict, notes: list[str]) -> str:
    if row["status"] == "ok":
        extra = f" ({len(row['failed_seeds'])} seed(s) failed)" if row.get("failed_seeds") else ""
        return f"ok, {len(row['seeds'])} seed(s){extra}"
    notes.append(f"**{row['name']}**: {row['status']} - {row['reason']}")
    return f"{row['status']} [{len(notes)}]"


def table_blocks(table: dict) -> list[Block]:
    """The main table (sampled + full ranking, difference to MF, paper) and the new-pairs table."""
    notes: list[str] = []
    head = ["method", "status", "HR@10 sampled", "NDCG@10 sampled", "HR@10 full", "NDCG@10 full", "MRR full",
            "ΔHR@10 vs MF sampled [95% CI]", "ΔNDCG@10 vs MF sampled [95% CI]", "paper HR@10†", "paper NDCG@10†"]
    rows = []
    for r in table["rows"]:
        rows.append([r["name"], _status(r, notes),
                     _fmt(_metric(r, "sampled", "HR@10")), _fmt(_metric(r, "sampled", "NDCG@10")),
                     _fmt(_metric(r, "full", "HR@10")), _fmt(_metric(r, "full", "NDCG@10")),
                     _fmt(_metric(r, "full", "MRR")),
                     _ci(_delta(r, "sampled", "HR@10")), _ci(_delta(r, "sampled", "NDCG@10")),
                     _paper(r, "HR@10"), _paper(r, "NDCG@10")])
    head2 = ["method", "HR@10 sampled, new pairs", "NDCG@10 sampled, new pairs", "HR@10 full, new pairs",
             "NDCG@10 full, new pairs", "ΔHR@10 vs MF full [95% CI]", "ΔNDCG@10 vs MF full [95% CI]"]
    rows2 = [[r["name"], _fmt(_metric(r, "sampled_new_pairs", "HR@10")),
              _fmt(_metric(r, "sampled_new_pairs", "NDCG@10")), _fmt(_metric(r, "full_new_pairs", "HR@10")),
              _fmt(_metric(r, "full_new_pairs", "NDCG@10")), _ci(_delta(r, "full", "HR@10")),
              _ci(_delta(r, "full", "NDCG@10"))] for r in table["rows"] if r["status"] == "ok"]
    blocks: list[Block] = [("h2", table["title"]),
                           ("p", "Mean ± standard deviation over seeds. *sampled* = the positive ranked against "
                                 "its 99 fixed negatives; *full* = ranked against every track not in the user's "
                                 "training history. Δ = paired bootstrap (1000 resamples of test cases, same seed "
                                 "paired, pooled over seeds) of the difference to MF; * marks intervals that "
                                 "exclude 0. † " + PROVENANCE + "."),
                           ("table", (head, rows))]
    if notes:
        blocks.append(("list", [f"[{i}] {n}" for i, n in enumerate(notes, 1)]))
    if rows2:
        blocks += [("h3", "Same methods, new (user, track) pairs only; differences under full ranking"),
                   ("table", (head2, rows2))]
    return blocks


def build_blocks(results: dict, images: dict[str, Path]) -> list[Block]:
    cfg = results["config"]
    ds = results["dataset"]
    blocks: list[Block] = [
        ("h1", "amae experiment report"),
        ("p", f"Dataset: `{ds['source']}` ({ds['kind']}); workspace `{ds['workspace']}`. "
              f"Seeds: {', '.join(map(str, cfg['seeds']))}. Device: {cfg['device']}. "
              f"Training preset: {cfg['preset']}. Total time: {results['timings'].get('total', 0):.0f} s "
              f"({results['trained_cells']} cells trained, {results['reused_cells']} reused from earlier runs)."),
        ("p", "Protocols: " + "; ".join(f"**{k}** = {v}" for k, v in results["protocols"].items()) + "."),
        ("h2", "Table I: dataset statistics"),
        ("table", (["statistic", "value"], [[k, _plain(v)] for k, v in ds["stats"].items()])),
    ]
    for t in ("II", "III", "IV"):
        if t in results["tables"]:
            blocks += table_blocks(results["tables"][t])
    case = results.get("case_study")
    if case is not None:
        blocks.append(("h2", "Case study (cf. paper Fig. 3)"))
        if case.get("status") != "ok":
            blocks.append(("p", f"{case.get('status')}: {case.get('reason')}"))
        else:
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
                blocks.append(("p", "Features not available (group not extracted or absent): "
                                    + ", ".join(case["missing"])))
    blocks += [("h2", "Timings"), ("table", (["stage", "seconds"],
                                             [[k, f"{v:.1f}"] for k, v in results["timings"].items()]))]
    trows = []
    for t in results["tables"].values():
        for r in t["rows"]:
            if r["status"] == "ok" and r["label"] not in {x[0] for x in trows}:
                trows.append([r["label"], f"{r['fit_seconds']:.1f}", f"{r['eval_seconds']:.1f}", f"{r['epochs']:.1f}",
                              ", ".join(map(str, r["seeds"])), ", ".join(map(str, r["reused_seeds"])) or DASH])
    if trows:
        blocks += [("h3", "Per method (mean over seeds; reused = finished in an earlier run)"),
                   ("table", (["label", "fit s", "evaluate s", "epochs", "seeds", "reused seeds"], trows))]
    feats = results.get("features") or {}
    if feats:
        blocks.append(("h2", "Feature extraction and skipped media"))
        blocks.append(("table", (["modality", "posts", "groups", "skipped media", "by reason", "seconds"], [
            [m, str(r.get("n_posts", DASH)), _plain(r.get("groups", r.get("error", DASH))),
             str(r.get("failures", DASH)),
             _plain(r.get("failures_by_reason") or DASH), f"{r.get('seconds', 0):.1f}"] for m, r in feats.items()])))
    blocks += [("h2", "Configuration"), ("code", json.dumps(cfg, indent=2, default=str))]
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
    blocks = build_blocks(results, images)
    paths = {"results": out_dir / "results.json", "markdown": out_dir / "report.md", "html": out_dir / "report.html"}
    write_json(paths["results"], {k: v for k, v in results.items() if k != "report"})
    write_text(paths["markdown"], to_markdown(blocks))
    write_text(paths["html"], to_html(blocks))
    return paths
