"""Atomic outputs: what a killed writer leaves is swept, what a live writer holds is kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from amae.data.io import atomic_folder, atomic_path, sweep_abandoned


def _temporary_of_dead_process(folder: Path) -> Path:
    """Start a writer that is killed inside ``atomic_folder``: its temporary stays behind."""
    code = ("import os, signal, sys; from pathlib import Path; from amae.data.io import atomic_folder\n"
            "with atomic_folder(Path(sys.argv[1]) / 'cell') as tmp:\n"
            "    (tmp / 'manifest.json').write_text('{}')\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    subprocess.run([sys.executable, "-c", code, str(folder)], check=False)
    (left,) = [p for p in folder.iterdir() if p.name.endswith(".partial")]
    return left


def test_a_killed_writers_folder_is_swept_by_the_next_write(tmp_path: Path) -> None:
    left = _temporary_of_dead_process(tmp_path)
    assert (left / "manifest.json").exists() and not (tmp_path / "cell").exists()
    with atomic_folder(tmp_path / "cell") as tmp:
        (tmp / "metrics.json").write_text("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cell"]


def test_a_live_writers_temporaries_are_kept(tmp_path: Path) -> None:
    with atomic_folder(tmp_path / "cell") as tmp, atomic_path(tmp_path / "table.csv") as file:
        file.write_text("a\n")
        assert sweep_abandoned(tmp_path) == 0 and tmp.exists() and file.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cell", "table.csv"]


def test_other_hidden_files_are_never_touched(tmp_path: Path) -> None:
    for name in (".git", ".cell.otherhost-1.abc.partial", ".notes.txt"):
        (tmp_path / name).mkdir()
    assert sweep_abandoned(tmp_path) == 0
    assert len(list(tmp_path.iterdir())) == 3


def test_sweep_counts_what_it_removed(tmp_path: Path) -> None:
    _temporary_of_dead_process(tmp_path)
    assert sweep_abandoned(tmp_path) == 1 and not list(tmp_path.iterdir())
