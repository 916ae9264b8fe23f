"""The hostile matrix, CLI and data contract: every user mistake is one line and exit code 2, or is
skipped and counted; never a traceback, never a silent cast; a failed command leaves outputs as they were."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from amae.data.workspace import load_workspace
from tests_helpers import one_line_error
from tests_helpers import run_cli as run


def _inter(**cols: list) -> pd.DataFrame:
    data = {"user_id": ["a", "b", "a"], "item_id": ["x", "y", "y"],
            "timestamp": ["1700000000", "1700000100", "1700000200"]}
    data.update(cols)
    return pd.DataFrame(data)


def _dataset(folder: Path, inter: pd.DataFrame | None = None, posts: pd.DataFrame | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (inter if inter is not None else _inter()).to_csv(folder / "interactions.csv", index=False)
    if posts is not None:
        posts.to_csv(folder / "posts.csv", index=False)
    return folder


def _posts(**cols: list) -> pd.DataFrame:
    data = {"post_id": ["p1", "p2"], "user_id": ["a", "b"], "timestamp": ["1700000000", "1700000050"],
            "text": ["hello", "world"], "media": ["", ""]}
    data.update(cols)
    return pd.DataFrame(data)


# -- ingest: (make the dataset, words the one-line error must contain) ------------------------------
BAD_DATASETS: dict[str, tuple[Callable[[Path], Path], tuple[str, ...]]] = {
    "timestamp 1e20": (lambda d: _dataset(d, _inter(timestamp=["1e20", "1700000100", "1700000200"])),
                       ("interactions.csv", "column 'timestamp'", "out-of-range", "rows 1")),
    "timestamp 1e23": (lambda d: _dataset(d, _inter(timestamp=["1700000000", "1e23", "1700000200"])),
                       ("column 'timestamp'", "rows 2")),
    "timestamp inf": (lambda d: _dataset(d, _inter(timestamp=["inf", "1700000100", "1700000200"])),
                      ("column 'timestamp'", "rows 1")),
    "timestamp year 9999": (lambda d: _dataset(d, _inter(timestamp=["9999-12-31T23:59:59Z", "1700000100",
                                                                   "1700000200"])),
                            ("column 'timestamp'", "1970-01-01 and 2100-01-01")),
    "timestamp before 1970": (lambda d: _dataset(d, _inter(timestamp=["-5", "1700000100", "1700000200"])),
                              ("column 'timestamp'",)),
    "post timestamp 1e20": (lambda d: _dataset(d, posts=_posts(timestamp=["1e20", "1700000050"])),
                            ("posts.csv", "column 'timestamp'")),
    "markup in an id": (lambda d: _dataset(d, posts=_posts(user_id=["[/x]", "b"])),
                        ("posts.csv", "unknown user", "[/x]")),
    "missing column": (lambda d: _dataset(d, _inter().drop(columns=["item_id"])),
                       ("column 'item_id': required column missing",)),
    "empty file": (lambda d: (d.mkdir(parents=True), (d / "interactions.csv").write_text(""), d)[-1],
                   ("interactions.csv: file is empty",)),
    "wrong file type": (lambda d: (d.mkdir(parents=True), (d / "interactions.jsonl").write_bytes(b"\x89PNG\r\n"),
                                   d)[-1],
                        ("cannot be read as jsonl",)),
    "path traversal": (lambda d: _dataset(d, posts=_posts(media=["../secret.jpg", ""])),
                       ("column 'media'", "outside the dataset folder")),
    "absolute path": (lambda d: _dataset(d, posts=_posts(media=["/etc/hosts", ""])),
                      ("column 'media'", "outside the dataset folder")),
    "symlink outside": (lambda d: (_dataset(d, posts=_posts(media=["link.jpg", ""])),
                                   os.symlink("/etc/hosts", d / "link.jpg"), d)[-1],
                        ("column 'media'", "outside the dataset folder")),
    "1000 media in one post": (lambda d: _dataset(d, posts=_posts(media=[";".join(f"m{i}.jpg" for i in range(1000)),
                                                                       ""])),
                               ("column 'media'", "1000 paths refused", "rows 1")),
}


@pytest.mark.parametrize("case", sorted(BAD_DATASETS))
def test_bad_dataset_is_one_line_and_leaves_the_workspace_alone(case: str, tmp_path: Path) -> None:
    good = _dataset(tmp_path / "good", posts=_posts())
    ws = tmp_path / "ws"
    assert run("ingest", good, "-w", ws)[0] == 0
    before = {p: p.read_bytes() for p in (ws / "data").iterdir()}
    make, needles = BAD_DATASETS[case]
    code, output = run("ingest", make(tmp_path / "bad"), "-w", ws)
    one_line_error(code, output, *needles)
    assert {p: p.read_bytes() for p in (ws / "data").iterdir()} == before  # nothing lost


def test_undecodable_bytes_in_one_post_pass_and_are_flagged(tmp_path: Path) -> None:
    folder = _dataset(tmp_path / "ds")
    (folder / "posts.csv").write_bytes(b"post_id,user_id,timestamp,text,media\n"
                                       b"p1,a,1700000000,fine text,\n"
                                       b"p2,b,1700000050,bad \xff\xfe bytes,\n")
    code, output = run("ingest", folder, "-w", tmp_path / "ws")
    assert code == 0, output
    assert "1 post(s) had undecodable bytes" in output
    posts = load_workspace(tmp_path / "ws").posts.set_index("post_id")
    assert posts.loc["p2", "text"] == "bad \ufffd\ufffd bytes" and posts.loc["p1", "text"] == "fine text"
    assert posts["text_invalid_utf8"].tolist() == [False, True]
    code, output = run("features", tmp_path / "ws", "--modality", "text", "-j", "1")
    one_line_error(code, output, "cannot fit the text model on 2 training post(s)", "w2v_min_count")
    config = tmp_path / "c.toml"
    config.write_text("[features.text]\nw2v_min_count = 1\n")
    code, output = run("features", tmp_path / "ws", "--modality", "text", "-j", "1", "--config", config)
    assert code == 0, output
    flags = pd.read_parquet(tmp_path / "ws" / "features" / "text" / "flags.parquet")
    assert flags["text_invalid_utf8"].tolist() == [False, True]


def test_a_5_mb_post_is_cut_and_flagged(tmp_path: Path) -> None:
    folder = _dataset(tmp_path / "ds", posts=_posts(text=["word " * 1_000_000, "short"]))
    assert run("ingest", folder, "-w", tmp_path / "ws")[0] == 0
    config = tmp_path / "c.toml"
    config.write_text("[features.text]\nw2v_min_count = 1\n")
    code, output = run("features", tmp_path / "ws", "--modality", "text", "-j", "1", "--config", config)
    assert code == 0, output
    flags = pd.read_parquet(tmp_path / "ws" / "features" / "text" / "flags.parquet")
    assert flags["text_truncated"].tolist() == [True, False]


# -- commands on a workspace -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from amae.data.synthetic import WorldConfig, generate_world

    root = tmp_path_factory.mktemp("hostile")
    generate_world(root / "world", WorldConfig(n_users=20, n_items=200, n_days=6, image_share=0.0, n_videos=0))
    ws = root / "ws"
    assert run("ingest", root / "world", "-w", ws)[0] == 0
    assert run("split", ws)[0] == 0
    assert run("train", ws, "-m", "mf", "-p", "epochs=1", "--device", "cpu")[0] == 0
    return ws


BAD_COMMANDS: dict[str, tuple[Callable[[Path, Path], list], tuple[str, ...]]] = {
    "workspace is a file": (lambda ws, t: ["ingest", ws.parent / "world", "-w", (t / "f").write_text("x") and t / "f"],
                            ("not a folder",)),
    "config method sideways": (lambda ws, t: ["split", ws, "--config",
                                              (t / "c.toml").write_text('[split]\nmethod = "sideways"\n')
                                              and t / "c.toml"], ("method", "sideways", "temporal, random")),
    "config seeds not a list": (lambda ws, t: ["train", ws, "-m", "mf", "--config",
                                               (t / "c.toml").write_text("[train]\nseeds = 3\n") and t / "c.toml"],
                                ("seeds",)),
    "param dim=abc": (lambda ws, t: ["train", ws, "-m", "mf", "-p", "dim=abc"],
                      ("parameter 'dim'", "expected an integer", "'abc'")),
    "param dim=-5": (lambda ws, t: ["train", ws, "-m", "mf", "-p", "dim=-5"], ("parameter 'dim'", "out of range")),
    "param lr=true": (lambda ws, t: ["train", ws, "-m", "mf", "-p", "lr=true"], ("parameter 'lr'", "a number")),
    "unknown param": (lambda ws, t: ["train", ws, "-m", "mf", "-p", "nosuchparam=1"],
                      ("unknown parameter 'nosuchparam'", "known: ")),
    "typo in a param": (lambda ws, t: ["train", ws, "-m", "mf+amae", "-p", "code_droput=0"],
                        ("unknown parameter 'code_droput'", "did you mean 'code_dropout'")),
    "experiment typo": (lambda ws, t: ["experiment", ws, "--out", t / "r", "-p", "code_droput=0"],
                        ("unknown parameter 'code_droput'", "did you mean 'code_dropout'")),
    "unknown model": (lambda ws, t: ["train", ws, "-m", "nosuch"], ("unknown model 'nosuch'", "known: ")),
    "unknown model, close": (lambda ws, t: ["train", ws, "-m", "mf+amea"], ("did you mean 'mf+amae'",)),
    "recommend --time 9999": (lambda ws, t: ["recommend", "-w", ws, "-m", "mf", "--user", "u0001", "--time",
                                             "9999-12-31T23:59:59Z"], ("--time", "2100-01-01")),
    "recommend --time nan": (lambda ws, t: ["recommend", "-w", ws, "-m", "mf", "--user", "u0001", "--time", "nan"],
                             ("--time",)),
    "recommend unknown user with markup": (lambda ws, t: ["recommend", "-w", ws, "-m", "mf", "--user", "[/x]"],
                                           ("unknown user '[/x]'",)),
    "evaluate untrained": (lambda ws, t: ["evaluate", ws, "-m", "dmf"], ("no trained model 'dmf'",)),
    "recommend unknown model": (lambda ws, t: ["recommend", "-w", ws, "-m", "nosuch", "--user", "u0001"],
                                ("no trained model 'nosuch'", "trained here: mf", "models: ")),
    "missing workspace": (lambda ws, t: ["split", t / "nowhere"], ("not a workspace",)),
    "device sideways": (lambda ws, t: ["train", ws, "-m", "mf", "--device", "sideways"], ("--device",)),
}
if not torch.cuda.is_available():  # where CUDA exists, --device cuda is simply used
    BAD_COMMANDS["device cuda without a GPU"] = (lambda ws, t: ["train", ws, "-m", "mf", "--device", "cuda"],
                                                 ("--device cuda", "no CUDA device"))


@pytest.mark.parametrize("case", sorted(BAD_COMMANDS))
def test_bad_command_is_one_line_and_trains_nothing(case: str, workspace: Path, tmp_path: Path) -> None:
    models_before = sorted(p.name for p in (workspace / "models").iterdir())
    args, needles = BAD_COMMANDS[case]
    code, output = run(*args(workspace, tmp_path))
    one_line_error(code, output, *needles)
    assert sorted(p.name for p in (workspace / "models").iterdir()) == models_before


def test_recommend_shows_a_probability_and_evaluate_the_new_pairs(workspace: Path) -> None:
    code, output = run("recommend", "-w", workspace, "-m", "mf", "--user", "u0001", "--json")
    assert code == 0, output
    data = json.loads(output)
    assert data["score_kind"] == "probability"
    for it in data["items"]:
        assert 0 < it["score"] < 1 and it["score"] == pytest.approx(1 / (1 + np.exp(-it["logit"])))
    code, output = run("recommend", "-w", workspace, "-m", "mf", "--user", "u0001")
    assert code == 0 and "probability" in output
    code, output = run("evaluate", workspace, "-m", "mf")
    assert code == 0 and "sampled_new_pairs HR@10" in output and "full_new_pairs NDCG@10" in output
