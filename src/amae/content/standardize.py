"""Per-dimension z-score standardisation fitted on training rows only (docs/design.md section 5.3).

Why a small class of our own rather than scikit-learn's ``StandardScaler``: it must stream over
memory-mapped matrices in row chunks, accept a row selection so only training rows are seen by
``fit`` (fitting on all rows would leak test-period statistics), and persist as plain JSON (no
pickle) next to the other artefacts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Standardizer"]

_FORMAT = "amae.standardizer/1"


@dataclass
class Standardizer:
    """z-score per column: ``(x - mean) / std``.

    Columns whose std is below ``eps`` (constant on the training rows) get std 1, so they map to
    ``x - mean`` instead of dividing by ~0.
    """

    eps: float = 1e-8
    mean: np.ndarray | None = field(default=None, repr=False)
    std: np.ndarray | None = field(default=None, repr=False)
    n_fit: int = 0

    @property
    def fitted(self) -> bool:
        return self.mean is not None and self.std is not None

    def fit(self, x: np.ndarray, rows: np.ndarray | None = None, chunk: int = 1 << 16) -> Standardizer:
        """Fit mean and std on ``x[rows]`` (all rows if ``rows`` is None).

        ``rows`` is a bool mask of length ``len(x)`` or an integer index array; pass the training
        rows here. Statistics are accumulated in float64 over row chunks (shifted by the first
        chunk's mean for numerical stability), so ``x`` may be a large memmap.
        """
        if x.ndim != 2:
            raise ValueError(f"Standardizer.fit expects a 2-D array, got shape {x.shape}")
        idx = _row_index(rows, x.shape[0])
        n = x.shape[0] if idx is None else idx.shape[0]
        if n == 0:
            raise ValueError("Standardizer.fit: no rows selected to fit on")
        shift: np.ndarray | None = None
        s1 = np.zeros(x.shape[1], dtype=np.float64)
        s2 = np.zeros(x.shape[1], dtype=np.float64)
        for a in range(0, n, chunk):
            sel = slice(a, min(n, a + chunk)) if idx is None else idx[a : a + chunk]
            block = np.asarray(x[sel], dtype=np.float64)
            if shift is None:
                shift = block.mean(axis=0)
            block -= shift
            s1 += block.sum(axis=0)
            s2 += np.einsum("ij,ij->j", block, block)
        assert shift is not None
        m1 = s1 / n
        var = np.maximum(s2 / n - m1 * m1, 0.0)
        std = np.sqrt(var)
        std[std < self.eps] = 1.0
        self.mean = shift + m1
        self.std = std
        self.n_fit = int(n)
        return self

    def transform(self, x: np.ndarray, out: np.ndarray | None = None, chunk: int = 1 << 16) -> np.ndarray:
        """Return ``(x - mean) / std`` as float32, in row chunks (``out`` may be ``x`` itself)."""
        mean, std = self._params()
        if x.ndim != 2 or x.shape[1] != mean.shape[0]:
            raise ValueError(f"Standardizer.transform expects (n, {mean.shape[0]}), got shape {x.shape}")
        if out is None:
            out = np.empty(x.shape, dtype=np.float32)
        elif out.shape != x.shape:
            raise ValueError(f"out has shape {out.shape}, expected {x.shape}")
        inv = 1.0 / std
        for a in range(0, x.shape[0], chunk):
            block = np.asarray(x[a : a + chunk], dtype=np.float64)
            out[a : a + chunk] = (block - mean) * inv
        return out

    def fit_transform(self, x: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Fit on ``rows`` (training rows) and transform *all* rows of ``x``."""
        return self.fit(x, rows).transform(x)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable state (plain lists of floats)."""
        mean, std = self._params()
        return {
            "format": _FORMAT,
            "eps": self.eps,
            "n_fit": self.n_fit,
            "mean": mean.tolist(),
            "std": std.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Standardizer:
        """Rebuild from :meth:`to_dict` output; raises ``ValueError`` on a malformed dict."""
        if data.get("format") != _FORMAT:
            raise ValueError(f"not a standardizer state: format={data.get('format')!r}, expected {_FORMAT!r}")
        try:
            mean = np.asarray(data["mean"], dtype=np.float64)
            std = np.asarray(data["std"], dtype=np.float64)
        except KeyError as exc:
            raise ValueError(f"standardizer state lacks field {exc}") from exc
        if mean.ndim != 1 or mean.shape != std.shape:
            raise ValueError(
                f"standardizer mean {mean.shape} and std {std.shape} must be equal-length vectors"
            )
        if np.any(~np.isfinite(std)) or np.any(std <= 0):
            raise ValueError("standardizer std must be finite and positive")
        return cls(eps=float(data.get("eps", 1e-8)), mean=mean, std=std, n_fit=int(data.get("n_fit", 0)))

    def save(self, path: str | Path) -> None:
        """Write JSON atomically (temp file, then rename)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict()), encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> Standardizer:
        """Read a file written by :meth:`save`."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from exc
        try:
            return cls.from_dict(data)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc

    def _params(self) -> tuple[np.ndarray, np.ndarray]:
        if self.mean is None or self.std is None:
            raise RuntimeError("Standardizer is not fitted; call fit() on the training rows first")
        return self.mean, self.std


def _row_index(rows: np.ndarray | None, n: int) -> np.ndarray | None:
    if rows is None:
        return None
    rows = np.asarray(rows)
    if rows.dtype == bool:
        if rows.shape != (n,):
            raise ValueError(f"row mask has shape {rows.shape}, expected ({n},)")
        return np.flatnonzero(rows)
    if rows.dtype.kind not in "iu":
        raise ValueError(f"rows must be a bool mask or integer indices, got dtype {rows.dtype}")
    if rows.size and (rows.min() < 0 or rows.max() >= n):
        raise ValueError(f"row indices must be in [0, {n})")
    return rows.astype(np.int64, copy=False)
