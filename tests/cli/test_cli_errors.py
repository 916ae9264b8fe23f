"""Every malformed input reaches the user as one line on stderr and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from amae.cli import app

runner = CliRunner()


def ingest(folder: Path, tmp_path: Path) -> tuple[int, str]:
    result = runner.invoke(app, ["ingest", str(folder), "--workspace", str(tmp_path / "ws")])
    return result.exit_code, result.output


def interactions(**overrides: list) -> pd.DataFrame:
    data = {"user_id": ["a", "b"], "item_id": ["x", "y"], "timestamp": ["1700000000", "1700000001"]}
    data.update(overrides)
    return pd.DataFrame(data)


CASES = {
    "missing column": (lambda d: interactions().drop(columns=["item_id"]).to_csv(d / "interactions.csv", index=False),
                       "interactions.csv, column 'item_id': required column missing"),
    "unparseable timestamp": (lambda d: interactions(timestamp=["yesterday", "1700000001"]).to_csv(
        d / "interactions.csv", index=False), "column 'timestamp': unparseable or out-of-range timestamp"),
    "empty file": (lambda d: (d / "interactions.csv").write_text(""), "interactions.csv: file is empty"),
    "wrong file type": (lambda d: (d / "interactions.jsonl").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00"),
                        "interactions.jsonl: cannot be read as jsonl"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_interactions_exit_2_with_one_line(tmp_path: Path, case: str) -> None:
    folder = tmp_path / "ds"
    folder.mkdir()
    make, expected = CASES[case]
    make(folder)
    code, output = ingest(folder, tmp_path)
    assert code == 2
    assert expected in output
    assert "Traceback" not in output
    assert len(output.strip().splitlines()) == 1


@pytest.mark.parametrize("case", ["unknown user", "media outside"])
def test_malformed_posts_exit_2(tmp_path: Path, case: str) -> None:
    folder = tmp_path / "ds"
    folder.mkdir()
    interactions().to_csv(folder / "interactions.csv", index=False)
    posts = pd.DataFrame({"post_id": [1], "user_id": ["a"], "timestamp": [1], "text": ["hi"], "media": [""]})
    if case == "unknown user":
        posts["user_id"] = ["ghost"]
        expected = "column 'user_id': unknown user"
    else:
        posts["media"] = ["../../etc/passwd"]
        expected = "column 'media': media path outside the dataset folder"
    posts.to_csv(folder / "posts.csv", index=False)
    code, output = ingest(folder, tmp_path)
    assert code == 2 and expected in output and "Traceback" not in output


def test_bad_config_file_exit_2(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[split]\nmethod = 'temporal'\nbogus = 1\n")
    folder = tmp_path / "ds"
    folder.mkdir()
    interactions().to_csv(folder / "interactions.csv", index=False)
    assert ingest(folder, tmp_path)[0] == 0
    result = runner.invoke(app, ["split", str(tmp_path / "ws"), "--config", str(cfg)])
    assert result.exit_code == 2 and "unknown setting 'bogus'" in result.output


def test_features_without_posts_and_unknown_modality_exit_2(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    folder.mkdir()
    interactions().to_csv(folder / "interactions.csv", index=False)
    assert ingest(folder, tmp_path)[0] == 0
    result = runner.invoke(app, ["features", str(tmp_path / "ws"), "--modality", "text"])
    assert result.exit_code == 2 and "has no posts" in result.output
    result = runner.invoke(app, ["features", str(tmp_path / "ws"), "--modality", "audio"])
    assert result.exit_code == 2 and "unknown modality 'audio'" in result.output


def test_train_before_split_and_unknown_model_exit_2(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    folder.mkdir()
    interactions().to_csv(folder / "interactions.csv", index=False)
    ingest(folder, tmp_path)
    result = runner.invoke(app, ["train", str(tmp_path / "ws"), "-m", "mf"])
    assert result.exit_code == 2 and "no split yet" in result.output
    result = runner.invoke(app, ["train", str(tmp_path / "nowhere"), "-m", "mf"])
    assert result.exit_code == 2 and "not a workspace" in result.output
