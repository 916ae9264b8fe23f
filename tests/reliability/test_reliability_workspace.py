"""The hostile matrix, workspaces: no stale model is served, a moved workspace works, a damaged or
half-written artefact is never reused, and a failed write leaves nothing that looks like a result."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pandas as pd
import pytest

from amae.data.workspace import load_workspace
from amae.experiments import runs
from amae.experiments.runs import load_split, run_cell
from tests_helpers import one_line_error, text_workspace
from tests_helpers import run_cli as run

FAST = {"epochs": 2, "stage1_epochs": 1, "progress": False}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small text workspace with ``mf`` and ``mf+amae`` trained (seed 0), built once."""
    ws = text_workspace(tmp_path_factory.mktemp("pristine"), n_users=30, n_days=10)
    dataset, split = load_workspace(ws), load_split(ws)
    run_cell(ws, dataset, split, "mf", 0, {"epochs": 2, "progress": False})
    run_cell(ws, dataset, split, "mf+amae", 0, FAST)
    return ws


@pytest.fixture()
def trained(pristine: Path, tmp_path: Path) -> Path:
    """A private copy of the pristine workspace (and its world) for one test to damage."""
    shutil.copytree(pristine.parent / "world", tmp_path / "world")
    shutil.copytree(pristine, tmp_path / "ws")
    return tmp_path / "ws"


def _a_user(ws: Path) -> str:
    return str(load_workspace(ws).users.ids[0])


def _reingest_changed(ws: Path) -> None:
    """The world's data changed (tracks renamed, its first user dropped) and ingested into ``ws`` again."""
    world = ws.parent / "world"
    changed = ws.parent / "world-changed"
    shutil.copytree(world, changed)
    inter = pd.read_parquet(changed / "interactions.parquet")
    dropped = inter["user_id"].iloc[0]
    inter = inter[inter["user_id"] != dropped]
    posts = pd.read_parquet(changed / "posts.parquet")
    posts[posts["user_id"] != dropped].to_parquet(changed / "posts.parquet", index=False)
    inter["item_id"] = "renamed-" + inter["item_id"].astype(str)
    inter.to_parquet(changed / "interactions.parquet", index=False)
    items = pd.read_parquet(changed / "items.parquet")
    items["item_id"] = "renamed-" + items["item_id"].astype(str)
    items.to_parquet(changed / "items.parquet", index=False)
    code, output = run("ingest", changed, "-w", ws)
    assert code == 0, output


def test_reingested_workspace_refuses_the_old_model_everywhere(trained: Path) -> None:
    user = _a_user(trained)
    assert run("recommend", "-w", trained, "-m", "mf", "-u", user)[0] == 0
    _reingest_changed(trained)
    user = _a_user(trained)
    for model in ("mf", "mf+amae"):
        one_line_error(*run("recommend", "-w", trained, "-m", model, "-u", user),
                       "cannot be used", "the data was ingested again", f"amae split {trained}, then amae train")
    from amae.data.io import DataError
    from amae.serving.bundle import load_bundle

    with pytest.raises(DataError, match="the data was ingested again"):  # what `amae serve` loads at start
        load_bundle(trained, "mf", 0)
    code, output = run("evaluate", trained, "-m", "mf")
    assert code == 0 and "(stale)" in output and "the data was ingested again" in output, output
    one_line_error(*run("train", trained, "-m", "mf"), "drawn from other data", f"run 'amae split {trained}'")
    assert run("split", trained)[0] == 0
    code, output = run("train", trained, "-m", "mf", "-p", "epochs=2")
    assert code == 0 and "reused" not in output, output
    assert run("recommend", "-w", trained, "-m", "mf", "-p", "epochs=2", "-u", user)[0] == 0


def test_a_redrawn_split_marks_and_refuses_models_of_the_old_split(trained: Path) -> None:
    assert run("split", trained, "--method", "random")[0] == 0
    code, output = run("evaluate", trained, "-m", "mf")
    assert code == 0 and "(stale)" in output and "the split was drawn again" in output, output
    one_line_error(*run("recommend", "-w", trained, "-m", "mf", "-u", _a_user(trained)), "the split was drawn again",
                   "amae train")


def test_a_copied_workspace_serves_and_recommends_with_the_original_gone(trained: Path) -> None:
    copy = trained.parent / "ws-copy"
    shutil.copytree(trained, copy)
    shutil.rmtree(copy / "content")  # the copy must rebuild its content store inside itself
    shutil.rmtree(trained)
    user = _a_user(copy)
    for model in ("mf", "mf+amae"):
        code, output = run("recommend", "-w", copy, "-m", model, "-u", user, "--json")
        assert code == 0, output
    assert not trained.exists(), "the copy wrote into the original workspace"
    assert any((copy / "content").iterdir())
    from fastapi.testclient import TestClient

    from amae.serving.api import create_app
    from amae.serving.bundle import load_bundle

    with TestClient(create_app(load_bundle(copy, "mf+amae", 0))) as client:
        answer = client.post("/recommend", json={"user_id": user, "k": 3})
    assert answer.status_code == 200 and len(answer.json()["items"]) == 3


def _only_cell(ws: Path, label: str) -> Path:
    (cell,) = [d for d in (ws / "models").iterdir() if d.name.startswith(f"{label}-")]
    return cell


def test_a_truncated_weights_file_is_refused_and_retrained(trained: Path) -> None:
    cell = _only_cell(trained, "mf")
    weights = cell / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    one_line_error(*run("recommend", "-w", trained, "-m", "mf", "-u", _a_user(trained)),
                   "file 'weights.safetensors' differs from what was written", "amae train")
    code, output = run("train", trained, "-m", "mf", "-p", "epochs=2")
    assert code == 0 and "reused" not in output and "weights.safetensors" in output, output
    assert run("recommend", "-w", trained, "-m", "mf", "-u", _a_user(trained))[0] == 0


def test_an_unreadable_model_file_is_one_line(trained: Path) -> None:
    cell = _only_cell(trained, "mf")
    (cell / "manifest.json").write_text((cell / "manifest.json").read_text().replace('"outputs"', '"_outputs"'))
    (cell / "weights.safetensors").write_bytes(b"\0" * 64)  # damaged and not recorded: the loader finds it
    one_line_error(*run("recommend", "-w", trained, "-m", "mf", "-u", _a_user(trained)),
                   "cannot load model 'mf'", "train it again: amae train")


def test_a_failed_write_keeps_the_old_cell_and_leaves_no_partial_folder(trained: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    before = {p.name: p.read_bytes() for p in _only_cell(trained, "mf").iterdir()}

    def full_disk(path: Path, values: object) -> None:
        raise OSError(errno.EFBIG, "File too large", str(path))

    monkeypatch.setattr(runs, "write_npy", full_disk)
    code, output = run("train", trained, "-m", "mf", "-p", "epochs=2", "--seed", "3")
    one_line_error(code, output.splitlines()[-1] if output else output, "could not be written", "nothing was kept")
    assert not any(d.name.startswith(("mf-", ".mf-")) and "seed3" in d.name for d in (trained / "models").iterdir())
    dataset, split = load_workspace(trained), load_split(trained)
    with pytest.raises(Exception, match="could not be written"):
        run_cell(trained, dataset, split, "mf", 0, {"epochs": 2, "progress": False}, force=True)
    assert {p.name: p.read_bytes() for p in _only_cell(trained, "mf").iterdir()} == before
    assert not [d for d in (trained / "models").iterdir() if d.name.startswith(".")]
