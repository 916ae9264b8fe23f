"""The paper's published Table II-IV numbers, shown beside ours where the rows match.

They ship as package data (``data/amae_tables.csv``, transcribed from Shen et al.; its comment
lines are the provenance) and were measured on the authors' private WeChat dataset, not on the
dataset of any amae run, so they are context, never a target to compare against. Reports label
them so. A row's key is ``"<table>|<paper row name>|<backbone>"`` (backbone empty in Table II),
exactly the CSV's ``table``, ``row`` and ``backbone`` columns.
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

DATA_FILE = "amae_tables.csv"


def paper_key(table: str, row: str, backbone: str = "") -> str:
    return f"{table}|{row}|{backbone}"


@cache
def _load() -> tuple[str, dict[str, dict[str, float]]]:
    text = resources.files("amae.experiments").joinpath("data", DATA_FILE).read_text(encoding="utf-8")
    lines = text.splitlines()
    comments = [ln[1:].strip() for ln in lines if ln.startswith("#")]
    body = [ln for ln in lines if ln.strip() and not ln.startswith("#")]
    values: dict[str, dict[str, float]] = {}
    for rec in csv.DictReader(body):
        values[paper_key(rec["table"], rec["row"], rec["backbone"])] = {
            "HR@10": float(rec["HR@10"]), "NDCG@10": float(rec["NDCG@10"])}
    return " ".join(comments), values


def provenance() -> str:
    """The provenance lines of the data file, joined (where the numbers come from and what they measure)."""
    return _load()[0]


def paper_value(key: str) -> dict[str, float] | None:
    """The paper's ``{"HR@10", "NDCG@10"}`` for a row key, or None when the row has no counterpart."""
    if not key:
        return None
    value = _load()[1].get(key)
    return None if value is None else dict(value)


def all_keys() -> list[str]:
    return list(_load()[1])


#: shown next to every paper number in reports
PROVENANCE = ("paper: Shen et al., measured on a different, private dataset (the authors' WeChat data: 163,329 users, "
              "34,140 tracks), sampled protocol (1 positive + 99 negatives); context, not a target on this data")
