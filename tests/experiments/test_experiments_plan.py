"""Which cells each table runs, and when a row is "not applicable"."""

from __future__ import annotations

import pytest

from amae.experiments.paper_numbers import NOT_TRANSCRIBED, paper_value
from amae.experiments.plan import applicability, parse_tables, table_rows


class _Collab:
    needs_content = False


class _Content:
    needs_content = True


REGISTRY = {"mf": _Collab, "itempop": _Collab, "mf+amae": _Content}


def test_tables_have_unique_labels_and_share_the_full_model() -> None:
    for t in ("II", "III", "IV"):
        labels = [r.label for r in table_rows(t)]
        assert len(labels) == len(set(labels)), t
    ii = {r.label for r in table_rows("II")}
    assert {"itempop", "mf", "dmf", "ucfe", "mf_s", "pmf_s", "mf+amae", "dmf+amae"} == ii
    # the full AMAE models of III and IV are the very cells of Table II (trained once)
    for t in ("III", "IV"):
        full = [r for r in table_rows(t) if not r.params]
        assert {r.label for r in full} == {"mf+amae", "dmf+amae"}
    iv = table_rows("IV")
    assert sum(r.params.get("no_attention", False) for r in iv) == 2  # one per backbone
    iii = {r.label: r.params for r in table_rows("III")}
    assert iii["dmf+amae-text"]["modalities"] == ["text"]
    assert iii["mf+amae-ctx"]["contexts"] == ["contextual"]


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
    assert applicability(rows["mf+amae-text"], REGISTRY, True, feature_groups=["text_h"]) is None


def test_paper_numbers_are_marked_not_invented() -> None:
    for r in table_rows("II") + table_rows("III") + table_rows("IV"):
        assert paper_value(r.paper_key) is not None, r.paper_key  # every row has a paper slot
    assert paper_value("II/mf") in (NOT_TRANSCRIBED,) or isinstance(paper_value("II/mf"), dict)
    assert paper_value("") is None
