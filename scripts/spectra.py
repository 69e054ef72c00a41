"""Snakemake wrapper: the configured spectra of one checkpoint, into one NetCDF store."""

from htmu.study.pipeline import job_log, run_spectra

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0]):
    run_spectra(
        sm.input.model,
        sm.input.summary,
        sm.input.subset,
        sm.output[0],
        sm.params.spectra,
        run=sm.wildcards.run,
        stage=sm.wildcards.stage,
        device=sm.params.device,
        config=sm.config,  # provenance only: not a param, so that other sections' changes rerun nothing here
    )
