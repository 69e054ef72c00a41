"""Random-matrix ensembles whose spectra have a known HTMP parameter kappa.

Three families:

* :func:`sample_htmp_ensemble` -- the high-temperature beta-Laguerre ensemble (Dumitriu--Edelman
  bidiagonal model with Dyson index ``beta = kappa / n``). Its empirical spectral distribution tends to
  HTMP(gamma, kappa) in the direct form (mean 1), so it is the ground truth for every estimator.
* :func:`sample_wishart` -- the real Wishart (Gram) matrix ``W W^T / m``, whose spectrum tends to
  Marchenko--Pastur MP(gamma) (the ``kappa = inf`` member).
* :func:`sample_structured` -- Wishart-like matrices whose *eigenvector* freedom is deliberately reduced
  (block-diagonal, Kronecker or fixed eigenvectors), for the paper's claim that less eigenvector entropy
  gives heavier tails and a smaller fitted kappa.

All samplers return eigenvalues in the direct form, scaled to mean about 1, sorted ascending, and take
an explicit ``numpy.random.Generator`` (no global random state).

References
----------
I. Dumitriu and A. Edelman, "Matrix models for beta ensembles", J. Math. Phys. 43 (2002) 5830.
L. Hodgkinson, Z. Wang, M. W. Mahoney, "Models of Heavy-Tailed Mechanistic Universality", ICML 2025.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import eigvalsh_tridiagonal

__all__ = ["sample_htmp_ensemble", "sample_wishart", "sample_structured", "STRUCTURES"]

STRUCTURES = ("haar", "block_diagonal", "kronecker", "fixed_eigenvectors")


def _check_common(n: int, gamma: float, rng: np.random.Generator) -> None:
    if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if not (np.isfinite(gamma) and 0.0 < gamma < 1.0):
        raise ValueError(f"gamma must lie in (0, 1), got {gamma!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")


def _bidiagonal_laguerre_eigs(n: int, m: float, beta: float, rng: np.random.Generator) -> np.ndarray:
    """Eigenvalues of ``B B^T`` for the Dumitriu--Edelman beta-Laguerre bidiagonal ``B``.

    ``B`` is lower bidiagonal with diagonal ``d_i = chi(beta (m - i + 1))``, i = 1..n, and subdiagonal
    ``s_i = chi(beta (n - i))``, i = 1..n-1. ``B B^T`` is tridiagonal with diagonal ``d_i^2 + s_{i-1}^2``
    and off-diagonal ``d_i s_i``; ``E tr(B B^T) = beta n m``, so the mean eigenvalue is ``beta m``.
    """
    i = np.arange(1, n + 1, dtype=float)
    d2 = rng.chisquare(beta * (m - i + 1.0))
    s2 = rng.chisquare(beta * (n - i[:-1]))
    diag = d2.copy()
    diag[1:] += s2
    off = np.sqrt(d2[:-1] * s2)
    # 'sterf' (Pal-Walker-Kahan QR) is the fastest eigenvalues-only tridiagonal driver: O(n^2).
    lam = eigvalsh_tridiagonal(diag, off, lapack_driver="sterf")
    return np.sort(lam)


def sample_htmp_ensemble(n: int, gamma: float, kappa: float, rng: np.random.Generator) -> np.ndarray:
    r"""Draw the eigenvalues of the high-temperature beta-Laguerre ensemble, in the HTMP direct form.

    With Dyson index :math:`\beta = \kappa/n` and :math:`M = n/\gamma`, the Dumitriu--Edelman bidiagonal
    :math:`B` has diagonal :math:`d_i = \sqrt{\chi^2(\beta(M - i + 1))}` and subdiagonal
    :math:`s_i = \sqrt{\chi^2(\beta(n - i))}`. The eigenvalues :math:`\lambda` of the tridiagonal
    :math:`B B^\top` (computed in :math:`O(n^2)`) are rescaled to :math:`x = \gamma\lambda/\kappa`, so that
    the empirical law tends to HTMP(:math:`\gamma, \kappa`) with mean 1 and variance
    :math:`\gamma(1 + 2/\kappa)` as :math:`n \to \infty`.

    Parameters
    ----------
    n : int
        Number of eigenvalues (matrix size), at least 2.
    gamma : float
        Aspect ratio in (0, 1).
    kappa : float
        Eigenvalue-repulsion parameter, ``kappa > 0``. ``numpy.inf`` gives the real Wishart ensemble
        (beta = 1, scaled by ``1/M``), whose spectrum tends to Marchenko--Pastur MP(gamma).
    rng : numpy.random.Generator
        Source of randomness; the same seed gives the same eigenvalues.

    Returns
    -------
    numpy.ndarray
        ``n`` eigenvalues, sorted ascending, mean about 1.

    References
    ----------
    Dumitriu & Edelman (2002); Hodgkinson, Wang & Mahoney (2025), the high-temperature limit.
    """
    _check_common(n, gamma, rng)
    if not (kappa > 0.0) or np.isnan(kappa):
        raise ValueError(f"kappa must be > 0 (or inf), got {kappa!r}")
    m = n / gamma
    if np.isinf(kappa):
        # beta = 1 is the real Wishart ensemble; the mean eigenvalue is beta*m = m.
        return _bidiagonal_laguerre_eigs(n, m, 1.0, rng) / m
    beta = kappa / n
    lam = _bidiagonal_laguerre_eigs(n, m, beta, rng)
    return gamma * lam / kappa


def sample_wishart(n: int, gamma: float, rng: np.random.Generator) -> np.ndarray:
    r"""Eigenvalues of the real Wishart matrix :math:`W W^\top / m`, :math:`W` an :math:`n \times m` Gaussian.

    :math:`m = \mathrm{round}(n/\gamma)` and the entries of :math:`W` are iid N(0, 1), so the mean
    eigenvalue is 1 and the empirical law tends to Marchenko--Pastur MP(:math:`n/m`) (mean 1, variance
    :math:`\gamma`). Dense construction, :math:`O(n^2 m)`: use it as an independent check of the
    bidiagonal sampler, not for large ``n``.

    Parameters
    ----------
    n : int
        Number of rows (eigenvalues), at least 2.
    gamma : float
        Aspect ratio in (0, 1); the realised ratio is ``n / round(n / gamma)``.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        ``n`` eigenvalues, sorted ascending.
    """
    _check_common(n, gamma, rng)
    m = int(round(n / gamma))
    w = rng.standard_normal((n, m))
    return np.sort(np.linalg.eigvalsh(w @ w.T / m))


def _wishart_block(rows: int, gamma: float, rng: np.random.Generator) -> np.ndarray:
    cols = max(1, int(round(rows / gamma)))
    w = rng.standard_normal((rows, cols))
    return np.linalg.eigvalsh(w @ w.T / cols)


def sample_structured(
    n: int,
    gamma: float,
    structure: str,
    rng: np.random.Generator,
    *,
    block_size: int = 10,
    factor: int | None = None,
) -> np.ndarray:
    r"""Eigenvalues of a Wishart-like matrix whose eigenvector freedom is reduced by a given structure.

    All four constructions are Gram matrices :math:`W W^\top/\text{cols}` of Gaussian matrices with mean
    eigenvalue 1 and aspect ratio about :math:`\gamma`; they differ only in how many eigenvector degrees of
    freedom the random matrix has. The paper's claim (to be tested by fitting kappa) is that fewer
    eigenvector degrees of freedom give heavier tails, i.e. a smaller fitted :math:`\kappa`.

    ``"haar"``
        :math:`W` is a dense :math:`n \times n/\gamma` Gaussian matrix. The eigenvectors of
        :math:`W W^\top` are Haar-distributed on :math:`O(n)` (:math:`n(n-1)/2` free angles) and the
        spectrum tends to MP(:math:`\gamma`): :math:`\kappa = \infty`.
    ``"block_diagonal"``
        :math:`W = \mathrm{diag}(W_1, \dots, W_k)` with Gaussian blocks of ``block_size`` :math:`b` rows and
        :math:`\mathrm{round}(b/\gamma)` columns (the last block takes the remainder). Eigenvectors are
        confined to the block-diagonal subgroup :math:`O(b)^k` (:math:`k\,b(b-1)/2` angles instead of
        :math:`n(n-1)/2`), and the spectrum is the union of :math:`k` independent small Wishart spectra.
        There is no repulsion between blocks, and each small block has finite-size fluctuations beyond
        the MP edges: the variance is :math:`\gamma + 1/\text{cols} \approx \gamma(1 + 1/b)`, which matches
        HTMP's :math:`\gamma(1 + 2/\kappa)` at :math:`\kappa \approx 2b`. ``b = n`` is ``"haar"``,
        ``b = 1`` is ``"fixed_eigenvectors"``.
    ``"kronecker"``
        :math:`W = W_1 \otimes W_2` with :math:`W_1` of size :math:`n_1 \times n_1/\sqrt{\gamma}` and
        :math:`W_2` of size :math:`n_2 \times n_2/\sqrt{\gamma}`, :math:`n_1 n_2 = n` (``factor`` is
        :math:`n_1`, default :math:`\lfloor\sqrt n\rfloor`; ``n`` must be divisible by it). Then
        :math:`W W^\top = (W_1 W_1^\top) \otimes (W_2 W_2^\top)`: the eigenvectors are Kronecker products,
        :math:`O(n_1) \times O(n_2)` (about :math:`n` angles instead of :math:`n^2/2`), and the
        eigenvalues are the products :math:`\lambda_i \mu_j` of two independent MP(:math:`\sqrt\gamma`)
        spectra: variance :math:`(1 + \sqrt\gamma)^2 - 1 = 2\sqrt\gamma + \gamma > \gamma`.
    ``"fixed_eigenvectors"``
        Each row of :math:`W` has its own disjoint set of :math:`1/\gamma` Gaussian entries, so
        :math:`W W^\top` is diagonal in the fixed standard basis: no eigenvector freedom at all and no
        repulsion. The eigenvalues are iid :math:`\gamma\,\chi^2_{1/\gamma}`, i.e.
        Gamma(shape :math:`1/(2\gamma)`, scale :math:`2\gamma`), mean 1, variance :math:`2\gamma`; they
        are drawn directly from that Gamma law (which also covers non-integer :math:`1/\gamma`). This is
        the direct-form counterpart of the paper's "fixed eigenvectors give inverse-Gamma tails".

    Parameters
    ----------
    n : int
        Number of eigenvalues, at least 2.
    gamma : float
        Aspect ratio in (0, 1).
    structure : {"haar", "block_diagonal", "kronecker", "fixed_eigenvectors"}
        The construction, see above.
    rng : numpy.random.Generator
        Source of randomness.
    block_size : int, optional
        Rows per block for ``"block_diagonal"`` (default 10), between 1 and ``n``.
    factor : int, optional
        :math:`n_1` for ``"kronecker"``; must divide ``n``.

    Returns
    -------
    numpy.ndarray
        ``n`` eigenvalues, sorted ascending, mean about 1.
    """
    _check_common(n, gamma, rng)
    if structure == "haar":
        return sample_wishart(n, gamma, rng)
    if structure == "block_diagonal":
        if not isinstance(block_size, int | np.integer) or not 1 <= block_size <= n:
            raise ValueError(f"block_size must be an integer in [1, n={n}], got {block_size!r}")
        sizes = [block_size] * (n // block_size)
        if n % block_size:
            sizes.append(n % block_size)
        return np.sort(np.concatenate([_wishart_block(b, gamma, rng) for b in sizes]))
    if structure == "kronecker":
        n1 = int(math.isqrt(n)) if factor is None else factor
        if not isinstance(n1, int | np.integer) or n1 < 1 or n % n1:
            raise ValueError(f"factor must be a positive divisor of n={n}, got {factor!r}")
        g = math.sqrt(gamma)
        lam1 = _wishart_block(n1, g, rng)
        lam2 = _wishart_block(n // n1, g, rng)
        return np.sort(np.outer(lam1, lam2).ravel())
    if structure == "fixed_eigenvectors":
        return np.sort(rng.gamma(shape=1.0 / (2.0 * gamma), scale=2.0 * gamma, size=n))
    raise ValueError(f"structure must be one of {STRUCTURES}, got {structure!r}")
