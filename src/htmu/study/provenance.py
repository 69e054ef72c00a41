"""Provenance attributes stamped on every file the workflow writes."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from htmu import __version__


def config_hash(config: Any) -> str:
    """Return a short, order-independent SHA-256 of a JSON-serialisable config."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def git_commit(path: str | os.PathLike | None = None) -> str:
    """Return the git commit of the checkout holding ``path`` (``"unknown"`` outside git).

    ``HTMU_GIT_COMMIT`` overrides the lookup, for jobs that run from a copy without ``.git``.
    """
    env = os.environ.get("HTMU_GIT_COMMIT")
    if env:
        return env
    cwd = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
        )
        commit = out.stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def provenance_attrs(config: Any = None, seed: int | None = None, **extra: Any) -> dict[str, str | int]:
    """Attributes that make a result traceable: config hash, seed, package version, git commit.

    Values are strings or ints so that they can be written as NetCDF attributes unchanged.
    """
    attrs: dict[str, str | int] = {
        "htmu_version": __version__,
        "git_commit": git_commit(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
    }
    if config is not None:
        attrs["config_hash"] = config_hash(config)
        attrs["config_json"] = json.dumps(config, sort_keys=True, default=str)
    if seed is not None:
        attrs["seed"] = int(seed)
    for key, value in extra.items():
        attrs[key] = value if isinstance(value, (int, str)) else str(value)
    return attrs
