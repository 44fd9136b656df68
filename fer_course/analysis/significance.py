"""Is model (or ensemble) A really more accurate than B on the same test images?

Both tests take two boolean arrays of per-image correctness over the same images, e.g.
``predicted_a == labels`` and ``predicted_b == labels``, and use the pairing: an image
both get right or both get wrong says nothing about which is better.

- ``paired_bootstrap``: resample the images with replacement; the accuracy difference's
  percentile confidence interval and a two-sided p-value.
- ``mcnemar``: only the discordant images count; under "equally good" each one is a fair
  coin flip, so the exact binomial test gives the p-value.

>>> a = np.array([True] * 30 + [False] * 10)   # A right on 30 of 40 images
>>> b = np.array([True] * 20 + [False] * 20)   # B right on the first 20 of them
>>> mcnemar(a, b)
McNemarResult(a_only=10, b_only=0, p_value=0.001953125, method='exact binomial')
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

MAX_DRAWS = 2**22  # resampled indices held at once (32 MiB of int64)
EXACT_UP_TO = 10_000  # discordant images; above, McNemar's chi-square is accurate enough


@dataclass(frozen=True)
class BootstrapResult:
    """``difference``: accuracy of A minus accuracy of B; ``low``, ``high``: its percentile
    interval at ``confidence``; ``p_value``: two-sided, for "no difference"."""

    difference: float
    low: float
    high: float
    p_value: float
    confidence: float
    n_boot: int

    @property
    def interval(self) -> tuple[float, float]:
        return self.low, self.high

    @property
    def p_floor(self) -> float:
        """The smallest nonzero p-value ``n_boot`` resamples can show: ``1 / n_boot``. When
        no resample reaches 0 the p-value is 0, which only says ``p < p_floor``."""
        return 1 / self.n_boot

    @property
    def p_text(self) -> str:
        """The p-value as text; a bootstrap cannot resolve below ``1 / n_boot``.

        >>> BootstrapResult(0.1, 0.05, 0.15, 0.0, 0.95, 10_000).p_text
        'p < 0.0001'
        """
        if self.p_value == 0.0:
            return f"p < {self.p_floor:g}"
        return f"p = {self.p_value:.3g}"


@dataclass(frozen=True)
class McNemarResult:
    """``a_only``: images A gets right and B wrong; ``b_only``: the other way round."""

    a_only: int
    b_only: int
    p_value: float
    method: str

    @property
    def p_text(self) -> str:
        """The p-value as a reader writes it (exact, however small: ``3.5e-6``).

        >>> McNemarResult(40, 5, 3.5e-6, "exact binomial").p_text
        'p = 3.5e-6'
        """
        return f"p = {readable_p(self.p_value)}"


def readable_p(p: float) -> str:
    """A p-value as ``views.reading.p_text`` writes it (two significant digits, ``3.5e-6``
    rather than ``3.5e-06`` below 0.001); a value that underflowed to 0 reads ``< 1e-300``.

    >>> readable_p(3.5e-6), readable_p(0.0386), readable_p(0.39)
    ('3.5e-6', '0.039', '0.39')
    """
    if p <= 0:
        return "< 1e-300"
    if p < 0.001:
        mantissa, exponent = f"{p:.1e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return f"{p:.2g}" if p < 0.01 else f"{p:.2f}" if p >= 0.1 else f"{p:.3f}"


def paired_correctness(correct_a: ArrayLike, correct_b: ArrayLike,
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as 1-D booleans of one length (0/1 integers are accepted too).

    >>> paired_correctness([1, 0], [True, True])
    (array([ True, False]), array([ True,  True]))
    """
    a, b = np.asarray(correct_a), np.asarray(correct_b)
    if a.ndim != 1 or a.shape != b.shape or a.size == 0:
        raise ValueError(f"need two 1-D arrays over the same images, got shapes "
                         f"{list(a.shape)} and {list(b.shape)}")
    for x in (a, b):
        if x.dtype != bool and not np.isin(x, (0, 1)).all():
            raise ValueError("correctness must be boolean (or 0/1)")
    return a.astype(bool), b.astype(bool)


def bootstrap_means(values: np.ndarray, n_boot: int, seed: int = 0,
                    max_draws: int = MAX_DRAWS) -> np.ndarray:
    """Means of ``n_boot`` resamples (with replacement, same size) of the 1-D ``values``.

    Resamples are drawn in chunks of at most ``max_draws`` indices to bound the memory; the
    chunk size does not change the result.

    >>> bootstrap_means(np.array([1.0, 1.0]), 3).tolist()
    [1.0, 1.0, 1.0]
    """
    rng = np.random.default_rng(seed)
    n = len(values)
    rows = max(1, max_draws // n)
    means = np.empty(n_boot)
    for start in range(0, n_boot, rows):
        stop = min(start + rows, n_boot)
        index = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = values[index].mean(1)
    return means


def paired_bootstrap(correct_a: ArrayLike, correct_b: ArrayLike, n_boot: int = 10_000,
                     seed: int = 0, confidence: float = 0.95) -> BootstrapResult:
    """Paired bootstrap of the accuracy difference A - B over the same images.

    The interval is the percentile interval of the resampled differences. The p-value is
    the share of resampled differences at or beyond 0 on the side away from the observed
    difference, doubled and capped at 1 (so 1 when the observed difference is 0).

    >>> r = paired_bootstrap([True] * 8 + [False] * 2, [True] * 5 + [False] * 5)
    >>> r.difference, r.high <= 0.6, r.low >= 0.0
    (0.3, True, True)
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    a, b = paired_correctness(correct_a, correct_b)
    per_image = a.astype(np.float64) - b  # -1, 0 or 1
    observed = float(per_image.mean())
    boot = bootstrap_means(per_image, n_boot, seed)
    low, high = np.quantile(boot, [(1 - confidence) / 2, (1 + confidence) / 2])
    if observed > 0:
        beyond = float((boot <= 0).mean())
    elif observed < 0:
        beyond = float((boot >= 0).mean())
    else:
        beyond = 1.0
    return BootstrapResult(observed, float(low), float(high), min(1.0, 2 * beyond), confidence,
                           n_boot)


def binomial_two_sided(k: int, n: int) -> float:
    """Exact two-sided p-value of ``k`` successes in ``n`` fair coin flips:
    ``2 * P(X <= min(k, n - k))`` for X ~ Binomial(n, 1/2), capped at 1.

    >>> binomial_two_sided(1, 6)  # 2 * (1 + 6) / 2**6
    0.21875
    """
    k = min(k, n - k)
    term, tail = 1, 1  # C(n, 0); exact integers, divided once at the end
    for i in range(k):
        term = term * (n - i) // (i + 1)
        tail += term
    return min(1.0, 2 * tail / 2**n)


def mcnemar(correct_a: ArrayLike, correct_b: ArrayLike) -> McNemarResult:
    """McNemar's test on the discordant images: exact binomial p-value, or the chi-square
    with continuity correction when there are more than ``EXACT_UP_TO`` of them.

    >>> mcnemar([True, True, False, True], [False, True, True, True])
    McNemarResult(a_only=1, b_only=1, p_value=1.0, method='exact binomial')
    """
    a, b = paired_correctness(correct_a, correct_b)
    a_only, b_only = int((a & ~b).sum()), int((~a & b).sum())
    n = a_only + b_only
    if n <= EXACT_UP_TO:
        return McNemarResult(a_only, b_only, binomial_two_sided(a_only, n), "exact binomial")
    statistic = max(0, abs(a_only - b_only) - 1) ** 2 / n
    # the chi-square with one degree of freedom: P(X > s) = erfc(sqrt(s / 2))
    p_value = math.erfc(math.sqrt(statistic / 2))
    return McNemarResult(a_only, b_only, p_value, "chi-square, continuity corrected")
