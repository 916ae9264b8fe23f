"""Forest plots: every row's difference to MF and to its noise control, with its interval.

One PNG per table, two panels side by side on the same metric (full-ranking NDCG@10 by default):
left, each row minus MF; right, each content row minus its own noise control. A reader sees at a
glance which intervals clear zero, and whether a gain over MF survives the control.
"""

from __future__ import annotations

from pathlib import Path

from amae.data.io import atomic_path

PANELS = (("vs_mf", "minus MF"), ("vs_noise", "minus its noise control"))


def forest_plot(rows: list[dict], out: Path, title: str, protocol: str = "full",
                metric: str = "NDCG@10") -> Path | None:
    """Write the plot for the rows that have any difference to show; None when none has."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [r for r in rows if any(r.get(key, {}).get(protocol, {}).get(metric) for key, _ in PANELS)]
    if not shown:
        return None
    height = 1.2 + 0.32 * len(shown)
    fig, axes = plt.subplots(1, 2, figsize=(11, height), sharey=True)
    ys = list(range(len(shown)))[::-1]
    for ax, (key, label) in zip(axes, PANELS, strict=True):
        for y, r in zip(ys, shown, strict=True):
            d = r.get(key, {}).get(protocol, {}).get(metric)
            if not d:
                continue
            mean, lo, hi = d[:3]
            colour = "#1a7f37" if lo > 0 else "#cf222e" if hi < 0 else "#57606a"
            ax.plot([lo, hi], [y, y], color=colour, lw=2)
            ax.plot([mean], [y], "o", color=colour, ms=5)
        ax.axvline(0.0, color="black", lw=0.8, ls="--")
        ax.set_title(f"{metric} ({protocol}) {label}", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(ys)
    axes[0].set_yticklabels([r["name"] for r in shown], fontsize=8)
    fig.suptitle(title + ": differences with 95% intervals (seeds and cases resampled)", fontsize=10)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return out
