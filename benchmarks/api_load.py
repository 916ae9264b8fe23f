"""Bounded load test of ``amae serve`` on 127.0.0.1: requests/s, p50 and p99 per kind of request,
and what a hostile request within the documented limits does to the other clients' p99.

    python benchmarks/api_load.py [--requests 200] [--clients 4] [--out benchmarks/results/api_load.json]

Builds a small synthetic workspace (text and visual features, an MF+AMAE model), starts ``amae serve``
in a subprocess bound to 127.0.0.1, and sends, from client threads, a fixed number of requests of
each kind: no posts, 3 text posts, 3 posts with an image each. Then it measures the no-post requests
again while one more client keeps sending the heaviest media request the limits allow (20 images of
1 Mpx), and again while two more clients keep sending the heaviest text request (50 posts of 10,000
ASCII characters, 502 KB: 15-25 s of text work, past the 10 s time budget), and reports the ratio of
each p99 to the quiet one, and the hostile requests' own latencies (they must answer within the
budget). Every loop is bounded in count and in time.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

TIME_LIMIT_S = 300  # no phase runs longer than this, whatever the count
#: 0.5 s of text work per 10,000-character post on the development machine (VADER's negation check)
WORDS = "I feel sad and bad , but not happy ! love my good friends , hate the ugly rain".split()


def long_text(rng: np.random.Generator, chars: int = 10_000) -> str:
    """``chars`` ASCII characters of English words (sentiment words among them: the costly case for VADER)."""
    words = rng.choice(WORDS, size=chars // 2)
    return " ".join(words)[:chars]


def build_workspace(root: Path) -> tuple[Path, Path]:
    from amae.data.synthetic import WorldConfig, generate_world
    from amae.data.workspace import ingest, load_workspace
    from amae.experiments.runs import run_cell
    from amae.features.pipeline import extract_features
    from amae.protocol.split import split_workspace

    world = root / "world"
    generate_world(world, WorldConfig(n_users=60, n_days=20, image_share=0.2, n_videos=2))
    ws = root / "ws"
    ds = ingest(world, ws)
    split, _ = split_workspace(ws, ds, seed=0)
    for m in ("text", "visual"):
        extract_features(ws, m, {}, n_jobs=2, progress=False)
    run_cell(ws, load_workspace(ws), split, "mf+amae", 0, {"epochs": 3, "stage1_epochs": 2, "progress": False})
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(20):  # the heaviest request the limits allow: 20 images, 1 Mpx each
        Image.fromarray(rng.integers(0, 255, (1000, 1000, 3), dtype=np.uint8)).save(world / f"big{i}.jpg")
    return ws, world


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(ws: Path, media_root: Path, port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-c", "from amae.cli import app; app()", "serve", "--workspace", str(ws), "--model",
           "mf+amae", "--host", "127.0.0.1", "--port", str(port), "--media-root", str(media_root)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start within 120 s")


def bodies(user: str) -> dict[str, dict]:
    t = 1_704_067_200 + 15 * 86_400
    text = [{"timestamp": t - 3600 * (i + 1), "text": w} for i, w in enumerate(["so sad today", "happy joy",
                                                                              "angry at work"])]
    images = [{"timestamp": t - 3600 * (i + 1), "text": "look", "media": [f"media/{m}"]}
              for i, m in enumerate(["p000001.jpg", "p000003.jpg", "p000005.jpg"])]
    rng = np.random.default_rng(0)
    long_posts = [{"timestamp": t - 60 * (i + 1), "text": long_text(rng)} for i in range(50)]
    return {"no posts": {"user_id": user, "time": t}, "3 text posts": {"user_id": user, "time": t, "posts": text},
            "hostile: 50 x 10,000-char texts": {"user_id": user, "time": t, "posts": long_posts},
            "3 image posts": {"user_id": user, "time": t, "posts": images},
            "hostile: 20 x 1 Mpx images": {"user_id": user, "time": t,
                                           "posts": [{"timestamp": t - 60, "media": [f"big{i}.jpg"]}
                                                     for i in range(20)]}}


def load(url: str, body: dict, n: int, clients: int, stop: threading.Event | None = None) -> dict:
    """``n`` requests from ``clients`` threads (or until ``stop``/the time limit): latencies and statuses."""
    lat: list[float] = []
    status: dict[int, int] = {}
    lock = threading.Lock()
    counter = iter(range(n))
    t_end = time.monotonic() + TIME_LIMIT_S

    def worker() -> None:
        with httpx.Client(timeout=120) as client:
            while time.monotonic() < t_end and not (stop is not None and stop.is_set()):
                with lock:
                    if next(counter, None) is None:
                        return
                t0 = time.perf_counter()
                r = client.post(url, json=body)
                dt = time.perf_counter() - t0
                with lock:
                    lat.append(dt)
                    status[r.status_code] = status.get(r.status_code, 0) + 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - t0
    arr = np.asarray(lat) * 1000
    if not len(arr):
        return {"requests": 0, "status": status}
    return {"requests": len(lat), "requests_per_s": len(lat) / max(wall, 1e-9), "p50_ms": float(np.percentile(arr, 50)),
            "p99_ms": float(np.percentile(arr, 99)), "max_ms": float(arr.max()), "status": status}


def beside_hostile(url: str, plain: dict, hostile_body: dict, n_hostile: int, requests: int, clients: int,
                   quiet_p99_ms: float) -> dict:
    """The plain requests' figures while ``n_hostile`` clients keep a hostile request in flight, the ratio
    of their p99 to ``quiet_p99_ms``, and the hostile requests' own figures."""
    stop = threading.Event()
    hostile: dict = {}
    th = threading.Thread(target=lambda: hostile.update(load(url, hostile_body, 10_000, n_hostile, stop)))
    th.start()
    time.sleep(2.0)  # the hostile bodies are uploaded and being worked on
    under = load(url, plain, requests, clients)
    stop.set()
    th.join()
    return {"plain": under, "hostile": hostile, "p99_ratio": under["p99_ms"] / max(quiet_p99_ms, 1e-9)}


def report(name: str, r: dict) -> None:
    under, hostile = r["plain"], r["hostile"]
    print(f"  beside {name}: {under['requests_per_s']:.1f} req/s, p99 {under['p99_ms']:.1f} ms "
          f"({r['p99_ratio']:.2f}x the quiet p99); hostile requests: {hostile.get('requests')} at p50 "
          f"{hostile.get('p50_ms', 0):.0f} ms, max {hostile.get('max_ms', 0):.0f} ms, status {hostile.get('status')}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "api_load.json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ws, world = build_workspace(Path(tmp))
        port = free_port()
        server = start_server(ws, world, port)
        url = f"http://127.0.0.1:{port}/recommend"
        try:
            b = bodies("u0003")
            results = {}
            for kind in ("no posts", "3 text posts", "3 image posts"):
                results[kind] = load(url, b[kind], args.requests, args.clients)
                print(f"{kind:>16}: {results[kind]['requests_per_s']:.1f} req/s, p50 {results[kind]['p50_ms']:.1f} ms, "
                      f"p99 {results[kind]['p99_ms']:.1f} ms, status {results[kind]['status']}")
            quiet = results["no posts"]["p99_ms"]
            media = beside_hostile(url, b["no posts"], b["hostile: 20 x 1 Mpx images"], 1, args.requests,
                                   args.clients, quiet)
            report("a hostile media client", media)
            text = beside_hostile(url, b["no posts"], b["hostile: 50 x 10,000-char texts"], 2, args.requests,
                                  args.clients, quiet)
            report("two hostile text clients", text)
            results["no posts, beside a hostile client"] = media["plain"]
            results["hostile client"] = media["hostile"]
            results["p99_ratio_with_hostile"] = media["p99_ratio"]
            results["no posts, beside two hostile text clients"] = text["plain"]
            results["hostile text clients"] = text["hostile"]
            results["p99_ratio_with_hostile_text"] = text["p99_ratio"]
        finally:
            server.terminate()
            server.wait(10)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"clients": args.clients, "requests": args.requests, "cpus": os.cpu_count(),
                                    **results}, indent=2))
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
