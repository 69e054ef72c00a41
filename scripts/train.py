"""Snakemake wrapper: train one (architecture, batch size, seed); checkpoints, metrics, summary."""

from pathlib import Path

from htmu.study.pipeline import job_log, run_train

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0]):
    run_train(
        sm.wildcards.run,
        sm.input.subset,
        Path(sm.output.summary).parent,
        sm.params.training,
        sm.params.epochs,
        sm.params.resume_dir,
    )
