"""The registries are the single declaration of the study's parts; what reads a copy of them must agree.

Experiments (htmu.study.experiments.EXPERIMENTS), claims (htmu.study.claims.CLAIMS), figures
(htmu.study.figures.FIGURES), the estimator's methods and the schema's enums: the workflow, the schema, the
CLI and the scorecard either read them or are checked here against them.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from htmu.study.claims import CLAIMS, SCORECARD_COLUMNS, build_scorecard
from htmu.study.config import load_schema
from htmu.study.experiments import EXPERIMENTS
from htmu.study.figures import FIGURES

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"
#: the tables the workflow writes besides the experiments' (workflow/rules/common.smk: TABLES)
WORKFLOW_TABLES = {"spectra", "fits"}


def _tables() -> dict[str, str]:
    out = {}
    for name, experiment in EXPERIMENTS.items():
        for table, file in experiment.outputs.items():
            assert table not in out and table not in WORKFLOW_TABLES, (
                f"{name}: table {table!r} declared twice"
            )
            out[table] = file
    return out


def test_experiments_declare_unique_tables_streams_and_valid_defaults():
    files = _tables()
    assert len(set(files.values())) == len(files)
    assert all(f.endswith((".csv", ".nc")) for f in files.values())
    streams = [e.stream for e in EXPERIMENTS.values()]
    assert len(set(streams)) == len(streams)
    for name, experiment in EXPERIMENTS.items():
        section = {"type": "object", "additionalProperties": False, "properties": experiment.params}
        assert all("default" in spec for spec in experiment.params.values()), name
        jsonschema.Draft7Validator(section).validate(
            experiment.defaults()
        )  # the defaults obey their own bounds
        assert experiment.check is None or experiment.check(experiment.defaults()) is None, name


def test_the_schema_takes_the_experiments_sections():
    theory = load_schema(SCHEMA)["properties"]["theory"]["properties"]
    assert set(theory) == {"seed", *EXPERIMENTS}
    for name, experiment in EXPERIMENTS.items():
        assert theory[name]["properties"] == experiment.params


def test_claims_and_figures_read_tables_that_exist():
    known = WORKFLOW_TABLES | set(_tables())
    for name, claim in CLAIMS.items():
        assert set(claim.inputs) <= known, name
        params = inspect.signature(claim.score).parameters
        assert len([p for p in params if p not in ("rng", "n_boot")]) == len(claim.inputs), name
        assert claim.bootstrap == ("rng" in params), name
    for name, spec in FIGURES.items():
        assert set(spec.inputs) <= known, name
        assert (ROOT / "workflow/report" / spec.caption).is_file(), f"{name}: no caption {spec.caption}"


def test_scorecard_rows_follow_the_registry():
    card = build_scorecard(None)
    assert list(card.columns) == list(SCORECARD_COLUMNS)
    with pytest.raises(ValueError, match=r"no claim reads them"):
        build_scorecard(None, ensemble_eigs=None)


def test_the_workflow_has_one_rule_per_experiment(tmp_path):
    snakemake = Path(sys.executable).parent / "snakemake"
    proc = subprocess.run(
        [snakemake, "--list-rules", "--snakefile", ROOT / "Snakefile", "--configfile",
         ROOT / "tests/configs/tiny.yaml", "--directory", tmp_path],
        capture_output=True, text=True, timeout=120, env={"PATH": f"{snakemake.parent}:/usr/bin:/bin"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    rules = set(proc.stdout.split())
    assert {f"theory_{name}" for name in EXPERIMENTS} <= rules
    assert {"figures", "scorecard"} <= rules
    assert not {r for r in rules if r.startswith("theory_")} - {f"theory_{name}" for name in EXPERIMENTS}


def test_cli_choices_are_the_estimators_and_the_spectra_modules():
    from htmu.cli import build_parser
    from htmu.fit.estimate import FORMS, METHODS
    from htmu.spectra import CONV_MODES

    sub = build_parser()._subparsers._group_actions[0].choices
    choices = {(cmd, a.dest): tuple(a.choices) for cmd, p in sub.items() for a in p._actions if a.choices}
    assert choices[("fit", "method")] == METHODS
    assert choices[("fit", "form")] == FORMS
    assert choices[("analyze", "conv")] == CONV_MODES


def test_schema_enums_agree_with_the_modules():
    from htmu.spectra import MATRICES
    from htmu.study.models import INITS
    from htmu.study.train import SCHEDULES

    props = load_schema(SCHEMA)["properties"]
    assert props["spectra"]["properties"]["matrices"]["items"]["enum"] == list(MATRICES)
    assert props["training"]["properties"]["schedule"]["enum"] == list(SCHEDULES)
    assert props["training"]["properties"]["init"]["enum"] == list(INITS)


def test_train_defaults_are_the_schemas():
    """train() is also called outside the workflow; its keyword defaults must be the config's."""
    from htmu.study.train import train

    training = load_schema(SCHEMA)["properties"]["training"]["properties"]
    sig = inspect.signature(train).parameters
    # threads: the workflow's jobs take 1 thread each; a direct call leaves torch's thread count alone (None)
    for key in set(training) - {"threads"}:
        default = sig[key].default
        assert (list(default) if isinstance(default, tuple) else default) == training[key]["default"], key
