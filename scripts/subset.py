"""Snakemake wrapper: seeded random subset of the configured dataset (indices only)."""

from htmu.study.pipeline import job_log, run_subset

with job_log(snakemake.log[0]):  # noqa: F821 (injected by Snakemake)
    run_subset(snakemake.params.dataset, int(snakemake.wildcards.seed), snakemake.output[0])  # noqa: F821
