"""The configuration schema: both shipped configs validate; a wrong value stops snakemake with one line."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from htmu.study.config import ConfigError, load_config, load_schema, validate_config

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


# ------------------------------------------------------------------------- mistakes caught before any job
def _patched(default, *edits):
    """A copy of the default config with ``(dotted.key, value)`` edits; value ``DELETE`` removes the key."""
    cfg = copy.deepcopy(default)
    for key, value in edits:
        *parents, last = key.split(".")
        node = cfg
        for part in parents:
            node = node.setdefault(part, {})
        if value is DELETE:
            node.pop(last, None)
        else:
            node[last] = value
    return cfg


DELETE = object()
NAN, INF = float("nan"), float("inf")

# (edits of config/config.yaml, the exact one-line message); the default trains on 1297 digits
MISTAKES = [
    ([("training.lr_scale", NAN)], "config key 'training.lr_scale': nan is not a finite number"),
    ([("training.lr_scale", INF)], "config key 'training.lr_scale': inf is not a finite number"),
    ([("theory.ensemble.grid", [[0.5, -INF]])], "config key 'theory.ensemble.grid[0][1]': -inf is not a finite number"),
    ([("theory.ensemble.grid", [[1.5, 2.0]])],
     "config key 'theory.ensemble.grid[0][0]' (gamma): 1.5 is greater than or equal to the maximum of 1"),
    ([("theory.scaling.grid", [[2.0, 1.0, 0.5]])],
     "config key 'theory.scaling.grid[0][1]' (gamma): 1.0 is greater than or equal to the maximum of 1"),
    ([("theory.scaling.grid", [[2.0, 0.5, 0.0]])],
     "config key 'theory.scaling.grid[0][2]' (ell): 0.0 is less than or equal to the minimum of 0"),
    ([("theory.estimator.gamma", 1.5)], "config key 'theory.estimator.gamma': 1.5 is greater than or equal to the maximum of 1"),
    ([("theory.structure.gamma", 0)], "config key 'theory.structure.gamma': 0 is less than or equal to the minimum of 0"),
    ([("theory.correlation.gamma", 1)], "config key 'theory.correlation.gamma': 1 is greater than or equal to the maximum of 1"),
    ([("spectra.ntk.n", 5000)], "config key 'spectra.ntk.n': 5000 points is more than the training subset (1297 points)"),
    ([("spectra.ck.n", 1298)], "config key 'spectra.ck.n': 1298 points is more than the training subset (1297 points)"),
    ([("spectra.hessian.n", 2000)],
     "config key 'spectra.hessian.n': 2000 points is more than the training subset (1297 points)"),
    ([("batch_sizes", [64, 2048])],
     "config key 'batch_sizes[1]': batch size 2048 is larger than the training subset (1297 points)"),
    # n_train null: all of digits but the test split (its default, 360 images, when that is null too)
    ([("dataset.n_train", None), ("dataset.n_test", None), ("batch_sizes", [1438])],
     "config key 'batch_sizes[0]': batch size 1438 is larger than the training subset (1437 points)"),
    ([("dataset.n_train", 1500), ("dataset.n_test", None)],
     "config key 'dataset.n_train': digits has 1797 images, n_train + n_test (1500 + 360) exceeds it"),
    ([("dataset", {"name": "cifar10", "download": True}), ("batch_sizes", [50_001])],
     "config key 'batch_sizes[0]': batch size 50001 is larger than the training subset (50000 points)"),
    ([("dataset", {"name": "cifar10", "n_test": 10_001})],
     "config key 'dataset.n_test': 10001 exceeds the 10000 CIFAR-10 test images"),
    ([("dataset", {"name": "synthetic", "n_test": 100})],
     "config key 'dataset.n_train': required (an integer) for the synthetic data set"),
    ([("spectra.hessian.layer", "fc9")],
     "config key 'spectra.hessian.layer': 'fc9' is not a layer of lenet (its layers: conv1, conv2, fc1, fc2, fc3)"),
    # null architectures: every architecture of the study, and MiniAlexNet has no fc3
    ([("spectra.hessian.architectures", None)],
     "config key 'spectra.hessian.layer': 'fc3' is not a layer of minialexnet (its layers: conv1, conv2, fc1, fc2)"),
    ([("report.figure_formats", [])], "config key 'report.figure_formats': [] should be non-empty"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("edits", "message"), MISTAKES, ids=[m[1].split("'")[1] + str(i) for i, m in enumerate(MISTAKES)]
)
def test_mistakes_are_refused_with_one_exact_line(default, schema, edits, message):
    with pytest.raises(ConfigError) as err:
        validate_config(_patched(default, *edits), schema)
    assert str(err.value) == message


@pytest.mark.parametrize(
    "edits",
    [
        [("spectra.matrices", ["weight", "ck"]), ("spectra.ntk.n", 5000), ("spectra.hessian.layer", "fc9")],
        [("spectra.hessian.layer", "fc3.weight")],  # one parameter
        [("architectures", ["resnet9"]), ("spectra.hessian.architectures", None), ("spectra.ntk.architectures", None),
         ("spectra.hessian.layer", "layer2.0")],  # a block of modules
        [("batch_sizes", [1297]), ("spectra.ck.n", 1297)],  # exactly the subset
    ],
)  # fmt: skip
def test_sizes_and_layers_that_are_used_as_given_are_accepted(default, schema, edits):
    # the settings of a matrix that is not computed are not held against the subset
    validate_config(_patched(default, *edits), schema)


def test_layer_table_is_the_models_parameters():
    from htmu.study.config import PARAMETER_NAMES
    from htmu.study.models import ARCHITECTURES, build_model

    assert (
        set(PARAMETER_NAMES)
        == set(ARCHITECTURES)
        == set(load_schema(SCHEMA)["properties"]["architectures"]["items"]["enum"])
    )
    for arch in ARCHITECTURES:
        names = tuple(name for name, p in build_model(arch, seed=0).named_parameters() if p.requires_grad)
        assert PARAMETER_NAMES[arch] == names, arch


@pytest.mark.parametrize("arch", ["lenet", "minialexnet", "vgg11", "resnet9", "resnet18"])
def test_a_layer_is_accepted_exactly_when_the_hessian_can_select_it(arch):
    from htmu.spectra import _select_params
    from htmu.study.config import _is_layer
    from htmu.study.models import build_model

    model = build_model(arch, seed=0)
    candidates = ["fc", "fc3", "fc3.weight", "fc3.bias", "fc1", "conv", "conv1", "conv1.bias", "body", "body.1",
                  "body.2", "body.25.weight", "layer1", "layer1.0", "layer1.1", "layer1.0.conv", "layer2.0.shortcut",
                  "layer1.0.shortcut", "bn1", "fc.", ""]  # fmt: skip
    for layer in candidates:
        try:
            _select_params(model, layer)
            selectable = True
        except ValueError:
            selectable = False
        assert _is_layer(arch, layer) == selectable, (arch, layer)


def test_data_module_reads_its_defaults_from_the_schema():
    """Direct callers of htmu.study.data get the workflow's defaults: one source of truth, the schema."""
    import htmu.study.data as data

    assert data.validate_dataset_cfg({"name": "cifar10"})["root"] == "data/"
    digits = data.validate_dataset_cfg({"name": "digits"})
    assert (digits["n_train"], digits["n_test"]) == (1797 - 360, 360)
    # the synthetic task's covariance: power_law, as the schema and config/README.md say (data.py once said isotropic)
    synthetic = data.validate_dataset_cfg({"name": "synthetic", "n_train": 20, "n_test": 10})
    assert (
        synthetic["covariance"] == "power_law"
        and synthetic["alpha"] == 1.0
        and synthetic["num_classes"] == 10
    )


def test_cifar10_root_is_checked_where_the_workflow_runs(default, schema, tmp_path):
    cfg = _patched(default, ("dataset", {"name": "cifar10", "root": "cifar"}))
    validate_config(cfg, schema)  # no base_dir: no look at the file system
    with pytest.raises(ConfigError) as err:
        validate_config(cfg, schema, base_dir=tmp_path)
    assert str(err.value) == (
        f"config key 'dataset.root': {tmp_path / 'cifar' / 'cifar-10-batches-py'} does not exist; point "
        "dataset.root at the folder holding cifar-10-batches-py, or set dataset.download: true where a network "
        "exists"
    )
    (tmp_path / "cifar" / "cifar-10-batches-py").mkdir(parents=True)
    validate_config(cfg, schema, base_dir=tmp_path)
    download = _patched(default, ("dataset", {"name": "cifar10", "root": "elsewhere", "download": True}))
    validate_config(download, schema, base_dir=tmp_path)
    default_root = _patched(default, ("dataset", {"name": "cifar10"}))
    with pytest.raises(ConfigError, match="data/cifar-10-batches-py does not exist"):
        validate_config(default_root, schema, base_dir=tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\ndataset: {name: digits\nepochs: 2\n",
         "line 3, column 7: expected ',' or '}', but got ':' (while parsing a flow mapping at line 2, column 10)"),
        ("name: x\nepochs: 2\n  seeds: [0]\n", "line 3, column 8: mapping values are not allowed here"),
        ("name: x\n\tepochs: 2\n",
         "line 2, column 1: found character '\\t' that cannot start any token (while scanning for the next token)"),
        ("name: x\nepochs: 2\nepochs: 3\n", "line 3, column 1: key 'epochs' is given twice"),
    ],
)  # fmt: skip
def test_yaml_errors_name_the_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path, SCHEMA)
    assert str(err.value) == f"config file {path}, {message}"


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "nope.yaml", SCHEMA)
    assert str(err.value) == f"config file {tmp_path / 'nope.yaml'} does not exist"


def _check_config_cli(*files):
    return subprocess.run(
        [sys.executable, "-m", "htmu.study.config", "--schema", SCHEMA, *files],
        capture_output=True, text=True, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT / "src")),
    )  # fmt: skip


def test_the_pre_snakemake_check_prints_one_line_per_bad_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndataset: {name: digits\nepochs: 2\n")
    proc = _check_config_cli(ROOT / "config/config.yaml", bad, tmp_path / "nope.yaml")
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"htmu: invalid configuration: config file {bad}, line 3, column 7: expected ',' or '}}', but got ':' "
        "(while parsing a flow mapping at line 2, column 10)",
        f"htmu: invalid configuration: config file {tmp_path / 'nope.yaml'} does not exist",
    ]
    assert _check_config_cli(ROOT / "config/config.yaml").returncode == 0


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ("training:\n  lr_scale: .nan\n", "config key 'training.lr_scale': nan is not a finite number"),
        ("spectra:\n  matrices: [weight, ntk]\n  ntk: {n: 5000}\n",
         "config key 'spectra.ntk.n': 5000 points is more than the training subset (1297 points)"),
        ("dataset: {name: cifar10, root: cifar}\n",
         "config key 'dataset.root': {workdir}/cifar/cifar-10-batches-py does not exist; point dataset.root at the "
         "folder holding cifar-10-batches-py, or set dataset.download: true where a network exists"),
    ],
)  # fmt: skip
def test_snakemake_plans_nothing_for_a_late_mistake(tmp_path, edit, message):
    # the default config with some top-level keys replaced
    cfg = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    cfg.update(yaml.safe_load(edit))
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))  # PyYAML writes NaN as .nan
    workdir = tmp_path / "work"
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(
        [Path(sys.executable).parent / "snakemake", "-n", "--snakefile", ROOT / "Snakefile", "--directory",
         workdir, "--configfile", path, "--cores", "1"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if "htmu:" in ln]
    assert lines == [f"htmu: invalid configuration: {message.format(workdir=workdir)}"]
    assert "Traceback" not in proc.stderr
    assert not (workdir / "results").exists()


def test_scaling_ratio_too_small_for_the_smallest_n_is_refused():
    cfg = yaml.safe_load(open(ROOT / "config/config.yaml"))
    cfg["theory"]["scaling"] = {"ns": [10, 20, 40], "ratio": 0.1}
    with pytest.raises(ConfigError) as exc:
        validate_config(cfg, load_schema(SCHEMA))
    assert str(exc.value) == (
        "config key 'theory.scaling.ratio': 0.1 x min(ns) = 1 is below the 2 features the proportional setup needs"
    )
