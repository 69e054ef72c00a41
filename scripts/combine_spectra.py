"""Snakemake wrapper: concatenate every spectra store into results/spectra.nc."""

from htmu.study.pipeline import job_log, run_combine_spectra

with job_log(snakemake.log[0]):  # noqa: F821 (injected by Snakemake)
    run_combine_spectra(list(snakemake.input), snakemake.output[0])  # noqa: F821
