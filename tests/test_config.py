"""The configuration schema: both shipped configs validate; a wrong value stops snakemake with one line."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from htmu.config import ConfigError, load_config, load_schema, validate_config

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"


@pytest.fixture(scope="module")
def schema():
    return load_schema(SCHEMA)


@pytest.fixture(scope="module")
def default(schema):
    return yaml.safe_load((ROOT / "config/config.yaml").read_text())


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml"])
def test_shipped_configs_validate(name):
    cfg = load_config(ROOT / "config" / name, SCHEMA)
    assert cfg["epochs"] >= 1 and cfg["batch_sizes"] and cfg["seeds"]
    # defaults are filled at every depth
    assert "max_memory_mb" in cfg["spectra"]["ntk"]
    assert cfg["fit"]["min_eigenvalues"] == 20


def test_default_config_is_offline_digits_with_the_papers_architectures(default):
    assert default["dataset"]["name"] == "digits"
    assert {"minialexnet", "lenet"} <= set(default["architectures"])
    assert len(default["seeds"]) >= 2


def test_paper_config_is_cifar10_with_all_five_architectures():
    cfg = load_config(ROOT / "config/paper.yaml", SCHEMA)
    assert cfg["dataset"]["name"] == "cifar10"
    assert set(cfg["architectures"]) == {"minialexnet", "lenet", "vgg11", "resnet9", "resnet18"}
    assert {1000, 800, 250, 100, 50, 5} <= set(cfg["batch_sizes"])
    assert cfg["spectra"]["ntk"]["n"] == 1000


@pytest.mark.parametrize(
    ("patch", "key"),
    [
        ({"epochs": 0}, "'epochs'"),
        ({"batch_sizes": [64, -1]}, "'batch_sizes[1]'"),
        ({"seeds": []}, "'seeds'"),
        ({"architectures": ["alexnet"]}, "'architectures[0]'"),
        ({"dataset": {"name": "mnist"}}, "'dataset.name'"),
        ({"training": {"momentum": 1.5}}, "'training.momentum'"),
        ({"spectra": {"matrices": ["jacobian"]}}, "'spectra.matrices[0]'"),
        ({"spectra": {"stages": ["epoch7"]}}, "'spectra.stages[0]'"),
        ({"bogus_key": 1}, "<top level>"),
        ({"dataset": {"name": "digits", "alpha": 1.0}}, "'dataset'"),
    ],
)
def test_bad_values_name_the_key(default, schema, patch, key):
    cfg = copy.deepcopy(default)
    cfg.update(patch)
    with pytest.raises(ConfigError) as err:
        validate_config(cfg, schema)
    msg = str(err.value)
    assert key in msg and "\n" not in msg


def test_missing_required_key(default, schema):
    cfg = copy.deepcopy(default)
    del cfg["epochs"]
    with pytest.raises(ConfigError, match="'epochs' is a required property"):
        validate_config(cfg, schema)


def test_validation_does_not_mutate_input(default, schema):
    cfg = copy.deepcopy(default)
    validate_config(cfg, schema)
    assert cfg == default


def test_snakemake_stops_with_one_line_before_any_job(tmp_path):
    bad = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    bad["training"]["weight_decay"] = -1
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(
        [Path(sys.executable).parent / "snakemake", "-n", "--snakefile", ROOT / "Snakefile", "--directory",
         tmp_path, "--configfile", path, "--cores", "1"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if "htmu:" in ln]
    assert lines == [
        "htmu: invalid configuration: config key 'training.weight_decay': -1 is less than the minimum of 0"
    ]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "results").exists()
