"""Snakemake wrapper: one theory experiment on sampled random-matrix ensembles."""

from htmu.study.pipeline import job_log, run_theory

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0]):
    run_theory(sm.params.experiment, sm.params.params, sm.params.seed, dict(sm.output.items()), sm.config)
