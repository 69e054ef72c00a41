"""The study: the Snakemake workflow's science, from a data subset to the scorecard of the paper's claims.

It uses the tool (:mod:`htmu`: laws, fits, ensembles, spectra) and is never imported by it. One module per
stage or concern:

==================  ===================================================================================
``config``          the workflow's configuration: validation against its schema, the sweep's run names
``data``            seeded subsets of digits, CIFAR-10 and a synthetic power-law-covariance task
``models``          the architectures (:data:`htmu.study.models.ARCHITECTURES`)
``train``           resumable, deterministic SGD training and its checkpoints
``stores``          the NetCDF stores of spectra: one layout for every matrix, file and study
``experiments``     the checks of the theory on sampled matrices; :data:`~htmu.study.experiments.EXPERIMENTS`
``claims``          the scorecard, one verdict per claim; :data:`~htmu.study.claims.CLAIMS`
``figures``         the study's figures; :data:`~htmu.study.figures.FIGURES`
``compare``         WeightWatcher's alpha next to htmu's kappa
``pipeline``        one function per workflow stage, on plain paths and dicts (what ``scripts/`` call)
``provenance``      the attributes stamped on every file the workflow writes
==================  ===================================================================================

The registries (``EXPERIMENTS``, ``CLAIMS``, ``FIGURES``) declare each part once, with its tables, config section,
resources and caption; the Snakefile, the config schema and the scorecard read them.
"""
