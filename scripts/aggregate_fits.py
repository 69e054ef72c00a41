"""Snakemake wrapper: join all fits with training metrics into results/fits.csv and fits.nc."""

from htmu.study.pipeline import aggregate_fits, job_log

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0]):
    # the config is recorded in the provenance only: not a param, so that no change of it reruns this job
    aggregate_fits(sm.input.fits, sm.input.summaries, sm.output.csv, sm.output.nc, sm.config)
