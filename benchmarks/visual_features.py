"""Benchmark: per-post visual feature extraction throughput on a few cores (docs/design.md sections 4.3-4.4, issue #4).

Builds a temporary dataset from the real photos in ``../shared/data/faces`` (14 photos, 240x320 to
970x2204 px, JPEG and PNG) plus scikit-image samples, one image per post, and runs
``VisualBatchExtractor`` in a pool of worker processes, as the extraction engine does:

- handcrafted (colour, texture/lines, faces): ``--workers`` processes;
- deep (EfficientNet-Lite0 by default): ``--workers`` processes x 1 torch thread, and 1 process x
  ``--workers`` torch threads; the better layout is the headline figure.

Each worker is warmed up (model loaded, one batch run) before timing. Reported per mode: images/s
(wall clock), CPU seconds per image and the CPU-bound rate ``workers / (CPU s per image)`` (what the
cores would give if nothing else ran on the machine), worker peak RSS and the 1-minute load average
before the run (other jobs on a shared machine lower the wall-clock figure).
Results go to ``benchmarks/results/visual_features.json``.

    python benchmarks/visual_features.py                  # 2 workers, 96 images per mode
    python benchmarks/visual_features.py --images 32      # quick run
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import shared_data, write_results  # noqa: E402

_EXTRACTOR = None


def _init_worker(root: str, config: dict, warm: list[str]) -> None:
    """Build the extractor once per process and run one warm-up batch (model load, first-call costs)."""
    global _EXTRACTOR
    from amae.features.visual.config import VisualFeatureConfig
    from amae.features.visual.extractor import VisualBatchExtractor

    _EXTRACTOR = VisualBatchExtractor(Path(root), VisualFeatureConfig(**config))
    _EXTRACTOR(pd.DataFrame({"post_idx": range(len(warm)), "media": [[p] for p in warm]}))


def _run_batch(media: list[str]) -> tuple[int, float, int, float]:
    """Extract one batch; returns (images, CPU seconds of this process, failures, peak RSS MB)."""
    t = time.process_time()
    res = _EXTRACTOR(pd.DataFrame({"post_idx": range(len(media)), "media": [[p] for p in media]}))
    cpu = time.process_time() - t
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return len(media), cpu, len(res.failures), rss


def build_dataset(folder: Path) -> list[str]:
    """Copy the real photos (and a few scikit-image samples) into ``folder``; relative paths."""
    import skimage.data
    from PIL import Image

    src = shared_data() / "faces"
    rels = []
    for path in sorted(src.rglob("*")):
        if path.suffix.lower() in {".jpg", ".png"}:
            rel = path.relative_to(src).as_posix()
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, folder / rel)
            rels.append(rel)
    for name in ["rocket", "immunohistochemistry", "hubble_deep_field"]:
        Image.fromarray(getattr(skimage.data, name)()).save(folder / f"{name}.jpg", quality=90)
        rels.append(f"{name}.jpg")
    return rels


def run_mode(root: Path, rels: list[str], config: dict, workers: int, cores: int, n_images: int, batch: int) -> dict:
    media = [rels[i % len(rels)] for i in range(n_images)]
    batches = [media[i : i + batch] for i in range(0, len(media), batch)]
    load = os.getloadavg()[0]
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(workers, ctx, initializer=_init_worker, initargs=(str(root), config, rels[:2])) as pool:
        list(pool.map(abs, range(workers * 4)))  # make sure every worker has started (and warmed up)
        t = time.perf_counter()
        out = list(pool.map(_run_batch, batches))
        wall = time.perf_counter() - t
    images = sum(o[0] for o in out)
    cpu = sum(o[1] for o in out)
    return {
        "workers": workers,
        "torch_threads": config.get("torch_threads", 0),
        "images": images,
        "failures": sum(o[2] for o in out),
        "wall_s": round(wall, 2),
        "images_per_s": round(images / wall, 2),
        "cpu_s_per_image": round(cpu / images, 4),
        "cpu_bound_images_per_s": round(cores * images / cpu, 2) if cpu > 0 else None,
        "worker_peak_rss_mb": round(max(o[3] for o in out), 1),
        "loadavg_1min_before": round(load, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2, help="worker processes (cores)")
    ap.add_argument("--images", type=int, default=96, help="images per mode")
    ap.add_argument("--batch", type=int, default=16, help="posts per batch")
    ap.add_argument("--backbone", default="efficientnet-lite0")
    ap.add_argument("--cnn-batch", type=int, default=0, help="images per CNN forward (0: auto)")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rels = build_dataset(root)
        base = {"device": args.device, "backbone": args.backbone, "batch_size": args.cnn_batch}
        modes = {
            "handcrafted": (dict(base, deep=False), args.workers),
            "deep_procs": (dict(base, handcrafted=False, torch_threads=1), args.workers),
            "deep_threads": (dict(base, handcrafted=False, torch_threads=args.workers), 1),
        }
        results = {}
        for name, (cfg, workers) in modes.items():
            results[name] = run_mode(root, rels, cfg, workers, args.workers, args.images, args.batch)
            print(f"{name:13s} {results[name]}", flush=True)
    deep = max(("deep_procs", "deep_threads"), key=lambda k: results[k]["images_per_s"])
    payload = {
        "benchmark": "visual_features",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
        "args": vars(args),
        "targets_images_per_s": {"handcrafted": 20, "deep": 25},
        "headline": {
            "handcrafted_images_per_s": results["handcrafted"]["images_per_s"],
            "handcrafted_cpu_bound_images_per_s": results["handcrafted"]["cpu_bound_images_per_s"],
            "deep_images_per_s": results[deep]["images_per_s"],
            "deep_cpu_bound_images_per_s": results[deep]["cpu_bound_images_per_s"],
            "deep_layout": deep,
            "peak_rss_mb": max(r["worker_peak_rss_mb"] for r in results.values()),
        },
        "modes": results,
    }
    print(payload["headline"])
    write_results("visual_features", payload)


if __name__ == "__main__":
    main()
