"""Snakemake wrapper: one verdict per claim of the paper, as CSV and as an RST table for the report."""

from htmu.study.pipeline import job_log, make_scorecard

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0]):
    make_scorecard(dict(sm.input.items()), sm.output.csv, sm.output.intro, sm.params.intro)
