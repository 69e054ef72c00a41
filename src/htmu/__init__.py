"""htmu: heavy-tailed mechanistic universality.

The HTMP law and its inverse (``htmp``, ``invhtmp``), samplers with known kappa, estimators with
calibrated intervals, the law of a network's spectra (``analyze``), and the Snakemake study behind them.

Layout: two packages, one direction (the study uses the tool; the tool never imports the study,
``tests/test_layout.py`` checks it)::

    htmu/                 the tool
      laws.py             htmp, invhtmp, marchenko_pastur, stieltjes (numerics in _riccati.py, _hyperu.py)
      fit/                estimate.py: fit_htmp, fit_mp, fit_powerlaw; selection.py: select_law
      ensembles.py        samplers with known kappa (beta-Laguerre, Wishart, structured)
      spectra.py          spectra of a network: weights, NTK, conjugate kernel, Hessian
      analysis.py         analyze(): one row per weight matrix of any PyTorch model
      _workers.py         the process pool analyze() fits its layers in (no PyTorch in the workers)
      stats.py            rank correlation and binomial intervals
      plotting.py         a spectrum with its law (htmu analyze --plots); helpers of the study's figures
      cli.py              the htmu command: htmu fit, htmu analyze
      _io.py              atomic writes, NetCDF reads
    htmu/study/           the study (see its docstring): config, data, models, train, stores, experiments,
                          claims, figures, compare (WeightWatcher), pipeline, provenance

Public names are imported lazily so that ``import htmu`` stays cheap (torch is only loaded by the
modules that train or differentiate networks).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY = {
    "htmp": "htmu.laws",
    "invhtmp": "htmu.laws",
    "marchenko_pastur": "htmu.laws",
    "stieltjes": "htmu.laws",
    "sample_htmp_ensemble": "htmu.ensembles",
    "sample_wishart": "htmu.ensembles",
    "sample_structured": "htmu.ensembles",
    "fit_htmp": "htmu.fit.estimate",
    "FitResult": "htmu.fit.estimate",
    "fit_mp": "htmu.fit.estimate",
    "fit_powerlaw": "htmu.fit.estimate",
    "select_law": "htmu.fit.selection",
    "LawSelection": "htmu.fit.selection",
    "analyze": "htmu.analysis",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'htmu' has no attribute {name!r}")
