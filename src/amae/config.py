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


SPLIT_METHODS = ("temporal", "random")


def check_device(device: str) -> str:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N``, and CUDA only where it exists: a DataError otherwise."""
    if device in ("auto", "cpu"):
        return device
    if device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit()):
        import torch

        if not torch.cuda.is_available():
            raise DataError(f"--device {device}: no CUDA device is available here (use auto or cpu)")
        return device
    raise DataError(f"--device {device!r}: use auto, cpu, cuda or cuda:N")


def _expect(where: str, value: Any, kind: type | tuple[type, ...], what: str) -> None:
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)) \
            or not isinstance(value, kind):
        raise DataError(f"{where}: expected {what}, got {value!r}")


def validate_settings(settings: Settings, where: str) -> Settings:
    """Every value has the type and range it needs; the error names the setting."""
    sp = settings.split
    if sp.method not in SPLIT_METHODS:
        raise DataError(f"{where} [split] method = {sp.method!r}: use one of {', '.join(SPLIT_METHODS)}")
    for name in ("test_fraction", "valid_fraction"):
        v = getattr(sp, name)
        _expect(f"{where} [split] {name}", v, (int, float), "a number")
        if not 0 < v < 1:
            raise DataError(f"{where} [split] {name} = {v!r}: must lie strictly between 0 and 1")
    for name in ("n_negatives", "seed"):
        _expect(f"{where} [split] {name}", getattr(sp, name), int, "an integer")
    if sp.n_negatives < 1 or sp.seed < 0:
        raise DataError(f"{where} [split]: n_negatives must be >= 1 and seed >= 0")
    tr = settings.train
    if not isinstance(tr.seeds, list) or not tr.seeds or not all(isinstance(x, int) and not isinstance(x, bool)
                                                               and x >= 0 for x in tr.seeds):
        raise DataError(f"{where} [train] seeds = {tr.seeds!r}: expected a non-empty list of integers >= 0")
    _expect(f"{where} [train] device", tr.device, str, "a string")
    _expect(f"{where} [train] progress", tr.progress, bool, "true or false")
    if not isinstance(tr.models, dict) or not all(isinstance(v, dict) for v in tr.models.values()):
        raise DataError(f"{where} [train.models]: expected tables such as [train.models.mf]")
    return settings


def load_settings(path: Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Defaults, then the TOML file (if any), then ``overrides`` (from CLI flags), then validation."""
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
    return validate_settings(settings, str(path) if path is not None else "settings")


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
