"""Typed settings with TOML files: defaults here, a file overrides them, flags override the file.

The settings actually used are saved beside every output, so any number can be traced back.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import tomli_w

from amae.data.io import DataError, write_text


@dataclass
class SplitSettings:
    method: str = "temporal"
    test_fraction: float = 0.2
    valid_fraction: float = 0.1
    n_negatives: int = 99
    seed: int = 0


@dataclass
class TrainSettings:
    seeds: list[int] = field(default_factory=lambda: [0])
    device: str = "auto"
    progress: bool = True
    #: per-model hyper-parameters, e.g. {"mf": {"dim": 16, "lr": 0.005}}
    models: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Settings:
    split: SplitSettings = field(default_factory=SplitSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    features: dict[str, Any] = field(default_factory=dict)
    amae: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return _drop_none(asdict(self))


def _drop_none(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _drop_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_drop_none(v) for v in obj]
    return obj


def _merge_into(target: Any, values: dict[str, Any], where: str) -> None:
    known = {f.name for f in fields(target)}
    for key, value in values.items():
        if key not in known:
            raise DataError(f"{where}: unknown setting '{key}' (known: {', '.join(sorted(known))})")
        current = getattr(target, key)
        if hasattr(current, "__dataclass_fields__") and isinstance(value, dict):
            _merge_into(current, value, f"{where}.{key}")
        elif isinstance(current, dict) and isinstance(value, dict):
            current.update(value)
        else:
            setattr(target, key, value)


def load_settings(path: Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Defaults, then the TOML file (if any), then ``overrides`` (from CLI flags)."""
    settings = Settings()
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise DataError(f"{path}: config file not found")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise DataError(f"{path}: invalid TOML: {exc}") from exc
        _merge_into(settings, data, str(path))
    if overrides:
        _merge_into(settings, overrides, "command line")
    return settings


def save_settings(path: Path, settings: Settings | dict[str, Any]) -> Path:
    data = settings.to_dict() if isinstance(settings, Settings) else _drop_none(settings)
    return write_text(path, tomli_w.dumps(data))


def parse_params(pairs: list[str] | None) -> dict[str, Any]:
    """``["dim=32", "lr=0.01", "cosine=true"]`` -> typed dict (TOML value syntax)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise DataError(f"--param '{pair}': expected key=value")
        key, raw = pair.split("=", 1)
        try:
            out[key.strip()] = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = raw
    return out
