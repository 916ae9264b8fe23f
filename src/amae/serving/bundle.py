"""A trained model with everything needed to answer requests in the user's own ids.

The bundle is assembled from a workspace (docs/design.md section 9.1): the saved model folder
(``models/<label>-<params hash>-seed<k>/``: weights, ``model.json`` with the fitted standardisers), the id maps
and item titles (``data/``), the training history to exclude already-played tracks (the split's
fit + validation rows, the same history full-ranking evaluation excludes), popularity counts for
the cold-start fallback, and, for AMAE models, a :class:`PostFeaturizer` bound to the workspace's
fitted text model so new posts are featurised exactly as in training.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from amae.data.contract import Dataset
from amae.data.io import DataError, read_json
from amae.data.ranges import build_csr
from amae.protocol.stored import history_pairs, load_split
from amae.serving.posts import PostFeaturizer
from amae.training.cells import check_fresh, resolve_cell, retrain_command


@dataclass
class ModelBundle:
    """A loaded model plus id maps, item info, history and popularity (read-only after loading)."""

    model: Any
    name: str
    label: str
    seed: int | None
    folder: Path
    workspace: Path
    dataset: Dataset
    history_offsets: np.ndarray  # (n_users + 1,) CSR offsets into history_items
    history_items: np.ndarray  # unique played items per user, sorted
    popularity: np.ndarray  # (n_items,) training play counts
    last_post_time: np.ndarray  # (n_users,) latest stored post per user, INT64_MIN if none
    featurizer: PostFeaturizer | None = None
    metrics: dict = field(default_factory=dict)

    @property
    def n_items(self) -> int:
        return self.dataset.n_items

    @property
    def is_content_model(self) -> bool:
        """True for models that read posts through a context encoder (the AMAE family)."""
        return getattr(self.model, "encoder", None) is not None and hasattr(self.model, "explain")

    def played(self, user: int) -> np.ndarray:
        return self.history_items[self.history_offsets[user]:self.history_offsets[user + 1]]

    @cached_property
    def item_table(self) -> pd.DataFrame:
        """item_idx-ordered frame with item_id, title, artist (empty strings where unknown); built once."""
        frame = pd.DataFrame({"item_id": self.dataset.items.ids.astype(str)})
        info = self.dataset.item_info
        for col in ("title", "artist"):
            frame[col] = ""
            if info is not None and col in info.columns:
                key = "item_idx" if "item_idx" in info.columns else None
                if key is not None:
                    values = pd.Series(info[col].astype("string").fillna("").to_numpy(),
                                       index=info[key].to_numpy(np.int64))
                    values = values[~values.index.duplicated()]
                    frame[col] = values.reindex(np.arange(len(frame))).fillna("").to_numpy()
        return frame

    def metadata(self) -> dict[str, Any]:
        """Model name, params, dataset stats, feature groups, saved metrics: what /metadata shows."""
        model = self.model
        source = getattr(model, "source", {}) or {}
        enc = getattr(model, "encoder", None)
        stats = {k: self.dataset.stats.get(k) for k in ("n_users", "n_items", "n_interactions", "n_posts",
                                                         "n_media") if k in self.dataset.stats}
        return {
            "model": self.name, "label": self.label, "seed": self.seed, "folder": str(self.folder),
            "params": {k: v for k, v in getattr(model, "params", {}).items() if k != "progress"},
            "dataset": stats,
            "content": self.is_content_model,
            "feature_groups": source.get("groups", {}),
            "absent_modalities": source.get("absent_modalities", {}),
            "control": source.get("control", "none"),
            "context_window_seconds": None if enc is None else int(enc.window),
            "metrics": {k: self.metrics[k] for k in ("sampled", "full") if k in self.metrics},
        }


def _history(dataset: Dataset, workspace: Path) -> tuple[np.ndarray, np.ndarray]:
    """(user, item) pairs of the training period; without a split, every interaction."""
    inter = dataset.interactions
    users = inter["user_idx"].to_numpy(np.int64)
    items = inter["item_idx"].to_numpy(np.int64)
    if (Path(workspace) / "split" / "split.json").exists():
        return history_pairs(dataset, load_split(workspace))
    return users, items


def resolve_model_dir(workspace: Path | None, model: str | None, seed: int, model_dir: Path | None,
                      params: dict | None = None) -> tuple[Path, Path]:
    """(workspace, model folder) from ``--workspace/--model/--seed [--param]`` or ``--model-dir``.

    ``--model`` is a model label (the one trained variant, or the one with ``params``) or a full
    cell folder name such as ``mf+amae-1a2b3c-seed0``.
    """
    if model_dir is not None:
        model_dir = Path(model_dir)
        if workspace is None:
            guess = model_dir.resolve().parents[1] if len(model_dir.resolve().parents) > 1 else model_dir
            if not (guess / "data" / "interactions.parquet").exists():
                raise DataError(f"{model_dir}: cannot find its workspace (pass --workspace)")
            workspace = guess
        return Path(workspace), model_dir
    if workspace is None or model is None:
        raise DataError("give --workspace and --model (and --seed), or --model-dir")
    return Path(workspace), resolve_cell(workspace, model, seed, params)


def load_bundle(workspace: Path | None = None, model: str | None = None, seed: int = 0,
                model_dir: Path | None = None, media_root: Path | None = None,
                params: dict | None = None) -> ModelBundle:
    """Load a trained model and its workspace context; every missing piece is a :class:`DataError`."""
    from amae.data.workspace import load_workspace
    from amae.models import REGISTRY

    workspace, folder = resolve_model_dir(workspace, model, seed, model_dir, params)
    meta_path = folder / "model.json"
    if not meta_path.exists():
        hint = f" (run 'amae train {workspace} --model {model} --seed {seed}')" if model else ""
        raise DataError(f"{folder}: no trained model{hint}")
    name = read_json(meta_path).get("name")
    if name not in REGISTRY:
        raise DataError(f"{meta_path}: unknown model name {name!r} (known: {', '.join(sorted(REGISTRY))})")
    check_fresh(workspace, folder)  # a model of other data would be read through the new id maps
    dataset = load_workspace(workspace)
    try:
        loaded = REGISTRY[name].load(folder)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - any unreadable artefact (a truncated file included) is one line
        raise DataError(f"{folder}: cannot load model '{name}' ({type(exc).__name__}: {exc}); train it again: "
                        f"{retrain_command(workspace, folder)}") from None
    users, items = _history(dataset, workspace)
    offsets, hist_items = build_csr(users, items, dataset.n_users)
    popularity = np.bincount(items, minlength=dataset.n_items).astype(np.float64)
    last_post = np.full(dataset.n_users, np.iinfo(np.int64).min, dtype=np.int64)
    if dataset.posts is not None and len(dataset.posts):
        np.maximum.at(last_post, dataset.posts["user_idx"].to_numpy(np.int64),
                      dataset.posts["timestamp"].to_numpy(np.int64))
    metrics = read_json(folder / "metrics.json") if (folder / "metrics.json").exists() else {}
    bundle = ModelBundle(loaded, name, metrics.get("label", folder.name), metrics.get("seed"), folder, workspace,
                         dataset, offsets, hist_items, popularity, last_post, metrics=metrics)
    encoder = getattr(loaded, "encoder", None)
    if encoder is not None:
        groups = (getattr(loaded, "source", {}) or {}).get("groups", {})
        bundle.featurizer = PostFeaturizer(workspace, groups, encoder.dims(),
                                           media_root=media_root)
    elif getattr(loaded, "needs_content", False) and hasattr(loaded, "explain"):
        raise DataError(f"{folder}: model '{name}' needs the posts of its workspace "
                        f"({(getattr(loaded, 'source', {}) or {}).get('workspace')}), which were not found")
    return bundle
