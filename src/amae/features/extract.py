"""The per-post extraction engine: batches, a process pool or Dask, shards, resume, atomic writes.

A modality supplies a picklable ``BatchExtractor`` (see ``amae.features.base``); this module does
everything else. Each batch becomes one shard file written atomically, so an interrupted run
resumes at the first missing shard. When all shards exist they are consolidated into one
float32 array per group (``<group>.npy``, memory-mappable, row = ``post_idx``), the feature names
and metadata (``<group>.json``), the flags (``flags.parquet``) and the skipped media
(``failures.parquet``), plus a ``report.json`` with counts and timings.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from amae.compute.tasks import run_tasks
from amae.data.io import atomic_path, read_json, write_json, write_npy, write_parquet
from amae.data.provenance import Manifest, changed_inputs, check, frame_digest, seal, unseal
from amae.features.base import POST_COLUMNS, BatchExtractor, BatchResult
from amae.features.modalities import POST_MODALITIES, all_group_files, modality_of_group


@dataclass
class ExtractionReport:
    modality: str
    n_posts: int
    n_shards: int
    shards_reused: int
    seconds: float
    posts_per_s: float
    failures: int
    failures_by_reason: dict[str, int]
    groups: dict[str, int]  # group -> dimension
    out_dir: str
    #: why this run recomputed (what changed since the outputs it replaced); empty when nothing had
    changes: list[str] = field(default_factory=list)
    #: what the extractor says of the whole set (text: posts and affect share per language)
    summary: dict = field(default_factory=dict)


def _shard_path(folder: Path, index: int) -> Path:
    return folder / "shards" / f"shard-{index:05d}.npz"


def _save_shard(path: Path, post_idx: np.ndarray, result: BatchResult) -> None:
    """One batch = one file (features, flags and skipped media together), written atomically."""
    arrays = {"post_idx": post_idx, "failures": np.asarray(json.dumps(result.failures))}
    arrays.update({f"block__{k}": np.asarray(v, dtype=np.float32) for k, v in result.blocks.items()})
    arrays.update({f"flag__{k}": np.asarray(v, dtype=bool) for k, v in result.flags.items()})
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def _load_shard(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray], list[dict]]:
    with np.load(path, allow_pickle=False) as z:
        post_idx = z["post_idx"]
        blocks = {k[len("block__"):]: z[k] for k in z.files if k.startswith("block__")}
        flags = {k[len("flag__"):]: z[k] for k in z.files if k.startswith("flag__")}
        failures = json.loads(str(z["failures"]))
    return post_idx, blocks, flags, failures


def _shard_ok(path: Path) -> bool:
    """A complete shard: a readable archive holding every part (a truncated file is redone)."""
    if not path.exists():
        return False
    try:
        with np.load(path, allow_pickle=False) as z:
            return "post_idx" in z.files and "failures" in z.files
    except Exception:  # noqa: BLE001 - any unreadable archive is simply recomputed
        return False


def _run_batch(extractor: BatchExtractor, batch: pd.DataFrame, path: str) -> str:
    """Worker side: compute one batch and write its shard (so results never travel back pickled)."""
    result = extractor(batch)
    _save_shard(Path(path), batch["post_idx"].to_numpy(np.int64), result)
    return path


def _batches(posts: pd.DataFrame, batch_size: int) -> Iterator[tuple[int, pd.DataFrame]]:
    for i, start in enumerate(range(0, len(posts), batch_size)):
        yield i, posts.iloc[start:start + batch_size]


#: bump when a shard's layout changes (old shards are then recomputed, never misread)
SHARD_FORMAT = 2


def extraction_manifest(posts: pd.DataFrame, modality: str, config: dict,
                        inputs: dict[str, str | None] | None = None) -> Manifest:
    """The features stage's manifest: the posts' content, upstream inputs, the settings, the versions.

    How the work was cut (posts per shard, workers) is not in it: it does not change a feature,
    so extracting with another batch size reuses the result. Only the shards of an unfinished run
    depend on it (:func:`shards_manifest`).
    """
    cols = [c for c in POST_COLUMNS if c in posts.columns]
    return Manifest(f"features/{modality}", {"posts": frame_digest(posts[cols]), **(inputs or {})},
                    dict(config), {"shard_format": SHARD_FORMAT})


def shards_manifest(manifest: Manifest, batch_size: int) -> Manifest:
    """What the shards of an unfinished run belong to: the result's manifest and the shard boundaries."""
    return Manifest(manifest.stage + "/shards", dict(manifest.inputs), {**manifest.config, "batch_size": batch_size},
                    dict(manifest.versions))


def run_extraction(posts: pd.DataFrame, out_dir: Path, extractor: BatchExtractor, *, modality: str,
                   batch_size: int = 256, n_jobs: int = 1, engine: str = "local",
                   dask_address: str | None = None, progress: bool = True,
                   config: dict | None = None, inputs: dict[str, str | None] | None = None) -> ExtractionReport:
    """Extract features for every post in ``posts`` (columns ``POST_COLUMNS``) into ``out_dir``.

    The outputs are reused when their manifest (the posts' content, ``inputs`` such as the split
    or the text model, ``config``, the batch size, the shard format) is unchanged. Otherwise shards
    made under the same manifest are kept (an interrupted run resumes), any other shard is stale
    and removed, an unreadable shard is redone, and the manifest is written after the outputs.
    """
    out_dir = Path(out_dir)
    missing = [c for c in POST_COLUMNS if c not in posts.columns]
    if missing:
        raise ValueError(f"posts frame lacks columns {missing}")
    posts = posts.sort_values("post_idx").reset_index(drop=True)
    if batch_size < 1:
        raise ValueError(f"batch_size must be 1 or more posts per shard, got {batch_size}")
    manifest = extraction_manifest(posts, modality, config or {}, inputs)
    n_shards = -(-len(posts) // batch_size)
    reasons = check(out_dir, manifest)
    saved = read_json(out_dir / "report.json") if not reasons and (out_dir / "report.json").exists() else None
    outputs = [f"{g}.npy" for g in (saved or {}).get("groups", {})] + ["flags.parquet", "failures.parquet"]
    if saved is not None and all((out_dir / f).exists() for f in outputs):
        saved.update(shards_reused=saved["n_shards"], seconds=0.0, posts_per_s=0.0, changes=[])
        return ExtractionReport(**saved)
    unseal(out_dir)
    shards = out_dir / "shards"
    if check(shards, shards_manifest(manifest, batch_size)):
        shutil.rmtree(shards, ignore_errors=True)
        seal(shards, shards_manifest(manifest, batch_size))  # the shards written from now on belong to it

    t0 = time.perf_counter()
    todo = [(i, b) for i, b in _batches(posts, batch_size) if not _shard_ok(_shard_path(out_dir, i))]
    bar = Progress(TextColumn(f"[bold]{modality} features[/]"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("shards"), TimeElapsedColumn(), disable=not progress, transient=True)
    with bar:
        task = bar.add_task("", total=n_shards, completed=n_shards - len(todo))
        run_tasks(_run_batch, [(extractor, b, str(_shard_path(out_dir, i))) for i, b in todo], n_jobs=n_jobs,
                  engine=engine, address=dask_address, on_result=lambda *_: bar.advance(task))
    report = _consolidate(out_dir, posts, n_shards, extractor, modality, len(todo), time.perf_counter() - t0)
    report.changes = changed_inputs(reasons)
    write_json(out_dir / "report.json", report.__dict__)
    seal(out_dir, manifest)
    return report


def _consolidate(out_dir: Path, posts: pd.DataFrame, n_shards: int, extractor: BatchExtractor, modality: str,
                 computed: int, seconds: float) -> ExtractionReport:
    n = len(posts)
    row_of = pd.Series(np.arange(n), index=posts["post_idx"].to_numpy())
    arrays: dict[str, np.ndarray] = {}
    flags: dict[str, np.ndarray] = {}
    failures: list[dict] = []
    for i in range(n_shards):
        post_idx, blocks, shard_flags, shard_failures = _load_shard(_shard_path(out_dir, i))
        rows = row_of.loc[post_idx].to_numpy()
        for g, block in blocks.items():
            if g not in arrays:
                arrays[g] = np.zeros((n, block.shape[1]), dtype=np.float32)
            arrays[g][rows] = block
        for f, v in shard_flags.items():
            flags.setdefault(f, np.zeros(n, dtype=bool))[rows] = v
        failures.extend(shard_failures)
    for g, arr in arrays.items():
        write_npy(out_dir / f"{g}.npy", arr)
        write_json(out_dir / f"{g}.json", {"names": extractor.feature_names.get(g, []),
                                            "metadata": extractor.metadata, "dim": int(arr.shape[1])})
    write_parquet(out_dir / "flags.parquet", pd.DataFrame({"post_idx": posts["post_idx"].to_numpy(), **flags}))
    fail_frame = pd.DataFrame(failures, columns=["post_idx", "path", "reason"]) if failures else \
        pd.DataFrame({"post_idx": pd.Series(dtype=np.int64), "path": pd.Series(dtype=str),
                      "reason": pd.Series(dtype=str)})
    write_parquet(out_dir / "failures.parquet", fail_frame)
    by_reason = fail_frame["reason"].astype(str).str.split(":").str[0].value_counts().to_dict()
    report = ExtractionReport(modality, n, n_shards, n_shards - computed, seconds, n / max(seconds, 1e-9),
                              len(failures), {str(k): int(v) for k, v in by_reason.items()},
                              {g: int(a.shape[1]) for g, a in arrays.items()}, str(out_dir))
    summarise = getattr(extractor, "summarise", None)
    report.summary = summarise(arrays) if summarise is not None else {}
    return report


def load_group(features_dir: Path, group: str, mmap: bool = True) -> tuple[np.ndarray, dict]:
    """A consolidated feature group: (n_posts, dim) float32 array (memory-mapped) and its metadata."""
    folder = Path(features_dir)
    for sub in POST_MODALITIES:
        path = folder / sub / f"{group}.npy"
        if path.exists():
            meta = read_json(path.with_suffix(".json"))
            return np.load(path, mmap_mode="r" if mmap else None), meta
    raise FileNotFoundError(f"{folder}: no features for group '{group}' (run 'amae features')")


def available_groups(features_dir: Path) -> list[str]:
    return [g for g in all_group_files() if (Path(features_dir) / modality_of_group(g) / f"{g}.npy").exists()]
