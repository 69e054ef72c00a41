"""Snakemake wrapper: every figure of the study, in every configured format."""

from pathlib import Path

from htmu.study.pipeline import job_log, make_figures

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0]):
    make_figures(dict(sm.input.items()), Path(sm.output[0]).parent, sm.params.figures, sm.params.formats)
