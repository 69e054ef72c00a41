"""Snakemake wrapper: WeightWatcher's metrics next to htmu's kappa (WeightWatcher itself runs in a subprocess).

Not named weightwatcher.py: Snakemake puts this script's folder on sys.path, where that name would shadow the package.
"""

import sys

from htmu.study.compare import run_compare
from htmu.study.pipeline import job_log

sm = snakemake  # noqa: F821 (injected by Snakemake)
with job_log(sm.log[0]):
    status = run_compare(
        sm.input.checkpoints,
        sm.input.fits,
        sm.output.csv,
        sm.output.correlations,
        sm.output.figures,
        seed=sm.params.seed,
        layer_types=sm.params.layer_types,
    )
if status != "ok":
    # the one line a user without the optional extra sees on the console (the job log has it too)
    print(f"htmu: WeightWatcher comparison {status}", file=sys.stderr)
