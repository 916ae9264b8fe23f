"""The ``amae`` command line: parse, call the library, print where outputs went.

Data problems exit with code 2 and one message naming the file, row and column; no traceback.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from amae.config import Settings, check_device, load_settings, parse_params, save_settings
from amae.data.io import DataError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="amae: music recommendation from social media content (Shen et al.'s AMAE).")
console = Console(stderr=True)
# Piped output would be cut to 80 columns; result tables need more.
out = Console() if sys.stdout.isatty() else Console(width=160)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML settings file")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto, cpu or cuda")]


def data_errors(fn: Any) -> Any:
    """Turn DataError into one line on stderr and exit code 2."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DataError as exc:
            console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except OSError as exc:  # a path the user gave that cannot be read or written
            where = exc.filename or ""
            console.print(f"[bold red]error:[/] {escape(str(where))}{': ' if where else ''}"
                          f"{escape(exc.strerror or str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            # Workers were stopped on the way out; finished units are kept, so the same command resumes.
            console.print(f"interrupted: {fn.__name__} stopped, its workers too; run the same command again to "
                          "resume from the finished parts", highlight=False, soft_wrap=True)
            raise typer.Exit(130) from None

    return wrapper


@app.command()
@data_errors
def ingest(dataset: Annotated[Path, typer.Argument(help="dataset folder, or NCF file prefix with --format ncf")],
           workspace: Annotated[Path, typer.Option("--workspace", "-w")] = Path("workspace"),
           fmt: Annotated[str, typer.Option("--format", help="contract or ncf")] = "contract",
           max_media_per_post: Annotated[int, typer.Option(help="media paths one post may list")] = 100) -> None:
    """Validate a dataset folder and encode it into a workspace."""
    from amae.data.contract import ingest_notes
    from amae.protocol.given import ingest as do_ingest

    if max_media_per_post < 0:
        raise DataError(f"--max-media-per-post must be 0 or more, got {max_media_per_post}")
    ds = do_ingest(dataset, workspace, fmt, max_media_per_post=max_media_per_post)
    s = ds.stats
    what = "reused (same tables, format and source):" if ds.provenance.get("reused") else "ingested"
    out.print(f"{what} {s['n_users']} users, {s['n_items']} items, {s['n_interactions']} interactions, "
              f"{s.get('n_posts', 0)} posts -> {workspace / 'data'}")
    _say_changes(ds.provenance.get("changes", []))
    if s.get("posts_text_undecodable"):
        out.print(f"  {s['posts_text_undecodable']} post(s) had undecodable bytes in their text: replaced by "
                  "U+FFFD and flagged (text_invalid_utf8)")
    for note in ingest_notes(s):  # warnings and what was stripped, merged or ignored, never silent
        out.print(f"  {note}", markup=False, highlight=False, soft_wrap=True)
    if fmt == "ncf":
        out.print(f"given split (NCF negatives) -> {workspace / 'split'}")


@app.command()
@data_errors
def split(workspace: Path, config: ConfigOpt = None,
          method: Annotated[str | None, typer.Option(help="temporal or random")] = None,
          seed: Annotated[int | None, typer.Option()] = None) -> None:
    """Split interactions 80/20 and draw the 99 fixed negatives per test case."""
    from amae.data.workspace import load_workspace
    from amae.protocol.split import split_workspace

    overrides = {k: v for k, v in {"method": method, "seed": seed}.items() if v is not None}
    settings = load_settings(config, {"split": overrides})
    ds = load_workspace(workspace)
    sp = settings.split
    result, reasons = split_workspace(workspace, ds, method=sp.method, test_fraction=sp.test_fraction,
                                      valid_fraction=sp.valid_fraction, seed=sp.seed, n_negatives=sp.n_negatives)
    save_settings(workspace / "split" / "config.toml", settings)
    i = result.info
    what = "reused (same data and settings)" if not reasons else "made"
    out.print(f"split ({i['method']}) {what}: {i['n_fit']} fit, {i['n_valid']} validation, {i['n_test']} test "
              f"cases ({i['n_test_new_pairs']} new pairs) -> {workspace / 'split'}")
    _say_changes(reasons)


def _say_changes(reasons: list[str]) -> None:
    """Why a stage recomputed, when it had an earlier result to compare with."""
    from amae.data.provenance import changed_inputs

    real = changed_inputs(reasons)
    if real:
        console.print(f"  recomputed because: {'; '.join(real)}", markup=False, highlight=False)


def _train_cells(workspace: Path, models: list[str], settings: Settings, device: str, workers: Any = None
                 ) -> list[dict]:
    """Every (model, seed) cell, ``workers.n_jobs`` at a time; each line as it finishes."""
    from amae.compute.tasks import run_tasks
    from amae.data.workspace import load_workspace
    from amae.experiments.parallel import CellTask, remember, run_cell_task
    from amae.experiments.runs import load_split, validate_params

    for name in models:  # every mistake is found before anything loads or trains
        validate_params(name, settings.train.models.get(name, {}))
    check_device(device)
    workers = workers or _workers(1, "local", None)
    remember(workspace, load_workspace(workspace), load_split(workspace))
    tasks = [CellTask(str(workspace), name, seed, {"progress": settings.train.progress and workers.n_jobs == 1,
                                                   **settings.train.models.get(name, {})}, device, settings=settings)
             for name in models for seed in settings.train.seeds]

    def report(i: int, outcome: dict) -> None:
        name, seed = tasks[i].model, tasks[i].seed
        if "error" in outcome:
            console.print(f"{name} seed {seed}: FAILED {outcome['error']}", markup=False, highlight=False)
            return
        cell = outcome["metrics"]
        how = "reused: data, split, features and params unchanged" if cell.get("reused") else \
            f"{outcome['seconds']:.1f}s"
        console.print(f"{name} seed {seed}: sampled HR@10 {cell['sampled']['HR@10']:.4f} "
                      f"NDCG@10 {cell['sampled']['NDCG@10']:.4f} ({how}) -> {workspace / 'models' / cell['cell']}",
                      markup=False, highlight=False)
        _say_changes(cell.get("changes", []))

    outcomes = run_tasks(run_cell_task, [(t,) for t in tasks], n_jobs=workers.n_jobs, engine=workers.engine,
                         address=workers.address, on_result=report)
    failed = [o for o in outcomes if "error" in o]
    if failed and len(failed) == len(tasks) and all(o.get("traceback") is None for o in failed):
        more = f" (and {len(failed) - 1} more failed cell(s))" if len(failed) > 1 else ""
        raise DataError(failed[0]["error"] + more)  # the data's problem: one line, exit 2
    if failed:
        console.print(f"{len(failed)} of {len(tasks)} cells failed", markup=False, highlight=False)
        raise typer.Exit(1)
    return [o["metrics"] for o in outcomes]


@app.command()
@data_errors
def train(workspace: Path,
          model: Annotated[list[str], typer.Option("--model", "-m", help="model name (repeatable)")],
          config: ConfigOpt = None,
          seed: Annotated[list[int] | None, typer.Option("--seed", help="seed (repeatable)")] = None,
          param: Annotated[list[str] | None, typer.Option("--param", "-p", help="key=value model parameter")] = None,
          device: DeviceOpt = "auto",
          jobs: Annotated[int, typer.Option("--jobs", "-j", help="cells (model x seed) trained at once, each in "
                                                               "its own process")] = 1,
          engine: Annotated[str, typer.Option(help="local (process pool) or dask")] = "local",
          dask_address: Annotated[str | None, typer.Option(help="dask scheduler address")] = None) -> None:
    """Fit models (and evaluate them on the test cases); outputs under WORKSPACE/models/."""
    overrides: dict[str, Any] = {"device": device}
    if seed:
        overrides["seeds"] = list(seed)
    params = parse_params(param)
    if params:
        overrides["models"] = {m: params for m in model}
    settings = load_settings(config, {"train": overrides})
    _train_cells(workspace, model, settings, settings.train.device, _workers(jobs, engine, dask_address))
    out.print(f"models -> {workspace / 'models'}")


@app.command()
@data_errors
def features(workspace: Path,
             modality: Annotated[list[str], typer.Option("--modality", help="text and/or visual (repeatable)")],
             config: ConfigOpt = None,
             jobs: Annotated[int, typer.Option("--jobs", "-j", help="worker processes")] = 2,
             batch_size: Annotated[int | None, typer.Option(help="posts per shard")] = None,
             engine: Annotated[str, typer.Option(help="local (process pool) or dask")] = "local",
             dask_address: Annotated[str | None, typer.Option(help="dask scheduler address")] = None) -> None:
    """Extract per-post features (resumable); outputs under WORKSPACE/features/<modality>/."""
    from amae.experiments.summarising import language_mix
    from amae.features.pipeline import extract_features

    settings = load_settings(config)
    for m in modality:
        report = extract_features(workspace, m, settings.features.get(m, {}), batch_size=batch_size, n_jobs=jobs,
                                  engine=engine, dask_address=dask_address)
        skipped = f"{report.failures} skipped media {report.failures_by_reason or ''}, " if m == "visual" else ""
        work = (f"all {report.n_shards} shards reused, nothing recomputed" if report.shards_reused == report.n_shards
                else f"{report.posts_per_s:.0f} posts/s, {report.shards_reused} of {report.n_shards} shards reused")
        out.print(f"{m} features: {report.n_posts} posts, groups {report.groups}, {skipped}{work} -> {report.out_dir}")
        if report.summary.get("languages"):
            out.print(f"  languages (posts, share with an affect hit): {language_mix(report.summary['languages'])}")
        _say_changes(report.changes)


@app.command()
@data_errors
def evaluate(workspace: Path,
             model: Annotated[list[str], typer.Option("--model", "-m", help="model label or full cell name "
                                                      "(repeatable)")],
             seed: Annotated[list[int] | None, typer.Option("--seed")] = None,
             param: Annotated[list[str] | None, typer.Option("--param", "-p", help="key=value: the variant "
                                                             "trained with these parameters")] = None) -> None:
    """Print the saved metrics of trained models (sampled and full ranking, new pairs only).

    Without --param every trained variant of a model is shown, each named by its parameter hash. A
    model trained on data, a split or features the workspace no longer holds is marked stale, with
    the command that trains it again.
    """
    from amae.data.io import read_json
    from amae.experiments.runs import find_cells, resolve_cell
    from amae.experiments.tables import rich_table
    from amae.training.cells import retrain_command, stale_reasons

    params = parse_params(param) if param else None
    cells, stale = [], []
    for name in model:
        for s in seed or [0]:
            if params is not None or (workspace / "models" / name / "metrics.json").exists():
                folders = [resolve_cell(workspace, name, s, params)]
            else:
                folders = find_cells(workspace, name, s) or [resolve_cell(workspace, name, s)]
            for folder in folders:
                cell = read_json(folder / "metrics.json")
                if len(folders) > 1:
                    cell["label"] = folder.name.rsplit("-seed", 1)[0]
                if reasons := stale_reasons(workspace, folder):
                    cell["label"] = f"{cell.get('label', folder.name)} (stale)"
                    stale.append(f"stale: {folder.name}: {'; '.join(reasons)}; train it again: "
                                 f"{retrain_command(workspace, folder)}")
                cells.append(cell)
    out.print(rich_table(f"results in {workspace}", cells))
    for line in stale:
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def _workers(jobs: int | None, engine: str, dask_address: str | None) -> Any:
    """``-j/--engine/--dask-address`` checked, as the runner's :class:`Workers` (default: every core)."""
    from amae.compute.tasks import available_cores, check_engine
    from amae.experiments.parallel import Workers

    n_jobs = available_cores() if jobs is None else jobs
    try:
        check_engine(n_jobs, engine)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    return Workers(n_jobs, engine, dask_address)


@contextmanager
def _cell_progress() -> Iterator[tuple[Any, Any]]:
    """One progress bar over all cells, with an ETA, under the log lines: yields (log, on_cell)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(TextColumn("[bold]cells[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=True)
    task = None

    def on_cell(done: int, total: int) -> None:
        nonlocal task
        if task is None:
            task = bar.add_task("", total=total)
        bar.update(task, completed=done, total=total)

    with bar:
        yield (lambda msg: bar.console.print(msg, markup=False, highlight=False)), on_cell


@app.command()
@data_errors
def experiment(dataset: Annotated[Path, typer.Argument(help="dataset folder, NCF prefix or workspace")],
               out_dir: Annotated[Path, typer.Option("--out", help="report folder")] = Path("amae-report"),
               tables: Annotated[str, typer.Option(help="comma-separated subset of II,III,IV,case")] = "II,III,IV,case",
               seeds: Annotated[int, typer.Option(help="number of seeds (0..N-1)")] = 3,
               preset: Annotated[str, typer.Option(help="default (the project's choices), paper (the paper's "
                                                   "literal settings) or quick (capped epochs)")] = "default",
               tune: Annotated[int, typer.Option(help="Optuna trials per method on the validation records "
                                                 "(0: every method on its defaults)")] = 0,
               param: Annotated[list[str] | None, typer.Option("--param", "-p", help="key=value, all models")] = None,
               method: Annotated[list[str] | None, typer.Option("--method", help="only these rows")] = None,
               track: Annotated[list[str] | None, typer.Option("--track", help="case-study track id")] = None,
               workspace: Annotated[Path | None, typer.Option("--workspace", "-w")] = None,
               jobs: Annotated[int | None, typer.Option(
                   "--jobs", "-j", help="worker processes for features, cells and tuning trials (default: every "
                                        "core)")] = None,
               engine: Annotated[str, typer.Option(help="local (process pool) or dask")] = "local",
               dask_address: Annotated[str | None, typer.Option(help="dask scheduler address (default: a "
                                                                "LocalCluster on 127.0.0.1)")] = None,
               control: Annotated[list[str] | None, typer.Option(
                   "--control", help="controls beside each content row (default: noise and shuffle; the verdict "
                                     "reads noise)")] = None,
               device: DeviceOpt = "auto") -> None:
    """The paper's Tables II-IV and the Fig. 3 case study as a report (resumable)."""
    from amae.experiments.runner import run_experiment

    if tune < 0:
        raise DataError(f"--tune must be 0 or more trials, got {tune}")
    workers = _workers(jobs, engine, dask_address)
    check_device(device)
    params = parse_params(param) or None
    _check_shared_params(params or {})
    with _cell_progress() as (log, on_cell):
        result = run_experiment(dataset, out_dir, tables, list(range(seeds)), device, workspace=workspace,
                                preset=preset, params=params, methods=method, case_tracks=track, tune=tune,
                                controls=tuple(control or ("noise", "shuffle")), feature_jobs=workers.n_jobs,
                                log=log, workers=workers, on_cell=on_cell)
    report = result.get("report", {})
    failures = result.get("failures", [])
    failed = f", {len(failures)} failed" if failures else ""
    out.print(f"trained {result.get('trained_cells', 0)} cells, reused {result.get('reused_cells', 0)}{failed}; "
              f"report -> {report.get('html', out_dir / 'report.html')}")
    if failures:  # the report is written, but a run with failed cells is not a success
        for line in failures:
            console.print(f"failed: {line}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)


@app.command()
@data_errors
def world(out_dir: Annotated[Path, typer.Argument(help="folder for the dataset (data contract)")],
          users: Annotated[int, typer.Option(help="synthetic users")] = 150,
          days: Annotated[int, typer.Option(help="days of posts and listening")] = 40,
          mood_strength: Annotated[float, typer.Option(help="how much the day's mood drives listening; 0 gives the "
                                                      "null world (posts carry mood, listening ignores it)")] = 2.5,
          like: Annotated[Path | None, typer.Option(
              "--like", help="a workspace whose shape to copy (users, tracks, span, listens, post coverage, media, "
                             "re-listens); --users and --days are then taken from it")] = None,
          effect: Annotated[float | None, typer.Option(
              help="with --like: the planted effect (mood strength; 0: a null world of that shape)")] = None,
          relisten: Annotated[float, typer.Option(help="chance a listen re-plays an earlier one")] = 0.0,
          posts_per_day: Annotated[float, typer.Option(help="posts a user writes a day, on average")] = 2.0,
          image_share: Annotated[float, typer.Option(help="share of posts that carry an image")] = 0.06,
          long_posts: Annotated[bool, typer.Option(
              "--long-posts", help="posts of realistic length: most a sentence, a long tail into hundreds of "
                                   "characters of everyday words around the same mood words")] = False,
          seed: Annotated[int, typer.Option(help="generator seed")] = 0) -> None:
    """Write the synthetic world (the demo's generator) as a dataset folder, with the truth it was drawn from."""
    from dataclasses import replace

    from amae.data.synthetic import WorldConfig, generate_world

    if effect is not None and like is None:
        raise DataError("--effect is the planted effect of a world made --like a workspace; without --like use "
                        "--mood-strength")
    strength = mood_strength if effect is None else effect
    if not strength >= 0:
        raise DataError(f"--mood-strength must be 0 or more, got {strength}")
    if not 0 <= relisten < 1:
        raise DataError(f"--relisten must be at least 0 and below 1, got {relisten}")
    if not posts_per_day > 0:
        raise DataError(f"--posts-per-day must be above 0, got {posts_per_day}")
    if not 0 <= image_share <= 1:
        raise DataError(f"--image-share must be between 0 and 1, got {image_share}")
    if like is not None:
        cfg = _like_config(like, strength, seed)
    else:
        if users < 2 or days < 2:
            raise DataError(f"--users and --days must be at least 2 (got {users} users, {days} days)")
        cfg = WorldConfig(n_users=users, n_days=days, mood_strength=strength, relisten=relisten, seed=seed,
                          posts_per_day=posts_per_day, image_share=image_share)
    summary = generate_world(out_dir, replace(cfg, realistic_text=long_posts))
    out.print(f"synthetic world (mood strength {strength}, seed {seed}): {summary['n_interactions']} "
              f"interactions, {summary['n_posts']} posts, {summary['n_media']} media -> {out_dir}")


def _like_config(workspace: Path, effect: float, seed: int) -> Any:
    """The world configuration shaped like ``workspace``, printed beside the shape it copies."""
    from amae.data.workspace import load_workspace
    from amae.data.world_like import describe, like_config, measure_shape

    shape = measure_shape(load_workspace(workspace))
    cfg = like_config(shape, effect, seed)
    def pairs(d: dict[str, Any]) -> str:
        return ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in d.items())

    out.print(f"shape of {workspace}: {pairs(shape)}")
    out.print(f"world: {pairs(describe(cfg))}")
    return cfg


def _check_shared_params(params: dict[str, Any]) -> None:
    """``experiment -p`` applies to every model: each key must be known to at least one of them."""
    from amae.models import REGISTRY
    from amae.models.base import check_params, did_you_mean, known_params

    everything = sorted({k for cls in REGISTRY.values() for k in known_params(cls)} - {"progress"})
    for key, value in params.items():
        if key not in everything:
            raise DataError(f"unknown parameter '{key}' ({did_you_mean(key, everything)}"
                            f"known: {', '.join(everything)})")
        for cls in REGISTRY.values():
            if key in known_params(cls):
                problems = check_params(cls, {key: value})
                if problems:
                    raise DataError(problems[0])


DEMO_MODELS = ["itempop", "mf", "dmf", "mf+amae", "dmf+amae"]


@app.command()
@data_errors
def demo(out_dir: Annotated[Path, typer.Option("--out", help="where the world and workspace go")] = Path("amae-demo"),
         seeds: Annotated[int, typer.Option(help="number of seeds")] = 1,
         device: DeviceOpt = "auto",
         users: Annotated[int, typer.Option(help="synthetic users")] = 150,
         jobs: Annotated[int | None, typer.Option("--jobs", "-j", help="worker processes for features and "
                                                  "cells (default: every core)")] = None) -> None:
    """The whole pipeline on the embedded synthetic world: features, aggregation, training, a table."""
    from amae.data.synthetic import WorldConfig, generate_world
    from amae.data.workspace import ingest as do_ingest
    from amae.experiments.tables import rich_table
    from amae.features.pipeline import extract_features
    from amae.protocol.split import split_workspace

    t0 = time.perf_counter()
    world, workspace = out_dir / "world", out_dir / "workspace"
    if not (world / "_world.json").exists():
        summary = generate_world(world, WorldConfig(n_users=users))
        console.print(f"synthetic world: {summary['n_interactions']} interactions, {summary['n_posts']} posts, "
                      f"{summary['n_media']} media -> {world}")
    workers = _workers(jobs, "local", None)
    ds = do_ingest(world, workspace)
    split_workspace(workspace, ds, seed=0)
    for modality in ("text", "visual"):
        report = extract_features(workspace, modality, n_jobs=workers.n_jobs)
        skipped = f", {report.failures} skipped media" if modality == "visual" else ""
        console.print(f"{modality} features: groups {report.groups}{skipped} ({report.seconds:.0f}s) "
                      f"-> {report.out_dir}")
    settings = load_settings(None, {"train": {"seeds": list(range(seeds)), "device": device}})
    cells = _train_cells(workspace, DEMO_MODELS, settings, device, workers)
    out.print(rich_table("amae demo: synthetic world, test cases (mean ± std over seeds)", cells))
    out.print("sampled = positive vs 99 fixed negatives; full = against all unplayed tracks. The world plants a "
              "mood signal in posts, so content models should beat MF here; that shows the machinery works, "
              "not that social content helps in the real world. For noise controls, equal tuning and seed-aware "
              "intervals, run 'amae experiment'.")
    out.print(f"workspace -> {workspace} ({time.perf_counter() - t0:.0f}s)")


ModelDirOpt = Annotated[Path | None, typer.Option("--model-dir", help="a trained model folder instead of --model")]


def _moved_cell(item: dict) -> str:
    """"up 12 (text)", "down 3 (visual)" or "same": where the request's posts moved the track."""
    before = item.get("rank_without_posts")
    if before is None:
        return "-"
    shift = before - item["rank"]
    by = f" ({item['moved_most_by']})" if item.get("moved_most_by") and shift else ""
    return "same" if shift == 0 else f"{'up' if shift > 0 else 'down'} {abs(shift)}{by}"


def _attention_cell(att: dict | None, modality: str) -> str:
    if not att or modality not in att:
        return "-"
    return f"{att[modality]['global']:.2f} / {att[modality]['contextual']:.2f}"


@app.command()
@data_errors
def recommend(user: Annotated[str, typer.Option("--user", "-u", help="user id as in the dataset")],
              workspace: Annotated[Path | None, typer.Option("--workspace", "-w")] = None,
              model: Annotated[str | None, typer.Option("--model", "-m", help="model label, e.g. mf+amae")] = None,
              seed: Annotated[int, typer.Option("--seed")] = 0,
              model_dir: ModelDirOpt = None,
              param: Annotated[list[str] | None, typer.Option("--param", "-p", help="key=value: pick the variant "
                                                              "trained with these parameters")] = None,
              posts: Annotated[Path | None, typer.Option("--posts", help="recent posts, JSON lines "
                                                         '{"timestamp", "text", "media"}')] = None,
              at: Annotated[str | None, typer.Option("--time", help="ISO-8601 or unix seconds")] = None,
              k: Annotated[int, typer.Option("-k", help="number of tracks")] = 10,
              include_played: Annotated[bool, typer.Option("--include-played", help="also rank played tracks")] = False,
              as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False) -> None:
    """Top-k tracks for one user, explained by the attention to global vs recent (24 h) posts."""
    import json as _json

    from rich.table import Table

    from amae.serving.bundle import load_bundle
    from amae.serving.posts import parse_time, read_posts_jsonl
    from amae.serving.recommender import recommend as do_recommend

    when = parse_time(at, "--time") if at is not None else None
    recent = read_posts_jsonl(posts, require_timestamps=when is None) if posts is not None else None
    bundle = load_bundle(workspace, model, seed, model_dir, media_root=posts.parent if posts else None,
                         params=parse_params(param) if param else None)
    result = do_recommend(bundle, user, k, when, recent, include_played)
    if as_json:
        out.print_json(_json.dumps(result, ensure_ascii=False))
        return
    mods = sorted({m for it in result["items"] for m in (it["attention"] or {})})
    table = Table(title=f"{bundle.name} for user {result['user_id']} at {result['time_iso'] or 'no time'}")
    score_col = result.get("score_kind", "score")
    moved = any(it.get("rank_without_posts") is not None for it in result["items"])
    for col in ["rank", "track", "title", "artist", score_col, *[f"{m} global / ctx" for m in mods],
                *(["with your posts"] if moved else [])]:
        table.add_column(col, justify="right" if col in ("rank", score_col) else "left")
    for it in result["items"]:
        table.add_row(str(it["rank"]), it["item_id"], it["title"], it["artist"], f"{it['score']:.4f}",
                      *[_attention_cell(it["attention"], m) for m in mods], *([_moved_cell(it)] if moved else []))
    out.print(table)
    ex = result["explanation"]
    ctx = ", ".join(f"{m}: {c['posts_in_window']} post(s) in window" for m, c in ex["context"].items())
    out.print(f"explanation: {ex['kind']}; {ex['recent_posts']} recent post(s) given" + (f"; {ctx}" if ctx else ""))
    for note in ex["notes"]:
        out.print(f"  note: {note}", highlight=False)


@app.command()
@data_errors
def serve(workspace: Annotated[Path | None, typer.Option("--workspace", "-w")] = None,
          model: Annotated[str | None, typer.Option("--model", "-m", help="model label, e.g. mf+amae")] = None,
          seed: Annotated[int, typer.Option("--seed")] = 0,
          model_dir: ModelDirOpt = None,
          param: Annotated[list[str] | None, typer.Option("--param", "-p", help="key=value: pick the variant "
                                                          "trained with these parameters")] = None,
          host: Annotated[str, typer.Option(help="interface to bind")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="TCP port")] = 8000,
          media_root: Annotated[Path | None, typer.Option(help="folder request media paths are relative to "
                                                          "(without it, media in requests are ignored)")] = None,
          max_body: Annotated[int, typer.Option(help="request size limit in bytes")] = 1_000_000,
          workers: Annotated[int, typer.Option(help="requests computed at once")] = 2,
          queue: Annotated[int, typer.Option(help="requests allowed to wait; beyond, 503 + Retry-After")] = 8,
          time_budget: Annotated[float, typer.Option(help="seconds of work per request (media left are "
                                                     "skipped)")] = 10.0,
          max_media: Annotated[int, typer.Option(help="media decoded per request")] = 20,
          max_pixels: Annotated[int, typer.Option(help="pixels per request, from the headers")] = 40_000_000,
          threads: Annotated[int, typer.Option(help="torch threads; 1 suits small per-request blocks, raise it "
                                               "for catalogues of 100k+ tracks")] = 1) -> None:
    """HTTP API: POST /recommend, GET /health, GET /metadata, schema at /openapi.json."""
    if not 1 <= port <= 65535:
        raise DataError(f"--port: {port} is not a TCP port (1-65535)")
    import torch
    import uvicorn

    torch.set_num_threads(max(threads, 1))

    from amae.serving.api import create_app
    from amae.serving.bundle import load_bundle
    from amae.serving.limits import ServeLimits

    bundle = load_bundle(workspace, model, seed, model_dir, media_root=media_root,
                         params=parse_params(param) if param else None)
    console.print(f"serving {bundle.name} from {bundle.folder} on http://{host}:{port} (docs at /docs)")
    try:
        limits = ServeLimits(max_body_bytes=max_body, workers=workers, queue=queue, time_budget_s=time_budget,
                             max_media_per_request=max_media, max_pixels_per_request=max_pixels)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    uvicorn.run(create_app(bundle, limits=limits, media_pool=True), host=host, port=port, log_level="info")
