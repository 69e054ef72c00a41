"""htmu: heavy-tailed mechanistic universality.

The HTMP law and its inverse (``htmp``, ``invhtmp``), samplers with known kappa, estimators with
calibrated intervals, and the network-spectra machinery behind the Snakemake study.

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
    "fit_htmp": "htmu.estimate",
    "FitResult": "htmu.estimate",
    "fit_mp": "htmu.estimate",
    "fit_powerlaw": "htmu.estimate",
    "select_law": "htmu.selection",
    "LawSelection": "htmu.selection",
    "analyze": "htmu.analysis",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'htmu' has no attribute {name!r}")
