"""Atomic file writes: every write goes to a temporary file beside the target, then is renamed.

An interrupted run never leaves half a file: the old file stays until the new one is complete.
Used by everything that writes to disk (datasets, checkpoints, training logs, experiment records).
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give results the usual permissions
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_write_text(text: str, path: str | os.PathLike) -> Path:
    """Write `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def atomic_write_json(obj: Any, path: str | os.PathLike) -> Path:
    """Write `obj` as indented, standard JSON to `path` atomically (NaN and infinities become null)."""
    plain = json.loads(json.dumps(obj, default=_to_jsonable))  # numpy/torch values -> plain Python
    text = json.dumps(_finite_or_none(plain), indent=2, allow_nan=False)
    return atomic_write_text(text + "\n", path)


def _finite_or_none(value: Any) -> Any:
    """Replace NaN and infinite floats (not valid JSON) with None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    return value


def atomic_save_torch(obj: Any, path: str | os.PathLike) -> Path:
    """`torch.save` `obj` to `path` atomically."""
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)


def _to_jsonable(value: Any) -> Any:
    """Turn numpy/torch scalars and arrays, paths and dataclasses into plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "__dataclass_fields__"):
        return {k: getattr(value, k) for k in value.__dataclass_fields__}
    raise TypeError(f"cannot write {type(value).__name__} to metrics.json; convert it to a number, string or list")
