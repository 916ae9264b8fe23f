"""The hostile matrix, stages and experiments: how work is cut is never part of a result, options
are checked before anything runs, a split with no test case is an error, results are strict JSON,
and an experiment whose cells fail says so and exits non-zero."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from amae.data.io import DataError, read_json, write_json
from amae.data.synthetic import WorldConfig, generate_world
from tests_helpers import one_line_error
from tests_helpers import run_cli as run


@pytest.fixture(scope="module")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("runs") / "world"
    generate_world(root, WorldConfig(n_users=20, n_items=400, n_days=5, image_share=0.0, n_videos=0))
    return root


@pytest.fixture()
def workspace(small_world: Path, tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    assert run("ingest", small_world, "-w", ws)[0] == 0
    assert run("split", ws)[0] == 0
    return ws


@pytest.mark.parametrize(("option", "value", "needle"), [
    ("--batch-size", "-1", "--batch-size must be 1 or more"), ("--batch-size", "0", "--batch-size must be 1 or more"),
    ("-j", "0", "--jobs must be 1 or more"), ("-j", "-3", "--jobs must be 1 or more"),
    ("--engine", "spark", "--engine must be local or dask"),
])
def test_feature_work_options_are_checked_before_anything_runs(workspace: Path, option: str, value: str,
                                                               needle: str) -> None:
    assert run("features", workspace, "--modality", "text", "-j", "1")[0] == 0
    manifest = (workspace / "features" / "text" / "manifest.json").read_text()
    one_line_error(*run("features", workspace, "--modality", "text", option, value), needle)
    assert (workspace / "features" / "text" / "manifest.json").read_text() == manifest


def test_another_batch_size_reuses_the_features(workspace: Path) -> None:
    assert run("features", workspace, "--modality", "text", "-j", "1", "--batch-size", "512")[0] == 0
    manifest = (workspace / "features" / "text" / "manifest.json").read_text()
    code, output = run("features", workspace, "--modality", "text", "-j", "1", "--batch-size", "7")
    assert code == 0 and "nothing recomputed" in output, output
    assert (workspace / "features" / "text" / "manifest.json").read_text() == manifest


def test_a_split_without_test_cases_is_an_error_that_says_why(tmp_path: Path) -> None:
    data = tmp_path / "one-listen-each"
    data.mkdir()
    pd.DataFrame({"user_id": [f"u{i}" for i in range(300)], "item_id": [f"t{i % 120}" for i in range(300)],
                  "timestamp": [1_700_000_000 + i for i in range(300)]}).to_csv(data / "interactions.csv", index=False)
    assert run("ingest", data, "-w", tmp_path / "ws")[0] == 0
    one_line_error(*run("split", tmp_path / "ws"), "the split makes no test cases",
                   "from 5 interactions on, and the most any user has is 1")
    assert not (tmp_path / "ws" / "split" / "manifest.json").exists()


def test_results_are_strict_json(tmp_path: Path) -> None:
    path = write_json(tmp_path / "m.json", {"full_new_pairs": {"NDCG@10": float("nan"), "n": 0}, "x": [float("inf")]})

    def refuse(token: str) -> None:
        raise ValueError(f"not strict JSON: {token}")

    assert json.loads(path.read_text(), parse_constant=refuse) == {"full_new_pairs": {"NDCG@10": None, "n": 0},
                                                                   "x": [None]}


def test_an_experiment_with_failed_cells_exits_nonzero_with_one_line_each(workspace: Path, tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from amae.experiments import parallel

    real = parallel.run_cell

    def read_only(ws: Path, dataset: object, split: object, model: str, seed: int, *args: object,
                  **kwargs: object) -> dict:
        if model == "itempop":
            raise DataError(f"{ws}/models/itempop-seed{seed}: the trained model could not be written "
                            "(OSError: [Errno 30] Read-only file system); nothing was kept")
        return real(ws, dataset, split, model, seed, *args, **kwargs)

    monkeypatch.setattr(parallel, "run_cell", read_only)  # in this process: -j 1
    code, output = run("experiment", workspace, "--out", tmp_path / "report", "--tables", "II", "--seeds", "2",
                       "--method", "itempop", "--param", "epochs=1", "--device", "cpu", "-j", "1")
    assert code == 1, output
    failed = [line for line in output.splitlines() if line.startswith("failed: ")]
    assert failed == [f"failed: itempop seed {s}: {workspace}/models/itempop-seed{s}: the trained model could not "
                      "be written (OSError: [Errno 30] Read-only file system); nothing was kept" for s in (0, 1)]
    assert "Traceback" not in output and "2 failed" in output
    results = read_json(tmp_path / "report" / "results.json")
    assert len(results["failures"]) == 2 and results["config"]["device_used"] == "cpu"
    report = (tmp_path / "report" / "report.md").read_text()
    assert "Seeds: 2 (0, 1). Device: cpu (asked for: cpu)" in report
    assert "**Headline.**" in report and "2 cell(s) failed" in report


def test_the_headline_states_every_verdict_once() -> None:
    from amae.experiments.report import _headline_blocks

    rows = [{"name": "MF+AMAE", "verdict": "content gain: +0.08"}, {"name": "MF", "verdict": None},
            {"name": "DMF+AMAE", "verdict": "inconclusive: run --seeds 9"}]
    results = {"tables": {"II": {"rows": rows}, "III": {"rows": [rows[0]]}}, "failures": []}
    ((kind, text),) = _headline_blocks(results)
    assert kind == "p" and text == ("**Headline.** **MF+AMAE**: content gain: +0.08. **DMF+AMAE**: inconclusive: "
                                    "run --seeds 9.")
