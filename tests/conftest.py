"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from amae.data.workspace import load_workspace
from amae.experiments.runs import load_split, run_cell
from tests_helpers import text_workspace

#: the skip reason of a test that needs the public datasets in a clone without them
NEEDS_DATA = "needs the public data (set AMAE_SHARED_DATA)"


def _data_required() -> bool:
    """CI (which has the data) must run every test: there a missing folder is a failure, not a skip."""
    return os.environ.get("AMAE_REQUIRE_SHARED_DATA", "") not in ("", "0") or os.environ.get("CI") == "true"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The public test data folder: ``$AMAE_SHARED_DATA`` or ``<repo>/../shared/data``.

    Missing, it fails in CI and skips elsewhere (a clone without ``../shared`` tests everything else
    and says in one line how many tests need the data).
    """
    default = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    path = Path(os.environ.get("AMAE_SHARED_DATA", default))
    if not path.is_dir():
        if _data_required():
            pytest.fail(f"shared test data not found at {path}; set AMAE_SHARED_DATA")
        pytest.skip(NEEDS_DATA)
    return path.resolve()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line for every test that needs the public data, instead of a reason per test."""
    waiting = [r for r in terminalreporter.stats.get("skipped", [])
               if isinstance(r.longrepr, tuple) and NEEDS_DATA in str(r.longrepr[2])]
    if waiting:
        terminalreporter.write_line(f"{len(waiting)} test(s) {NEEDS_DATA.replace('needs', 'need')}")


SERVING_FAST = {"epochs": 2, "stage1_epochs": 1, "progress": False}


@pytest.fixture(scope="session")
def serving_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Workspace with text features and trained ``mf`` and ``mf+amae`` (seed 0)."""
    ws = text_workspace(tmp_path_factory.mktemp("serving"), n_users=30, n_days=10)
    dataset, split = load_workspace(ws), load_split(ws)
    from amae.models import REGISTRY
    from amae.models.base import known_params

    for name in ("mf", "mf+amae"):  # each model gets the settings it takes (MF has no stage 1)
        known = known_params(REGISTRY[name])
        run_cell(ws, dataset, split, name, 0, {k: v for k, v in SERVING_FAST.items() if k in known})
    return ws
