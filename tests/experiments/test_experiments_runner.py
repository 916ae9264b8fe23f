"""run_experiment end to end on a tiny synthetic world and a tiny NCF subset (few epochs)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from amae.data.workspace import ingest
from amae.experiments.runner import resolve_source, run_experiment
from amae.experiments.runs import find_cells
from amae.models import REGISTRY
from amae.protocol.split import split_interactions

FAST = {"epochs": 1, "patience": 1}
NEG = 20  # the tiny world has too few tracks for 99 negatives


@pytest.fixture()
def no_posts_world(tiny_world: Path, tmp_path: Path) -> Path:
    """The same world without posts: only collaborative methods apply."""
    out = tmp_path / "noposts"
    out.mkdir()
    for name in ("interactions.parquet", "items.parquet"):
        shutil.copy(tiny_world / name, out / name)
    return out


@pytest.fixture()
def content_workspace(tiny_world: Path, tmp_path: Path) -> Path:
    """Ingested and split; the experiment extracts the features itself."""
    ws = tmp_path / "ws"
    ds = ingest(tiny_world, ws)
    split_interactions(ds.interactions, ds.n_items, seed=0, n_negatives=NEG).save(ws / "split")
    return ws


def _mtimes(ws: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in sorted((ws / "models").glob("*/metrics.json"))}


def test_no_posts_collaborative_rows_run_content_rows_not_applicable(no_posts_world: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "report"
    res = run_experiment(no_posts_world, out, "II,case", [0, 1], "cpu", params=FAST,
                         methods=["itempop", "mf", "mf+amae", "ucfe"], n_negatives=NEG)
    rows = {r["label"]: r for r in res["tables"]["II"]["rows"]}
    assert set(rows) == {"itempop", "mf", "mf+amae", "ucfe"}
    assert rows["mf"]["status"] == rows["itempop"]["status"] == "ok"
    assert rows["mf"]["seeds"] == [0, 1]
    for label in ("mf+amae", "ucfe"):
        assert rows[label]["status"] == "not applicable" and "no posts" in rows[label]["reason"]
    assert res["case_study"]["status"] == "not applicable"
    # sampled and full metrics with std over seeds, and the bootstrap difference to MF
    assert set(rows["itempop"]["metrics"]) >= {"sampled", "full"}
    assert len(rows["itempop"]["vs_mf"]["sampled"]["HR@10"]) == 3
    assert "vs_mf" not in rows["mf"]
    assert res["features"] == {}  # nothing to extract without posts
    # report files: complete, atomic (no temp files left), JSON readable
    md = (out / "report.md").read_text()
    for section in ("Table I", "Table II", "not applicable", "Timings", "Configuration", "sampled", "full ranking",
                    "new pairs", "different, private dataset"):
        assert section in md, section
    html = (out / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "Table II" in html and "src='http" not in html
    assert json.loads((out / "results.json").read_text())["tables"]["II"]["rows"][0]["name"] == "ItemPop"
    assert not [p for p in out.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]

    # resume: the second call trains nothing and leaves the cells untouched
    ws = Path(res["dataset"]["workspace"])
    before = _mtimes(ws)
    assert len(before) == 4 and res["trained_cells"] == 4
    again = run_experiment(no_posts_world, out, "II", [0, 1], "cpu", params=FAST, methods=["itempop", "mf"])
    assert again["trained_cells"] == 0 and again["reused_cells"] == 4
    assert _mtimes(ws) == before
    rows2 = {r["label"]: r for r in again["tables"]["II"]["rows"]}
    assert rows2["mf"]["metrics"] == rows["mf"]["metrics"]
    # changed parameters: the stale cell is recomputed, not silently reused
    third = run_experiment(no_posts_world, out, "II", [0], "cpu", params={**FAST, "dim": 4}, methods=["mf"])
    assert third["trained_cells"] == 1
    # a new version of the model (other numbers for the same seed): its cells are recomputed too
    monkeypatch.setattr(REGISTRY["mf"], "version", REGISTRY["mf"].version + 1)
    fourth = run_experiment(no_posts_world, out, "II", [0], "cpu", params=FAST, methods=["mf"])
    assert fourth["trained_cells"] == 1
    # a changed default the cell relied on (not passed as a parameter): recomputed, not reused
    monkeypatch.setattr(REGISTRY["mf"], "train_defaults", {**REGISTRY["mf"].train_defaults, "l2": 3e-6})
    fifth = run_experiment(no_posts_world, out, "II", [0], "cpu", params=FAST, methods=["mf"])
    assert fifth["trained_cells"] == 1


def test_case_study_and_reference_mf_always_run(content_workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "rep"
    res = run_experiment(content_workspace, out, "III,case", [0], "cpu", params=FAST, methods=["nothing"],
                         n_case_tracks=3)
    assert res["dataset"]["kind"] == "workspace"
    assert res["tables"]["III"]["rows"] == []
    assert res["trained_cells"] == 1  # MF, the reference of every difference, is trained anyway
    case = res["case_study"]
    assert case["status"] == "ok" and len(case["tracks"]) == 3
    assert set(case["features"]) == {"emo7_happiness", "pron_first_singular", "topic_home", "macro_chars",
                                     "color_cold_area", "face_count"}
    png = out / "case_study.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html
    md = (out / "report.md").read_text()
    assert "Case study" in md and "![case study](case_study.png)" in md
    stats = res["dataset"]["stats"]
    assert stats["posts"] > 0 and stats["visual: skipped media"] == 0
    cov = res["dataset"]["coverage"]["modalities"]
    assert set(cov) == {"text", "visual"}
    for part in ("fit", "validation", "test"):
        assert 0 < cov["text"][f"{part} listens with a post in the window"] <= 1
    assert "Context coverage" in md


def test_ncf_prefix_detected_and_given_split_used(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "deepcf" / "lastfm"
    prefix = tmp_path / "mini" / "lastfm"
    prefix.parent.mkdir()
    keep_users = 25
    train = pd.read_csv(f"{src}.train.rating", sep="\t", header=None)
    train[train[0] < keep_users].to_csv(f"{prefix}.train.rating", sep="\t", header=False, index=False)
    test = pd.read_csv(f"{src}.test.rating", sep="\t", header=None)
    test[test[0] < keep_users].to_csv(f"{prefix}.test.rating", sep="\t", header=False, index=False)
    lines = Path(f"{src}.test.negative").read_text().splitlines()[:keep_users]
    Path(f"{prefix}.test.negative").write_text("\n".join(lines) + "\n")
    assert resolve_source(prefix, None, tmp_path / "o")[0] == "ncf"
    res = run_experiment(prefix, tmp_path / "o", ["II"], [0], "cpu", params=FAST, methods=["itempop", "mf", "pmf_s"])
    rows = {r["label"]: r for r in res["tables"]["II"]["rows"]}
    assert rows["mf"]["status"] == "ok" and rows["pmf_s"]["status"] == "not applicable"
    assert rows["mf"]["metrics"]["sampled"]["n_cases"][0] == keep_users
    assert res["dataset"]["stats"]["test cases"] == keep_users


def test_content_rows_get_controls_verdicts_stop_reasons_and_forest_plot(content_workspace: Path,
                                                                          tmp_path: Path) -> None:
    out = tmp_path / "rep"
    params = {"epochs": 2, "patience": 1, "stage1_epochs": 1}
    res = run_experiment(content_workspace, out, "II", [0, 1], "cpu", params=params, methods=["mf", "mf+amae"])
    rows = {r["label"]: r for r in res["tables"]["II"]["rows"]}
    amae = rows["mf+amae"]
    assert amae["status"] == "ok" and set(amae["controls"]) == {"noise", "shuffle"}
    assert all(c["status"] == "ok" and c["seeds"] == [0, 1] for c in amae["controls"].values())
    for key in ("vs_mf", "vs_noise", "vs_shuffle"):
        assert len(amae[key]["full"]["NDCG@10"]) == 3 and amae[key]["full"]["n_seeds"][0] == 2
    assert amae["verdict"] and "verdict" not in rows["mf"]
    # a folder written by amae world: the Bayes ceilings, and the share each content row captured
    assert set(res["ceilings"]) >= {"collaborative", "observable", "omniscient"}
    assert set(amae["captured"]) == {"full", "full_new_pairs", "over"} and amae["captured"]["over"] == "mf"
    assert amae["vs_noise"]["stats"]["full_new_pairs"]["NDCG@10"]["mde"] > 0
    # the controls were trained as cells of their own, with the control switched on
    ws = content_workspace
    for c in ("noise", "shuffle"):
        (folder,) = find_cells(ws, f"mf+amae~{c}", 0)
        saved = json.loads((folder / "metrics.json").read_text())
        assert saved["params"]["control"] == c
    # every cell says how its training ended; the 2-epoch cap is flagged
    for r in (rows["mf"], amae):
        assert set(r["training"]["per_seed"]) == {"0", "1"}
        assert all(o["stop_reason"] == "cap" for o in r["training"]["per_seed"].values())
        assert any("epoch cap" in w for w in r["training"]["warnings"])
    md = (out / "report.md").read_text()
    for text in ("noise control", "shuffled", "Welch-Satterthwaite", "MDE", "discovery", "No tuning", "Warnings",
                 "epoch cap", "forest plot", "cap×2", "Bayes ceilings", "captured, new pairs"):
        assert text in md, text
    assert (out / "forest_II.png").read_bytes()[:4] == b"\x89PNG"
    assert md.count("![forest plot") == 1


def test_tune_gives_every_method_the_same_budget_on_validation(content_workspace: Path, tmp_path: Path) -> None:
    params = {"epochs": 1, "patience": 1}
    out = tmp_path / "rep"
    res = run_experiment(content_workspace, out, "II", [0, 1], "cpu", params=params, methods=["itempop", "mf", "dmf"],
                         tune=3)
    budget = res["budget"]
    assert budget["tuned"] and budget["trials_per_method"] == 3
    assert budget["tuning"]["mf"]["n_trials"] == 3 and budget["tuning"]["dmf"]["n_trials"] == 3
    assert budget["tuning"]["itempop"]["n_trials"] == 0  # nothing to tune: its defaults, said so
    assert budget["tuning"]["mf"]["objective"].startswith("validation NDCG@10")
    chosen = budget["tuning"]["mf"]["params"]
    assert set(chosen) == {"lr", "l2", "dim"}
    (folder,) = find_cells(content_workspace, "mf", 1)
    cell = json.loads((folder / "metrics.json").read_text())
    assert {k: cell["params"][k] for k in chosen} == chosen  # reused across seeds
    saved = json.loads((content_workspace / "tuning" / "mf" / "record.json").read_text())
    assert saved["params"] == chosen and len(saved["trials"]) == 3
    assert "Optuna trials" in (out / "report.md").read_text()
    again = run_experiment(content_workspace, out, "II", [0, 1], "cpu", params=params, methods=["mf"], tune=3)
    assert again["budget"]["tuning"]["mf"]["reused"] and again["trained_cells"] == 0


def test_tuning_never_reads_the_test_cases(content_workspace: Path) -> None:
    from amae.data.workspace import load_workspace
    from amae.experiments.runs import load_split
    from amae.experiments.tuning import tune

    class NoTest:
        """The split with its test cases locked away."""

        def __init__(self, split: object) -> None:
            self._split = split

        def __getattr__(self, name: str) -> object:
            if name in ("test", "test_rows"):
                raise AssertionError(f"tuning read split.{name}")
            return getattr(self._split, name)

    split = NoTest(load_split(content_workspace))
    rec = tune(content_workspace, load_workspace(content_workspace), split, "mf", {"epochs": 1, "progress": False}, 2)
    assert rec["n_trials"] == 2 and 0 <= rec["best_valid_NDCG@10"] <= 1


def test_cells_retrain_when_the_split_changes(no_posts_world: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    first = run_experiment(no_posts_world, out, "II", [0], "cpu", params=FAST, methods=["mf"], n_negatives=NEG)
    ws = Path(first["dataset"]["workspace"])
    assert first["trained_cells"] == 1
    assert run_experiment(no_posts_world, out, "II", [0], "cpu", params=FAST, methods=["mf"])["trained_cells"] == 0
    from amae.data.workspace import load_workspace
    from amae.protocol.split import split_workspace

    split_workspace(ws, load_workspace(ws), seed=5, n_negatives=NEG)  # same data, another split
    again = run_experiment(no_posts_world, out, "II", [0], "cpu", params=FAST, methods=["mf"])
    assert again["trained_cells"] == 1 and again["reused_cells"] == 0
    assert again["provenance"]["split"] != first["provenance"]["split"]
    assert "Provenance" in (out / "report.md").read_text()


def test_tuning_reads_new_pairs_when_there_are_enough() -> None:
    from types import SimpleNamespace

    import numpy as np

    from amae.experiments.tuning import MIN_NEW_PAIRS, objective_cases
    from amae.protocol.split import EvalCases

    def cases(n_new: int) -> EvalCases:
        n = 2 * MIN_NEW_PAIRS
        new = np.arange(n) < n_new
        return EvalCases(np.arange(n), np.arange(n), np.arange(n), np.zeros((n, 3), dtype=np.int64), new)

    chosen, what = objective_cases(SimpleNamespace(valid=cases(MIN_NEW_PAIRS)))
    assert len(chosen) == MIN_NEW_PAIRS and chosen.new_pair.all() and "new pairs" in what
    chosen, what = objective_cases(SimpleNamespace(valid=cases(MIN_NEW_PAIRS - 1)))
    assert len(chosen) == 2 * MIN_NEW_PAIRS and "all pairs" in what


def test_userpop_row_says_when_the_figures_measure_relistening(tmp_path: Path) -> None:
    """With the re-listening term MF holds re-listens (it beats memory alone, and the report says so);
    without it, MF memorises them late and UserPop wins all pairs: the report says the figures mostly
    measure re-listening."""
    from amae.data.synthetic import WorldConfig, generate_world

    world = tmp_path / "relisten"
    generate_world(world, WorldConfig(n_users=20, n_items=60, n_days=10, image_share=0.0, n_videos=0, relisten=0.7))
    full: dict[bool, dict[str, float]] = {}
    for repeat in (True, False):
        out = tmp_path / f"out-{repeat}"
        res = run_experiment(world, out, "II", [0], "cpu", params={**FAST, "repeat": repeat},
                             methods=["itempop", "userpop", "mf"], n_negatives=NEG)
        rows = {r["label"]: r for r in res["tables"]["II"]["rows"]}
        full[repeat] = {k: rows[k]["metrics"]["full"]["NDCG@10"][0] for k in ("itempop", "userpop", "mf")}
        new = {k: rows[k]["metrics"]["full_new_pairs"]["NDCG@10"][0] for k in ("itempop", "userpop")}
        assert full[repeat]["userpop"] > full[repeat]["itempop"] + 0.2
        assert new["userpop"] == pytest.approx(new["itempop"])  # on new pairs it is ItemPop
        md = (out / "report.md").read_text()
        assert "**UserPop** ranks each user's own training tracks first" in md
        beaten = full[repeat]["mf"] > full[repeat]["userpop"]
        assert ("it is beaten by MF" in md) == beaten
        assert ("no model beats it: these figures mostly measure re-listening" in md) == (not beaten)
    assert full[True]["mf"] > full[True]["userpop"] > full[False]["mf"]
