"""``amae features --modality text`` says, per detected language, how many posts and what share of
them any affect lexicon could read (report.json ``summary.languages``, the CLI, Table I)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from amae.cli import app
from amae.data.io import read_json

POSTS = {
    "es": ["Hoy estoy muy feliz, qué alegría", "Estoy muy triste y solo esta noche"],
    "de": ["Ich bin heute so glücklich und froh", "Ich bin so traurig und allein"],
    "en": ["so happy today, what a lovely song", "feeling sad and lonely tonight"],
    "zh": ["今天真开心，太幸福了", "今天很难过，心里很伤心"],
}


def _dataset(folder: Path) -> Path:
    folder.mkdir(parents=True)
    texts = [(lang, t) for lang, pair in POSTS.items() for t in pair]
    users = [f"u{i % 4}" for i in range(len(texts))]
    pd.DataFrame({"post_id": [f"p{i}" for i in range(len(texts))], "user_id": users,
                  "timestamp": [1_700_000_000 + 3600 * i for i in range(len(texts))],
                  "text": [t for _, t in texts], "media": [""] * len(texts)}).to_csv(folder / "posts.csv", index=False)
    pd.DataFrame({"user_id": [f"u{i % 4}" for i in range(40)], "item_id": [f"t{i % 13}" for i in range(40)],
                  "timestamp": [1_700_000_000 + 1800 * i for i in range(40)]}).to_csv(folder / "interactions.csv",
                                                                                      index=False)
    return folder


def test_the_language_mix_and_affect_share_are_reported(tmp_path: Path) -> None:
    runner = CliRunner()
    ws = tmp_path / "ws"
    assert runner.invoke(app, ["ingest", str(_dataset(tmp_path / "data")), "-w", str(ws)]).exit_code == 0
    config = tmp_path / "small.toml"  # eight posts: Word2Vec must keep words seen once
    config.write_text("[features.text]\nw2v_min_count = 1\n")
    result = runner.invoke(app, ["features", str(ws), "--modality", "text", "-j", "1", "-c", str(config)])
    assert result.exit_code == 0, result.output
    languages = read_json(ws / "features" / "text" / "report.json")["summary"]["languages"]
    assert {code: v["posts"] for code, v in languages.items()} == {"es": 2, "de": 2, "en": 2, "zh": 2}
    assert all(v["affect_share"] == 1.0 for v in languages.values()), languages
    assert "languages (posts, share with an affect hit): " in result.output and "es 2 (1.00)" in result.output
