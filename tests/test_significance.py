"""Paired bootstrap and McNemar's test on hand-checkable cases."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from fer_course.analysis.significance import (
    BootstrapResult,
    McNemarResult,
    binomial_two_sided,
    bootstrap_means,
    mcnemar,
    paired_bootstrap,
)


def test_identical_models_differ_by_nothing() -> None:
    correct = np.random.default_rng(0).random(500) < 0.6
    result = paired_bootstrap(correct, correct.copy(), n_boot=2000)
    assert result.difference == 0.0 and result.interval == (0.0, 0.0)
    assert result.p_value == 1.0
    assert mcnemar(correct, correct).p_value == 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.p_value = 0.5  # type: ignore[misc]


def test_always_right_against_always_wrong() -> None:
    right, wrong = np.ones(50, bool), np.zeros(50, bool)
    result = paired_bootstrap(right, wrong, n_boot=500)
    assert (result.difference, result.low, result.high, result.p_value) == (1.0, 1.0, 1.0, 0.0)
    flipped = paired_bootstrap(wrong, right, n_boot=500)
    assert flipped.difference == -1.0 and flipped.interval == (-1.0, -1.0)
    test = mcnemar(right, wrong)
    assert (test.a_only, test.b_only) == (50, 0)
    assert test.p_value == 2 / 2**50


def test_bootstrap_interval_and_p_value() -> None:
    rng = np.random.default_rng(1)
    a = rng.random(2000) < 0.70
    b = np.where(rng.random(2000) < 0.8, a, ~a)  # agrees with a on about 80% of images
    result = paired_bootstrap(a, b, n_boot=4000, seed=3, confidence=0.9)
    assert result.difference == pytest.approx(a.mean() - b.mean())
    assert result.low < result.difference < result.high
    # a normal interval from the per-image differences' spread is close to the percentile one
    spread = (a.astype(float) - b).std() / math.sqrt(len(a)) * 1.6449
    assert result.low == pytest.approx(result.difference - spread, abs=0.006)
    assert result.high == pytest.approx(result.difference + spread, abs=0.006)
    swapped = paired_bootstrap(b, a, n_boot=4000, seed=3, confidence=0.9)
    assert swapped.difference == -result.difference and swapped.p_value == result.p_value
    assert swapped.low == pytest.approx(-result.high) and swapped.high == pytest.approx(-result.low)
    assert paired_bootstrap(a, b, n_boot=4000, seed=3, confidence=0.9) == result  # seeded


def test_chunks_do_not_change_the_bootstrap() -> None:
    values = np.random.default_rng(2).integers(-1, 2, 301).astype(float)
    whole = bootstrap_means(values, 50, seed=7)
    assert np.array_equal(whole, bootstrap_means(values, 50, seed=7, max_draws=301 * 3))
    assert np.array_equal(whole, bootstrap_means(values, 50, seed=7, max_draws=1))


def test_mcnemar_on_a_small_table() -> None:
    # 5 images only A gets right, 1 only B, 10 both, 4 neither
    a = np.array([1] * 5 + [0] * 1 + [1] * 10 + [0] * 4)
    b = np.array([0] * 5 + [1] * 1 + [1] * 10 + [0] * 4)
    test = mcnemar(a, b)
    assert (test.a_only, test.b_only, test.method) == (5, 1, "exact binomial")
    # two-sided: 2 * P(X <= 1), X ~ Binomial(6, 1/2) = 2 * (1 + 6) / 64
    assert test.p_value == pytest.approx(14 / 64, rel=1e-15)
    assert mcnemar(b, a).p_value == test.p_value


def test_binomial_tail() -> None:
    assert binomial_two_sided(0, 0) == 1.0
    assert binomial_two_sided(3, 6) == 1.0  # the middle: capped at 1
    assert binomial_two_sided(0, 10) == binomial_two_sided(10, 10) == 2 / 1024
    assert binomial_two_sided(2, 10) == pytest.approx(2 * (1 + 10 + 45) / 1024, rel=1e-15)
    big = binomial_two_sided(4000, 10_000)  # far in the tail, still a float, no overflow
    assert 0.0 <= big < 1e-80


def test_mcnemar_switches_to_chi_square_for_huge_counts() -> None:
    a_only, b_only, both = 5_100, 4_950, 100
    a = np.array([1] * a_only + [0] * b_only + [1] * both, bool)
    b = np.array([0] * a_only + [1] * b_only + [1] * both, bool)
    test = mcnemar(a, b)
    assert test.method.startswith("chi-square") and (test.a_only, test.b_only) == (5_100, 4_950)
    # the continuity-corrected chi-square is close to the exact binomial at this size
    assert test.p_value == pytest.approx(binomial_two_sided(b_only, a_only + b_only), rel=0.01)


def test_input_errors() -> None:
    with pytest.raises(ValueError, match="same images"):
        paired_bootstrap([True, False], [True])
    with pytest.raises(ValueError, match="same images"):
        mcnemar([], [])
    with pytest.raises(ValueError, match="boolean"):
        mcnemar([0.2, 1.0], [1, 0])
    with pytest.raises(ValueError, match="confidence"):
        paired_bootstrap([True], [False], confidence=95)
    with pytest.raises(ValueError, match="n_boot"):
        paired_bootstrap([True], [False], n_boot=0)


def test_p_values_as_a_reader_writes_them() -> None:
    from fer_course.analysis.significance import readable_p

    assert McNemarResult(40, 5, 2 * 1385980 / 2**45, "exact binomial").p_text == "p = 7.9e-8"
    assert [readable_p(p) for p in (0.0386, 0.5, 0.005, 0.0)] == [
        "0.039", "0.50", "0.005", "< 1e-300"]
    result = BootstrapResult(0.03, 0.02, 0.04, 0.0, 0.95, 10_000)
    assert result.p_floor == 1e-4 and result.p_text == "p < 0.0001"
