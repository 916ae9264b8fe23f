"""A workspace folder holds every artefact of a run: the encoded data, splits, features, models.

Layout::

    W/data/      interactions.parquet posts.parquet items.parquet users.json items.json stats.json
    W/split/     fit_rows.npy ... test_cases.parquet test_negatives.npy split.json config.toml
    W/features/  per-modality feature arrays (amae features)
    W/content/   <digest>/ content stores of post vectors sorted by (user, time) (built on first use)
    W/models/    <label>-<params hash>-seed<k>/ weights.safetensors model.json metrics.json config.toml
    W/tuning/    <model>/ record.json (amae experiment --tune)

Every folder is sealed by a manifest (docs/design.md section 3); paths inside are relative to W,
so a copied or moved workspace works on its own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from amae.data.adapters.ncf import load_ncf
from amae.data.contract import MAX_MEDIA_PER_POST, Dataset, load_dataset
from amae.data.ids import IdMap
from amae.data.io import DataError, find_table, read_json, write_json, write_parquet
from amae.data.provenance import Manifest, check, file_digest, seal, unseal

#: bump when the encoded tables change meaning (forces a re-ingest of every workspace); 2: ids are
#: stripped of surrounding whitespace, and stats count stripped ids and dropped items rows
CONTRACT_VERSION = 2
NCF_SUFFIXES = (".train.rating", ".test.rating", ".test.negative")


def source_manifest(source: Path, fmt: str) -> Manifest:
    """The ingest stage's manifest: the content hash of every input table, the format, the source path."""
    source = Path(source)
    if fmt == "contract":
        files = [f for f in (find_table(source, n) for n in ("interactions", "posts", "items")) if f is not None]
    elif fmt == "ncf":
        files = [Path(f"{source}{s}") for s in NCF_SUFFIXES if Path(f"{source}{s}").exists()]
    else:
        raise DataError(f"unknown format '{fmt}' (use 'contract' or 'ncf')")
    return Manifest("ingest", {f.name: file_digest(f) for f in files},
                    {"format": fmt, "source": str(source.resolve())}, {"contract": CONTRACT_VERSION})


def save_dataset(dataset: Dataset, workspace: Path) -> Path:
    folder = Path(workspace) / "data"
    write_parquet(folder / "interactions.parquet", dataset.interactions)
    for name, frame in (("posts", dataset.posts), ("items", dataset.item_info)):
        if frame is not None:
            write_parquet(folder / f"{name}.parquet", frame)
        else:
            (folder / f"{name}.parquet").unlink(missing_ok=True)  # a table the new source lacks is gone
    dataset.users.save(folder / "users.json")
    dataset.items.save(folder / "items.json")
    write_json(folder / "stats.json", {**dataset.stats, "source": str(Path(dataset.root).resolve())})
    return folder


def ingest(source: Path, workspace: Path, fmt: str = "contract", *, force: bool = False,
           max_media_per_post: int | None = None) -> Dataset:
    """Validate and encode ``source`` into ``workspace``. ``fmt="ncf"`` reads NCF files by prefix
    (their given split is the protocol's: :func:`amae.protocol.given.ingest` writes it too).

    When the workspace already holds exactly this source (same table contents, format and path,
    see :func:`source_manifest`), nothing is redone; ``dataset.provenance`` says which happened and
    what changed. Everything downstream names this stage's manifest as its input.
    """
    if Path(workspace).exists() and not Path(workspace).is_dir():
        raise DataError(f"{workspace}: not a folder (a workspace is a folder, or a path that does not exist "
                        "yet)")
    manifest = source_manifest(source, fmt)
    if max_media_per_post is not None:
        manifest.config["max_media_per_post"] = int(max_media_per_post)
    folder = Path(workspace) / "data"
    reasons = check(folder, manifest)
    if not reasons and not force:
        dataset = load_workspace(workspace)
        dataset.provenance = {"reused": True, "changes": []}
        return dataset
    # validates first: a failed ingest leaves the workspace as it was
    dataset = _encode(source, workspace, manifest, max_media_per_post)
    seal(folder, manifest)
    dataset.provenance = {"reused": False, "changes": reasons}
    return dataset


def _encode(source: Path, workspace: Path, manifest: Manifest, max_media_per_post: int | None = None) -> Dataset:
    """Load and validate ``source``, then write it into ``workspace``."""
    fmt = manifest.config["format"]
    if fmt == "contract":
        dataset = load_dataset(Path(source), max_media_per_post=max_media_per_post or MAX_MEDIA_PER_POST)
    elif fmt == "ncf":
        ncf = load_ncf(source)
        users = IdMap(np.asarray([str(i) for i in range(ncf.n_users)], dtype=object))
        items = IdMap(np.asarray([str(i) for i in range(ncf.n_items)], dtype=object))
        dataset = Dataset(Path(str(source)).parent, ncf.interactions, users, items,
                          stats={"n_users": ncf.n_users, "n_items": ncf.n_items,
                                 "n_interactions": len(ncf.interactions), "n_posts": 0, "n_media": 0,
                                 "format": "ncf",
                                 "dropped_duplicate_negatives": ncf.dropped_duplicate_negatives})
    unseal(Path(workspace) / "data")
    save_dataset(dataset, workspace)
    return dataset


def load_workspace(workspace: Path) -> Dataset:
    """The encoded dataset saved by :func:`ingest` (no re-validation, ids kept)."""
    folder = Path(workspace) / "data"
    if not (folder / "interactions.parquet").exists():
        raise DataError(f"{workspace}: not a workspace (run 'amae ingest DATASET --workspace {workspace}' first)")
    stats = read_json(folder / "stats.json")
    posts = pd.read_parquet(folder / "posts.parquet") if (folder / "posts.parquet").exists() else None
    if posts is not None:
        posts["media"] = posts["media"].map(lambda m: [] if m is None else list(m))
    items = pd.read_parquet(folder / "items.parquet") if (folder / "items.parquet").exists() else None
    return Dataset(Path(stats.get("source", ".")), pd.read_parquet(folder / "interactions.parquet"),
                   IdMap.load(folder / "users.json"), IdMap.load(folder / "items.json"), posts, items, stats)
