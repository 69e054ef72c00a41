"""Validation of the workflow configuration against its JSON Schema, with defaults filled in.

The schema lives in ``workflow/schemas/config.schema.yaml``; this module only interprets it, so the
package stays ignorant of Snakemake while the Snakefile and the tests share one validator.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml


class ConfigError(ValueError):
    """A configuration value is missing, of the wrong type or out of range (message names the key)."""


def _with_defaults(validator_class):
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for key, subschema in properties.items():
                if "default" in subschema and key not in instance:
                    instance[key] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_Validator = _with_defaults(jsonschema.Draft7Validator)


def _key(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def load_schema(path: str | Path) -> dict:
    with open(path) as fh:
        return yaml.safe_load(fh)


def validate_config(config: Mapping[str, Any], schema: Mapping[str, Any]) -> dict:
    """Return a validated deep copy of ``config`` with every default filled in.

    Raises
    ------
    ConfigError
        On the first problem found, as one line: ``config key 'training.momentum': 1.5 is greater than the
        maximum of 1``.
    """
    cfg = copy.deepcopy(dict(config))
    errors = sorted(_Validator(schema).iter_errors(cfg), key=lambda e: (len(e.path), list(map(str, e.path))))
    if errors:
        err = errors[0]
        raise ConfigError(f"config key '{_key(err.path)}': {err.message}")
    _check_cross_keys(cfg)
    return cfg


def _check_cross_keys(cfg: dict) -> None:
    """Constraints that involve several keys, which JSON Schema cannot express."""
    snapshots = set(cfg["training"]["snapshot_epochs"])
    for i, stage in enumerate(cfg["spectra"]["stages"]):
        m = re.fullmatch(r"epoch(\d+)", stage)
        if m and int(m.group(1)) not in snapshots:
            raise ConfigError(
                f"config key 'spectra.stages[{i}]': {stage!r} needs {int(m.group(1))} in training.snapshot_epochs"
            )
    for i, epoch in enumerate(cfg["training"]["snapshot_epochs"]):
        if epoch > cfg["epochs"]:
            raise ConfigError(
                f"config key 'training.snapshot_epochs[{i}]': epoch {epoch} is after the last epoch ({cfg['epochs']})"
            )
    for kind in ("ntk", "hessian"):
        archs = cfg["spectra"][kind]["architectures"]
        for i, arch in enumerate(archs or []):
            if arch not in cfg["architectures"]:
                raise ConfigError(
                    f"config key 'spectra.{kind}.architectures[{i}]': {arch!r} is not in architectures"
                )
    ds = cfg["dataset"]
    if ds["name"] == "digits" and ds["n_train"] is not None and ds["n_test"] is not None:
        if ds["n_train"] + ds["n_test"] > 1797:
            raise ConfigError(
                "config key 'dataset.n_train': digits has 1797 images, n_train + n_test exceeds it"
            )


def load_config(path: str | Path, schema_path: str | Path) -> dict:
    """Read a YAML config file and validate it (see :func:`validate_config`)."""
    try:
        with open(path) as fh:
            raw = yaml.safe_load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path} must hold a mapping of keys")
    return validate_config(raw, load_schema(schema_path))
