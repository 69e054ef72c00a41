"""The study: the Snakemake workflow's science, from a data subset to the scorecard of the paper's claims.

It uses the tool (:mod:`htmu`: laws, fits, ensembles, spectra) and is never imported by it. One module per
stage or concern:

==================  ===================================================================================
``config``          the workflow's configuration: validation against its schema, the sweep's run names
``data``            seeded subsets of digits, CIFAR-10 and a synthetic power-law-covariance task
``models``          the architectures (:data:`htmu.study.models.ARCHITECTURES`)
``train``           resumable, deterministic SGD training and its checkpoints
``stores``          the NetCDF stores of spectra and the layout of the fits table
``experiments``     the checks of the theory on sampled random matrices
``claims``          the scorecard: one verdict per claim of the paper
``figures``         the study's figures
``compare``         WeightWatcher's alpha next to htmu's kappa
``pipeline``        one function per workflow stage, on plain paths and dicts (what ``scripts/`` call)
``provenance``      the attributes stamped on every file the workflow writes
==================  ===================================================================================
"""
