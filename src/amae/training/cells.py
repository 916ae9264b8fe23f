"""Where trained models live in a workspace: one folder per (model label, parameters, seed) cell.

``WS/models/<label>-<params hash>-seed<k>``, sealed by a manifest once finished. Experiments
write cells (:mod:`amae.experiments.runs`) and serving reads them (:mod:`amae.serving.bundle`); the
naming and the lookup of the cell a command means live here, below both.
"""

from __future__ import annotations

import glob
import json
import re
import shlex
from pathlib import Path

from amae.data.io import DataError, read_json
from amae.data.provenance import damaged, read_manifest, short, upstream
from amae.models import REGISTRY
from amae.models.base import did_you_mean
from amae.protocol.split import split_digest
from amae.protocol.stored import resplit_command


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


#: what a changed input of a cell means, in the words a user knows (the stage that changed it)
_INPUT_WORDS = {"data": "the data was ingested again", "split": "the split was drawn again"}


def current_input(workspace: Path, name: str) -> str | None:
    """The fingerprint an input of a cell has in the workspace now (``data``, ``split``, ``features/<m>``)."""
    ws = Path(workspace)
    return split_digest(ws / "split") if name == "split" else upstream(ws / name)


def stale_reasons(workspace: Path, folder: Path) -> list[str]:
    """Why a trained cell no longer describes the workspace's data (empty: it still does).

    A cell's manifest names the data, split and features it was trained on; when any of them has
    been made again since (a re-ingest, a redrawn split, re-extracted features), the model's id
    maps, history and metrics belong to inputs the workspace no longer holds. A file of the cell
    that differs from what was written (a truncated weights file) makes it unusable too.
    """
    saved = read_manifest(folder)
    if saved is None:
        return ["unfinished (no manifest)"]
    changed = [_INPUT_WORDS.get(name, f"the {name.split('/')[-1]} features were extracted again")
               for name, digest in saved.inputs.items() if current_input(workspace, name) != digest]
    return changed + damaged(folder, saved)


def retrain_command(workspace: Path, folder: Path) -> str:
    """The ``amae train`` command that makes the cell in ``folder`` again (its model, seed and params)."""
    metrics_path = Path(folder) / "metrics.json"
    cell = read_json(metrics_path) if metrics_path.exists() else {}
    m = _CELL.match(Path(folder).name)
    model = cell.get("model") or (m["label"] if m else Path(folder).name)
    seed = cell.get("seed", int(m["seed"]) if m else 0)
    params = "".join(f" -p {shlex.quote(f'{k}={json.dumps(v)}')}"
                     for k, v in settings_of(cell.get("params") or {}).items())
    return f"amae train {workspace} --model {model} --seed {seed}{params}"


def check_fresh(workspace: Path, folder: Path) -> None:
    """A :class:`DataError` naming what changed and the commands to run when a cell is stale."""
    reasons = stale_reasons(workspace, folder)
    if reasons:
        first = ""
        if "the data was ingested again" in reasons and "the split was drawn again" not in reasons:
            first = f"{resplit_command(workspace, read_manifest(Path(workspace) / 'split'))}, then "
        raise DataError(f"{folder}: cannot be used ({'; '.join(reasons)}); train it again: "
                        f"{first}{retrain_command(workspace, folder)}")
