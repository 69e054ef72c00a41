"""Atomic writes of small text outputs: a killed job leaves nothing that looks complete."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd


def write_text_atomic(text: str, path: str | os.PathLike) -> None:
    """Write ``text`` to a temporary name beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_csv_atomic(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``df`` as CSV (no index) atomically."""
    write_text_atomic(df.to_csv(index=False), path)
