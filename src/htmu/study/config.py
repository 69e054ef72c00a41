"""The workflow's configuration: validation against its JSON Schema, defaults filled in, and the run names.

The schema lives in ``workflow/schemas/config.schema.yaml`` (each theory experiment's section is declared with
the experiment and joined to it by :func:`load_schema`); it alone holds the defaults, and this module only
interprets it, so the package stays ignorant of Snakemake while the Snakefile, the tests and direct callers of
:mod:`htmu.study.data` (:func:`validate_dataset`) share one validator. Checks that involve several keys, the
data set's size or the architectures' layers follow the schema (:func:`validate_config`). The module imports
neither torch nor the data sets, so that planning the workflow stays fast: the data sets' sizes live here
(:mod:`htmu.study.data` reads them), and the architectures' parameter names are copied here and checked
against the real models by ``tests/test_config.py``.

Run ``python -m htmu.study.config FILE`` to check a config file before Snakemake reads it (``make run``
does): a YAML error is then reported with its file and line.
"""

from __future__ import annotations

import argparse
import copy
import math
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from htmu.study.experiments import EXPERIMENTS

#: The workflow's schema, in the checkout that holds this package (src/htmu/study -> workflow/schemas).
SCHEMA_PATH = Path(__file__).resolve().parents[3] / "workflow" / "schemas" / "config.schema.yaml"

#: Sizes of the data sets (htmu.study.data reads them from here): scikit-learn's digits (its test subset, 20% by
#: default) and CIFAR-10's two splits.
DIGITS_SIZE = 1797
DIGITS_DEFAULT_TEST = 360
CIFAR10_SIZES = {"train": 50_000, "test": 10_000}


def _with_bias(*modules: str) -> tuple[str, ...]:
    return tuple(f"{m}.{kind}" for m in modules for kind in ("weight", "bias"))


def _resnet_parameters(blocks_per_stage: int) -> tuple[str, ...]:
    names = ["conv1.weight", "bn1.weight", "bn1.bias"]
    for stage in range(1, 5):
        for block in range(blocks_per_stage):
            pre = f"layer{stage}.{block}"
            names += [
                f"{pre}.conv1.weight",
                *_with_bias(f"{pre}.bn1"),
                f"{pre}.conv2.weight",
                *_with_bias(f"{pre}.bn2"),
            ]
            # the first block of stages 2-4 halves the resolution: a 1x1 conv + batch-norm shortcut
            if stage > 1 and block == 0:
                names += [f"{pre}.shortcut.0.weight", *_with_bias(f"{pre}.shortcut.1")]
    return (*names, "fc.weight", "fc.bias")


# Trainable parameters of each architecture, in ``named_parameters`` order (htmu.study.models.build_model).
PARAMETER_NAMES: dict[str, tuple[str, ...]] = {
    "minialexnet": _with_bias("conv1", "conv2", "fc1", "fc2"),
    "lenet": _with_bias("conv1", "conv2", "fc1", "fc2", "fc3"),
    "vgg11": _with_bias(
        *(f"body.{i}" for i in (0, 1, 4, 5, 8, 9, 11, 12, 15, 16, 18, 19, 22, 23, 25, 26)), "fc"
    ),
    "resnet9": _resnet_parameters(1),
    "resnet18": _resnet_parameters(2),
}


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


def _is_layer(arch: str, layer: str) -> bool:
    """Whether ``layer`` selects parameters of ``arch`` as :func:`htmu.spectra.hessian_spectrum` reads it."""
    return any(name == layer or name.startswith(layer + ".") for name in PARAMETER_NAMES[arch])


def _key(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def load_schema(path: str | Path) -> dict:
    """The workflow's JSON Schema: the YAML file at ``path``, with one ``theory.<name>`` section per experiment.

    Each experiment declares its section's keys, bounds and defaults itself
    (:data:`htmu.study.experiments.EXPERIMENTS`), so that adding one touches no schema file.
    """
    with open(path) as fh:
        schema = yaml.safe_load(fh)
    theory = schema["properties"]["theory"]["properties"]
    for name, experiment in EXPERIMENTS.items():
        theory[name] = {"type": "object", "additionalProperties": False, "default": {},
                        "properties": copy.deepcopy(experiment.params)}  # fmt: skip
    return schema


def validate_config(
    config: Mapping[str, Any], schema: Mapping[str, Any], base_dir: str | Path | None = None
) -> dict:
    """Return a validated deep copy of ``config`` with every default filled in.

    Parameters
    ----------
    config : mapping
        The configuration as read from YAML.
    schema : mapping
        The JSON Schema (:func:`load_schema`).
    base_dir : path-like, optional
        Folder that relative paths of the config are read from (the workflow's working directory). When
        given, the files the config names are checked too (``dataset.root`` of CIFAR-10).

    Raises
    ------
    ConfigError
        On the first problem found, as one line: ``config key 'training.momentum': 1.5 is greater than the
        maximum of 1``.
    """
    cfg = copy.deepcopy(dict(config))
    _validate(cfg, schema)
    _check_cross_keys(cfg)
    if base_dir is not None:
        _check_files(cfg, Path(base_dir))
    return cfg


def validate_dataset(dataset: Mapping[str, Any]) -> dict:
    """Return a validated copy of a ``dataset`` config section, defaults filled in, as the workflow checks it.

    The section is checked against the workflow's schema (:data:`SCHEMA_PATH`) and its sizes against the data
    set's (:func:`validate_config` does the same as part of the whole configuration). For direct callers of
    :mod:`htmu.study.data`.

    Raises
    ------
    ConfigError
        On the first problem found, as one line naming the key (``config key 'dataset.n_train': ...``).
    """
    schema = load_schema(SCHEMA_PATH)
    cfg = {"dataset": copy.deepcopy(dataset) if isinstance(dataset, Mapping) else dataset}
    _validate(cfg, {"type": "object", "properties": {"dataset": schema["properties"]["dataset"]}})
    _check_dataset(cfg["dataset"])
    return cfg["dataset"]


def _validate(cfg: dict, schema: Mapping[str, Any]) -> None:
    """Fill ``cfg``'s defaults in place; raise the first error (shallowest key first) as one line."""
    _check_finite(cfg, ())
    errors = sorted(_Validator(schema).iter_errors(cfg), key=lambda e: (len(e.path), list(map(str, e.path))))
    if not errors:
        return
    err = errors[0]
    key = _key(err.path)
    if err.validator == "additionalProperties":
        # name the unknown key itself, and what the mapping takes instead
        allowed = list(err.schema.get("properties", {}))
        unknown = [str(k) for k in err.instance if k not in allowed]
        where = "" if key == "<top level>" else f"{key}."
        raise ConfigError(
            f"config key '{key}': unknown key {', '.join(where + k for k in unknown)} (it takes {', '.join(allowed)})"
        )
    # a tuple entry (e.g. the gamma of a (gamma, kappa) pair) says what it is through its title
    what = f" ({err.schema['title']})" if err.path and "title" in err.schema else ""
    raise ConfigError(f"config key '{key}'{what}: {err.message}")


def _check_finite(value: Any, path: tuple) -> None:
    """NaN and infinities pass JSON Schema's range checks (every comparison with NaN is false)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"config key '{_key(path)}': {value} is not a finite number")
    if isinstance(value, Mapping):
        for key, item in value.items():
            _check_finite(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_finite(item, (*path, i))


def _training_size(dataset: Mapping[str, Any]) -> int:
    """Points in the training subset of a validated ``dataset`` config (its ``n_train`` or the data set's)."""
    if dataset["n_train"] is not None:
        return int(dataset["n_train"])
    if dataset["name"] == "digits":
        n_test = DIGITS_DEFAULT_TEST if dataset["n_test"] is None else dataset["n_test"]
        return DIGITS_SIZE - n_test
    return CIFAR10_SIZES["train"]  # cifar10; synthetic requires n_train


def _check_cross_keys(cfg: dict) -> None:
    """Constraints that involve several keys, which JSON Schema cannot express."""
    snapshots = set(cfg["training"]["snapshot_epochs"])
    for i, stage in enumerate(cfg["spectra"]["stages"]):
        m = re.fullmatch(r"epoch(\d+)", stage)
        if m and int(m.group(1)) not in snapshots:
            raise ConfigError(
                f"config key 'spectra.stages[{i}]': {stage!r} needs {int(m.group(1))} in training.snapshot_epochs"
            )
    for name, experiment in EXPERIMENTS.items():
        message = experiment.check(cfg["theory"][name]) if experiment.check else None
        if message:
            raise ConfigError(message)
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
    _check_dataset(ds)

    # Sizes beyond the training subset would silently shrink to it.
    n_train = _training_size(ds)
    subset = f"the training subset ({n_train} points)"
    for i, batch_size in enumerate(cfg["batch_sizes"]):
        if batch_size > n_train:
            raise ConfigError(
                f"config key 'batch_sizes[{i}]': batch size {batch_size} is larger than {subset}"
            )
    spectra = cfg["spectra"]
    for kind in ("ntk", "ck", "hessian"):
        n = spectra[kind]["n"]
        if kind in spectra["matrices"] and n is not None and n > n_train:
            raise ConfigError(f"config key 'spectra.{kind}.n': {n} points is more than {subset}")

    hessian = spectra["hessian"]
    if "hessian" in spectra["matrices"] and hessian["layer"] is not None:
        for arch in hessian["architectures"] or cfg["architectures"]:
            if not _is_layer(arch, hessian["layer"]):
                layers = list(dict.fromkeys(name.rsplit(".", 1)[0] for name in PARAMETER_NAMES[arch]))
                raise ConfigError(
                    f"config key 'spectra.hessian.layer': {hessian['layer']!r} is not a layer of {arch} "
                    f"(its layers: {', '.join(layers)})"
                )


def _check_dataset(ds: dict) -> None:
    """The data set's sizes (constraints between the keys of a validated ``dataset`` section)."""
    if ds["name"] == "digits" and ds["n_train"] is not None:
        n_test = DIGITS_DEFAULT_TEST if ds["n_test"] is None else ds["n_test"]
        if ds["n_train"] + n_test > DIGITS_SIZE:
            raise ConfigError(
                f"config key 'dataset.n_train': digits has {DIGITS_SIZE} images, n_train + n_test "
                f"({ds['n_train']} + {n_test}) exceeds it"
            )
    if ds["name"] == "cifar10":
        for split in ("train", "test"):
            n = ds[f"n_{split}"]
            if n is not None and n > CIFAR10_SIZES[split]:
                raise ConfigError(
                    f"config key 'dataset.n_{split}': {n} exceeds the {CIFAR10_SIZES[split]} CIFAR-10 {split} images"
                )
    if ds["name"] == "synthetic":
        for key in ("n_train", "n_test"):
            if ds[key] is None:
                raise ConfigError(
                    f"config key 'dataset.{key}': required (an integer) for the synthetic data set"
                )


def _check_files(cfg: dict, base_dir: Path) -> None:
    """Files the config names exist (relative paths are read from ``base_dir``)."""
    ds = cfg["dataset"]
    if ds["name"] == "cifar10" and not ds["download"]:
        folder = (base_dir / ds["root"]).resolve() / "cifar-10-batches-py"
        if not folder.is_dir():
            raise ConfigError(
                f"config key 'dataset.root': {folder} does not exist; point dataset.root at the folder holding "
                "cifar-10-batches-py, or set dataset.download: true where a network exists"
            )


# --------------------------------------------------------------------------------------------- run names
def run_name(arch: str, batch_size: int, seed: int) -> str:
    """The name of one training run of the sweep: ``('minialexnet', 64, 0)`` -> ``'minialexnet_bs64_s0'``."""
    return f"{arch}_bs{int(batch_size)}_s{int(seed)}"


def parse_run(run: str) -> tuple[str, int, int]:
    """``'minialexnet_bs64_s0'`` -> ``('minialexnet', 64, 0)`` (the inverse of :func:`run_name`)."""
    arch, bs, seed = run.rsplit("_", 2)
    return arch, int(bs[2:]), int(seed[1:])


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def _yaml_error(path: str | Path, exc: yaml.YAMLError) -> ConfigError:
    mark = getattr(exc, "problem_mark", None)
    if mark is None:
        return ConfigError(f"config file {path} is not valid YAML: {str(exc).splitlines()[0]}")
    context = ""
    if getattr(exc, "context", None):
        where = exc.context_mark
        at = f" at line {where.line + 1}, column {where.column + 1}" if where is not None else ""
        context = f" ({exc.context}{at})"
    return ConfigError(
        f"config file {path}, line {mark.line + 1}, column {mark.column + 1}: {exc.problem}{context}"
    )


def load_config(path: str | Path, schema_path: str | Path, base_dir: str | Path | None = None) -> dict:
    """Read a YAML config file and validate it (see :func:`validate_config`).

    Raises
    ------
    ConfigError
        One line: a missing file, a YAML error with its file, line and column, a key given twice, or the
        first invalid value.
    """
    try:
        with open(path) as fh:
            raw = yaml.load(fh, Loader=_UniqueKeyLoader)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory") from None
    except yaml.YAMLError as exc:
        raise _yaml_error(path, exc) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path} must hold a mapping of keys")
    return validate_config(raw, load_schema(schema_path), base_dir)


def main(argv: list[str] | None = None) -> int:
    """``python -m htmu.study.config``: check config files as the workflow will, one line per problem."""
    parser = argparse.ArgumentParser(prog="python -m htmu.study.config", description=main.__doc__)
    parser.add_argument("files", nargs="+", metavar="FILE", help="YAML config files")
    parser.add_argument(
        "--schema", default=SCHEMA_PATH, help=f"the workflow's config.schema.yaml (default: {SCHEMA_PATH})"
    )
    parser.add_argument(
        "--base-dir", default=".", help="the workflow's working directory (relative paths; default: .)"
    )
    args = parser.parse_args(argv)
    status = 0
    for path in args.files:
        try:
            load_config(path, args.schema, args.base_dir)
        except ConfigError as err:
            print(f"htmu: invalid configuration: {err}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
