"""What every step of an experiment reads: the workspace, the settings, the presets, the rows to run.

Split out of :mod:`amae.experiments.runner` so planning, running and summarising each read one
small module; the :class:`Context` is built once per experiment and handed to all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amae.data.contract import Dataset
from amae.data.io import DataError
from amae.experiments.parallel import Workers
from amae.experiments.plan import (
    CONTROLS,
    REFERENCE_LABEL,
    Row,
    applicability,
    control_rows,
    table_rows,
)
from amae.features.modalities import POST_MODALITIES
from amae.models import REGISTRY
from amae.models.base import known_params
from amae.protocol.split import Split

#: Training presets. "default": every model's own defaults, i.e. the project's choices (code
#: dropout, identity codes...); "paper": the paper's literal settings where they differ (README
#: lists each [choice]); "quick": capped epochs so that all tables fit in minutes on the demo world.
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "paper": {"dim": 16, "init_std": 0.01, "batch_size": 512, "n_negatives": 3, "code_dropout": 0.0,
              "global_dropout": 0.0, "context_input": "raw", "literal_relu": True, "repeat": False,
              "track_content": "backbone"},
    "quick": {"epochs": 8, "patience": 3, "min_epochs": 4, "stage1_epochs": 3},
}


MODALITIES = tuple(POST_MODALITIES)


Log = Callable[[str], None]


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
