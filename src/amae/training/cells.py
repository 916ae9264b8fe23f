"""Where trained models live in a workspace: one folder per (model label, parameters, seed) cell.

``WS/models/<label>-<params hash>-seed<k>``, sealed by a manifest once finished. Experiments
write cells (:mod:`amae.experiments.runs`) and serving reads them (:mod:`amae.serving.bundle`); the
naming and the lookup of the cell a command means live here, below both.
"""

from __future__ import annotations

import glob
import re
from pathlib import Path

from amae.data.io import DataError
from amae.data.provenance import read_manifest, short
from amae.models import REGISTRY
from amae.models.base import did_you_mean


def settings_of(params: dict) -> dict:
    """The parameters that shape a model's numbers (``progress`` only changes what is printed)."""
    return {k: v for k, v in params.items() if k != "progress"}


def params_key(params: dict) -> str:
    """A short hash of a cell's parameters: variants of one model live side by side."""
    return short(settings_of(params), 6)


def cell_dir(workspace: Path, label: str, seed: int, params: dict | None = None) -> Path:
    """``WS/models/<label>-<params hash>-seed<k>``: a cell is named by what it is."""
    return Path(workspace) / "models" / f"{label}-{params_key(params or {})}-seed{seed}"


_CELL = re.compile(r"^(?P<label>.+)-(?P<key>[0-9a-f]{6})-seed(?P<seed>\d+)$")


def find_cells(workspace: Path, label: str, seed: int | None = None) -> list[Path]:
    """Finished cells of ``label`` (any parameters; one seed or all), newest first."""
    folder = Path(workspace) / "models"
    found = []
    for d in folder.glob(f"{glob.escape(label)}-*-seed*") if folder.exists() else []:
        m = _CELL.match(d.name)
        if m and m["label"] == label and (seed is None or int(m["seed"]) == seed) and read_manifest(d) is not None:
            found.append(d)
    return sorted(found, key=lambda d: (d / "metrics.json").stat().st_mtime_ns if (d / "metrics.json").exists()
                  else 0, reverse=True)


def resolve_cell(workspace: Path, label: str, seed: int, params: dict | None = None) -> Path:
    """The one cell a command means: by full folder name, by label and params, or the only variant."""
    direct = Path(workspace) / "models" / label
    if read_manifest(direct) is not None:
        return direct
    if params is not None:
        d = cell_dir(workspace, label, seed, params)
        if read_manifest(d) is None:
            raise DataError(f"{d}: no trained model with these parameters (run 'amae train {workspace} "
                            f"--model {label} --seed {seed}' with these --param values)")
        return d
    cells = find_cells(workspace, label, seed)
    if not cells:
        if label in REGISTRY:
            raise DataError(f"{workspace}/models: no trained model '{label}' for seed {seed} "
                            f"(run 'amae train {workspace} --model {label} --seed {seed}')")
        folder = Path(workspace) / "models"
        trained = sorted({m["label"] for d in (folder.iterdir() if folder.exists() else [])
                          if (m := _CELL.match(d.name))})
        hint = did_you_mean(label, trained + list(REGISTRY))
        raise DataError(f"{workspace}/models: no trained model '{label}' ({hint}trained here: "
                        f"{', '.join(trained) or 'none'}; models: {', '.join(sorted(REGISTRY))})")
    if len(cells) > 1:
        raise DataError(f"{workspace}/models: {len(cells)} variants of '{label}' for seed {seed} "
                        f"({', '.join(c.name for c in cells)}); pick one with --param or by its full name")
    return cells[0]
