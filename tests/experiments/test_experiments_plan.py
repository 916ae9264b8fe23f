"""Which cells each table runs (row for row as in the paper), their controls, and when a row is "not applicable"."""

from __future__ import annotations

import pytest

from amae.experiments.paper_numbers import PROVENANCE, all_keys, paper_value, provenance
from amae.experiments.plan import applicability, control_rows, parse_tables, table_rows


class _Collab:
    needs_content = False


class _Content:
    needs_content = True
    default_params = {"modalities": ["text", "visual"]}


REGISTRY = {"mf": _Collab, "itempop": _Collab, "mf+amae": _Content}

PAPER_III = ["None", "Textual-H", "Textual-D", "Textual-All", "Visual-H", "Visual-D", "Visual-All",
             "Textual+Visual-G", "Textual+Visual-C", "Textual+Visual"]


def test_tables_have_unique_labels_and_share_cells() -> None:
    for t in ("II", "III", "IV"):
        labels = [r.label for r in table_rows(t)]
        assert len(labels) == len(set(labels)), t
    ii = {r.label for r in table_rows("II")}
    assert {"itempop", "userpop", "mf", "dmf", "ucfe", "mf_s", "pmf_s", "mf+amae", "dmf+amae"} == ii
    # the full AMAE models of III and IV are the very cells of Table II (trained once); III's None is MF/DMF
    for t in ("III", "IV"):
        full = [r for r in table_rows(t) if r.model.endswith("amae") and not r.params]
        assert {r.label for r in full} == {"mf+amae", "dmf+amae"}
    assert {r.label for r in table_rows("III") if r.name.endswith("None")} == {"mf", "dmf"}


def test_table_iii_and_iv_are_the_papers_rows() -> None:
    iii = table_rows("III")
    for backbone in ("MF", "DMF"):
        names = [r.name.split(": ", 1)[1] for r in iii if r.backbone == backbone]
        assert names == PAPER_III
    by_name = {r.name: r.params for r in iii}
    assert by_name["DMF: Textual-H"]["modalities"] == ["text"]
    assert by_name["DMF: Textual-H"]["groups"] == ["handcrafted"]
    assert by_name["MF: Visual-All"]["modalities"] == ["visual"]
    assert by_name["MF: Visual-All"]["groups"] == ["handcrafted", "deep"]
    assert by_name["MF: Textual+Visual-C"]["contexts"] == ["contextual"]
    iv = table_rows("IV")
    assert [r.name.split(": ", 1)[1] for r in iv if r.backbone == "MF"] == [
        "None removed", "−Reconstruction loss", "−Cross-modal loss", "−Weights fine-tuning", "−Attentive module"]
    assert sum(r.params.get("no_attention", False) for r in iv) == 2  # one per backbone


def test_every_amae_row_has_a_noise_and_a_shuffled_control() -> None:
    for t in ("II", "III", "IV"):
        for r in table_rows(t):
            controls = control_rows(r)
            if r.model.endswith("amae"):
                assert set(controls) == {"noise", "shuffle"}, r.name
                noise = controls["noise"]
                assert noise.model == r.model and noise.params == {**r.params, "control": "noise"}
                assert noise.label == r.label + "~noise" and noise.of == r.label and not noise.controlled
            else:
                assert controls == {}, r.name


def test_parse_tables_orders_dedupes_and_rejects() -> None:
    assert parse_tables("case,II, IV,II") == ["II", "IV", "case"]
    assert parse_tables(["III"]) == ["III"]
    with pytest.raises(ValueError, match="V"):
        parse_tables("II,V")


def test_applicability_reasons() -> None:
    rows = {r.label: r for r in table_rows("II") + table_rows("III")}
    assert applicability(rows["mf"], REGISTRY, has_content=False) is None
    assert "not available" in applicability(rows["ucfe"], REGISTRY, has_content=True)
    assert "no posts" in applicability(rows["mf+amae"], REGISTRY, has_content=False)
    assert "no post features" in applicability(rows["mf+amae"], REGISTRY, True, feature_groups=[])
    assert applicability(rows["mf+amae"], REGISTRY, True, feature_groups=["text_h"]) is None
    # visual-only row when only text was extracted
    reason = applicability(rows["mf+amae-visual"], REGISTRY, True, feature_groups=["text_h", "text_d"])
    assert reason is not None and "visual_h" in reason
    assert applicability(rows["mf+amae-text"], REGISTRY, True, feature_groups=["text_h", "text_d"]) is None
    # extracted, but no post has media: the visual rows cannot run, the full model runs on text
    groups = ["text_h", "text_d", "visual_h", "visual_d"]
    usable = {"text": 100, "visual": 0}
    assert "usable media" in applicability(rows["mf+amae-visual-h"], REGISTRY, True, groups, usable)
    assert applicability(rows["mf+amae"], REGISTRY, True, groups, usable) is None


def test_paper_numbers_come_from_the_packaged_table() -> None:
    for r in table_rows("II") + table_rows("III") + table_rows("IV"):
        if r.model == "userpop":  # ours, not the paper's: no published number, and no key for one
            assert r.paper_key == "" and paper_value(r.paper_key) is None
            continue
        assert paper_value(r.paper_key) is not None, r.paper_key  # every paper row has the paper's number
    assert paper_value("II|MF|") == {"HR@10": 0.7428, "NDCG@10": 0.4889}
    assert paper_value("III|Textual-H|DMF") == {"HR@10": 0.7613, "NDCG@10": 0.5073}
    assert paper_value("IV|Attentive Module|MF") == {"HR@10": 0.7603, "NDCG@10": 0.5063}
    assert paper_value("") is None and paper_value("II|nosuch|") is None
    assert len(all_keys()) == 8 + 20 + 10
    assert "transcribed from the paper" in provenance() and "private" in PROVENANCE
