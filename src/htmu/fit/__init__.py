r"""Fitting laws to a spectrum: the estimators of :math:`\kappa` and the choice of a spectrum's law.

* :mod:`htmu.fit.estimate` -- :func:`fit_htmp` (maximum likelihood and three simpler estimators,
  :data:`METHODS`, with an interval calibrated on the ensemble), :func:`fit_mp` and :func:`fit_powerlaw`;
* :mod:`htmu.fit.selection` -- :func:`select_law`: which of MP, MP+spikes, HTMP-direct and HTMP-inverse,
  which of the 5+1 phases, and the evidence;
* :mod:`htmu.fit._likelihood` -- the censored HTMP log-likelihood the estimators maximise.
"""

from __future__ import annotations

from htmu.fit.estimate import FORMS, METHODS, FitResult, PowerLawResult, fit_htmp, fit_mp, fit_powerlaw
from htmu.fit.selection import LAWS, PHASES, LawSelection, select_law

__all__ = [
    "FORMS",
    "LAWS",
    "METHODS",
    "PHASES",
    "FitResult",
    "LawSelection",
    "PowerLawResult",
    "fit_htmp",
    "fit_mp",
    "fit_powerlaw",
    "select_law",
]
