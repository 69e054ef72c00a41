"""Random-matrix ensembles whose spectra have a known HTMP parameter kappa.

Three families:

* :func:`sample_htmp_ensemble` -- the high-temperature beta-Laguerre ensemble (Dumitriu--Edelman
  bidiagonal model with Dyson index ``beta = kappa / n``). Its empirical spectral distribution tends to
  HTMP(gamma, kappa) in the direct form (mean 1), so it is the ground truth for every estimator. Its
  eigenvalues have high relative accuracy (dqds), down to the smallest.
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

import ctypes
import functools
import math

import numpy as np

__all__ = [
    "sample_htmp_ensemble",
    "sample_wishart",
    "sample_structured",
    "sample_spiked_wishart",
    "bidiagonal_singular_values",
    "through_eigensolver",
    "eigensolver_floor",
    "STRUCTURES",
]

STRUCTURES = ("haar", "block_diagonal", "kronecker", "fixed_eigenvectors")


def _check_common(n: int, gamma: float, rng: np.random.Generator) -> None:
    if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < 2:
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if not (np.isfinite(gamma) and 0.0 < gamma < 1.0):
        raise ValueError(f"gamma must lie in (0, 1), got {gamma!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")


def _capsule_function(name: str, restype, *argtypes):
    """A LAPACK routine from scipy's Cython LAPACK table, callable through ctypes.

    scipy exports every LAPACK routine it links against as a PyCapsule in
    ``scipy.linalg.cython_lapack.__pyx_capi__`` (public Cython API), whatever LAPACK the build uses
    (OpenBLAS wheels, conda-forge's reference LAPACK, MKL), so no library path or symbol name is guessed.
    ctypes releases the GIL during the call, so threads run replicates in parallel.
    """
    from scipy.linalg import cython_lapack

    capsule = cython_lapack.__pyx_capi__[name]
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_ptr = ctypes.pythonapi.PyCapsule_GetPointer
    get_ptr.restype, get_ptr.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    return ctypes.CFUNCTYPE(restype, *argtypes)(get_ptr(capsule, get_name(capsule)))


_PTR = ctypes.c_void_p


@functools.cache
def _dlasq1():
    return _capsule_function("dlasq1", None, _PTR, _PTR, _PTR, _PTR, _PTR)


def bidiagonal_singular_values(d: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Singular values of the bidiagonal matrix with diagonal ``d`` and off-diagonal ``e``, to high relative accuracy.

    LAPACK's ``dlasq1`` (the dqds algorithm of Fernando & Parlett): every singular value, however small, comes
    back with a relative error of a modest multiple of machine epsilon, as long as its square is a normal
    double (about 1e-154 of the largest). A symmetric tridiagonal eigensolver applied to ``B B^T`` only reaches
    an absolute error of about ``n eps max(sigma)^2`` instead. O(n^2) work.

    Parameters
    ----------
    d : numpy.ndarray
        Diagonal, length n >= 1 (signs are irrelevant).
    e : numpy.ndarray
        Off-diagonal, length n - 1.

    Returns
    -------
    numpy.ndarray
        The n singular values in decreasing order.
    """
    n = d.size
    dd = np.array(d, dtype=np.float64)  # overwritten with the singular values
    ee = np.zeros(max(n, 1), dtype=np.float64)  # dlasq1 wants length n; the last entry is workspace
    ee[: n - 1] = e
    work = np.empty(4 * max(n, 1), dtype=np.float64)
    n_c, info = ctypes.c_int(n), ctypes.c_int(0)
    _dlasq1()(
        ctypes.addressof(n_c),
        dd.ctypes.data,
        ee.ctypes.data,
        work.ctypes.data,
        ctypes.addressof(info),
    )
    if info.value != 0:
        # info > 0: dqds failed to converge (never seen); info < 0: an argument error (a bug here)
        raise RuntimeError(f"LAPACK dlasq1 failed with info = {info.value}")
    return dd


def _log_chi2(df: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """log of chi-square draws with degrees of freedom ``df``, without underflow.

    At high temperature the degrees of freedom are tiny (kappa (M - i + 1)/n, about 3e-3 at kappa = 1e-3)
    and a chi-square draw is below the smallest double about a third of the time; its logarithm is not.
    chi2(k) = 2 Gamma(k/2), and Gamma(a) = Gamma(a + 1) U^(1/a) (Marsaglia & Tsang's boost) is taken in logs.
    """
    shape = 0.5 * np.asarray(df, dtype=float)
    log_u = np.log(rng.random(shape.shape))
    return math.log(2.0) + np.log(rng.standard_gamma(shape + 1.0)) + log_u / shape


def _bidiagonal_laguerre_eigs(n: int, m: float, beta: float, rng: np.random.Generator) -> np.ndarray:
    """Eigenvalues of ``B B^T`` for the Dumitriu--Edelman beta-Laguerre bidiagonal ``B``, ascending.

    ``B`` is lower bidiagonal with diagonal ``d_i = chi(beta (m - i + 1))``, i = 1..n, and subdiagonal
    ``s_i = chi(beta (n - i))``, i = 1..n-1; ``E tr(B B^T) = beta n m``, so the mean eigenvalue is ``beta m``.
    The eigenvalues are the squared singular values of ``B`` (high relative accuracy: the smallest ones are as
    exact as the largest); entries whose square underflows are zero, which only touches eigenvalues below
    about 1e-300 of the largest.
    """
    i = np.arange(1, n + 1, dtype=float)
    d = np.exp(0.5 * _log_chi2(beta * (m - i + 1.0), rng))
    s = np.exp(0.5 * _log_chi2(beta * (n - i[:-1]), rng))
    return np.sort(bidiagonal_singular_values(d, s) ** 2)


def sample_htmp_ensemble(n: int, gamma: float, kappa: float, rng: np.random.Generator) -> np.ndarray:
    r"""Draw the eigenvalues of the high-temperature beta-Laguerre ensemble, in the HTMP direct form.

    With Dyson index :math:`\beta = \kappa/n` and :math:`M = n/\gamma`, the Dumitriu--Edelman bidiagonal
    :math:`B` has diagonal :math:`d_i = \sqrt{\chi^2(\beta(M - i + 1))}` and subdiagonal
    :math:`s_i = \sqrt{\chi^2(\beta(n - i))}`. The eigenvalues :math:`\lambda` of :math:`B B^\top` are the
    squared singular values of :math:`B`, computed by dqds (:func:`bidiagonal_singular_values`, :math:`O(n^2)`)
    to high *relative* accuracy, and rescaled to :math:`x = \gamma\lambda/\kappa`, so that the empirical law
    tends to HTMP(:math:`\gamma, \kappa`) with mean 1 and variance :math:`\gamma(1 + 2/\kappa)` as
    :math:`n \to \infty`.

    Every eigenvalue is exact to a few ulps, down to about 1e-300 of the largest: at small kappa most of
    the spectrum lies orders of magnitude below the absolute accuracy ``n eps max(x)`` of a symmetric
    eigensolver (at gamma = 0.3255, kappa = 0.01 half of it is below 1e-20), and that lower tail is part of
    the law. :func:`through_eigensolver` models what a float64 eigensolver would return for such a matrix.
    The chi-square draws are taken in logarithms, so tiny degrees of freedom do not underflow.

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
        ``n`` eigenvalues, sorted ascending, mean about 1 (those below about 1e-300 of the largest may be 0).

    References
    ----------
    Dumitriu & Edelman (2002); Hodgkinson, Wang & Mahoney (2025), the high-temperature limit;
    K. V. Fernando & B. N. Parlett, "Accurate singular values and differential qd algorithms",
    Numer. Math. 67 (1994) 191 (dqds).
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


def eigensolver_floor(eigenvalues) -> float:
    """Absolute accuracy of a backward-stable float64 symmetric eigensolver: ``n eps max|lambda|``.

    Eigenvalues at or below it carry no relative accuracy when computed from the matrix, so the estimators
    treat them as left-censored (known only to lie below it).
    """
    lam = np.asarray(eigenvalues, dtype=float)
    if lam.size == 0:
        return 0.0
    return float(lam.size * np.finfo(float).eps * np.max(np.abs(lam)))


def through_eigensolver(eigenvalues, rng: np.random.Generator) -> np.ndarray:
    """What a float64 symmetric eigensolver returns for a matrix with these exact eigenvalues.

    Eigenvalues above :func:`eigensolver_floor` come back exact (a real eigensolver's absolute error there is
    below the floor, a relative error below ``floor / lambda``), those at or below it as noise of the floor's
    size: independent uniform draws on ``[-floor, floor]``. ``tests/test_ensembles.py`` checks
    this model against ``numpy.linalg.eigvalsh`` of ``Q diag(lambda) Q^T`` with a Haar ``Q``.

    Parameters
    ----------
    eigenvalues : array_like
        Exact eigenvalues (e.g. from :func:`sample_htmp_ensemble`).
    rng : numpy.random.Generator
        Source of the noise.

    Returns
    -------
    numpy.ndarray
        The eigenvalues as an eigensolver reports them, sorted ascending.

    Raises
    ------
    ValueError
        If an eigenvalue is NaN or infinite (the floor, ``n eps max|lambda|``, would not be a number).
    """
    lam = np.array(eigenvalues, dtype=float)
    if not np.all(np.isfinite(lam)):
        raise ValueError(
            f"eigenvalues: {int((~np.isfinite(lam)).sum())} not finite (an eigensolver's input is)"
        )
    floor = eigensolver_floor(lam)
    low = np.abs(lam) <= floor
    lam[low] = rng.uniform(-floor, floor, size=int(low.sum()))
    return np.sort(lam)


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


def sample_spiked_wishart(n: int, gamma: float, spikes, rng: np.random.Generator) -> np.ndarray:
    r"""Eigenvalues of a spiked real Wishart matrix: MP bulk plus outliers (Johnstone's spiked covariance model).

    :math:`S = X^\top X / m` with :math:`X` an :math:`m \times n` Gaussian matrix whose rows have covariance
    :math:`\Sigma = \mathrm{diag}(\ell_1, \dots, \ell_k, 1, \dots, 1)`, :math:`m = \mathrm{round}(n/\gamma)`.
    The bulk follows MP(:math:`\gamma`) (unit mean); a spike :math:`\ell > 1 + \sqrt\gamma` (the BBP threshold)
    produces an outlier near :math:`\ell(1 + \gamma/(\ell - 1))`, beyond the edge :math:`(1 + \sqrt\gamma)^2`;
    weaker spikes stay inside the bulk. Dense, :math:`O(n^2 m)`.

    Parameters
    ----------
    n : int
        Number of eigenvalues, at least 2.
    gamma : float
        Aspect ratio in (0, 1).
    spikes : sequence of float
        Population spikes :math:`\ell_i > 0` (at most n of them).
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    numpy.ndarray
        ``n`` eigenvalues, sorted ascending.
    """
    _check_common(n, gamma, rng)
    ell = np.asarray(spikes, dtype=float).ravel()
    if ell.size > n or not np.all(np.isfinite(ell) & (ell > 0)):
        raise ValueError(f"spikes must be at most n={n} positive numbers, got {spikes!r}")
    m = int(round(n / gamma))
    sd = np.ones(n)
    sd[: ell.size] = np.sqrt(ell)
    x = rng.standard_normal((m, n)) * sd
    return np.sort(np.linalg.eigvalsh(x.T @ x / m))


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
