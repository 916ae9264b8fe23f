"""Rendering result rows as rich tables (terminal) and Markdown (reports)."""

from __future__ import annotations

from rich.table import Table

from amae.protocol.significance import mean_std

METRICS = (("sampled", "HR@10"), ("sampled", "NDCG@10"), ("full", "HR@10"), ("full", "NDCG@10"),
           ("full", "MRR"), ("sampled_new_pairs", "HR@10"), ("full_new_pairs", "NDCG@10"))


def summarise_cells(cells: list[dict]) -> dict[str, dict[str, tuple[float, float]]]:
    """label -> "protocol metric" -> (mean, std) over seeds."""
    by_label: dict[str, list[dict]] = {}
    for c in cells:
        by_label.setdefault(c["label"], []).append(c)
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for label, runs in by_label.items():
        out[label] = {}
        for proto, metric in METRICS:
            vals = [r[proto][metric] for r in runs if proto in r]
            if vals:
                out[label][f"{proto} {metric}"] = mean_std(vals)
        out[label]["seeds"] = (float(len(runs)), 0.0)
    return out


def rich_table(title: str, cells: list[dict]) -> Table:
    summary = summarise_cells(cells)
    cols = [f"{p} {m}" for p, m in METRICS if any(f"{p} {m}" in s for s in summary.values())]
    table = Table(title=title, min_width=100)
    table.add_column("method")
    for c in cols:
        table.add_column(c, justify="right")
    table.add_column("seeds", justify="right")
    for label, s in summary.items():
        n = int(s["seeds"][0])
        table.add_row(label, *[("-" if c not in s else f"{s[c][0]:.4f}" if n == 1 else f"{s[c][0]:.4f}±{s[c][1]:.4f}")
                               for c in cols], str(n))
    return table
