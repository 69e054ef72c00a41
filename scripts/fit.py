"""Snakemake wrapper: fit MP, HTMP and a power-law tail to every spectrum of one store."""

from htmu.study.pipeline import job_log, run_fit

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0]):
    run_fit(sm.input.spectra, sm.output[0], sm.params.fit, sm.params.seed)
