"""Wilson score intervals, against values worked out by hand."""

import pytest

from eurus_lib.eval.intervals import wilson_interval


def test_half_right_out_of_ten_gives_the_textbook_interval():
    # p = .5, z^2/n = .38416: centre .5, half = 1.96 * sqrt(.025 + .009604) / 1.38416 = .26341
    low, high = wilson_interval(5, 10)
    assert low == pytest.approx(0.23659, abs=1e-5) and high == pytest.approx(0.76341, abs=1e-5)


def test_none_right_still_has_a_nonzero_upper_bound():
    # centre = half = .19208 / 1.38416 = .13877, so the interval is [0, .27754]
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.27754), abs=1e-5)
    assert wilson_interval(10, 10) == pytest.approx((0.72246, 1.0), abs=1e-5)


def test_z_of_one_gives_round_numbers_for_one_in_four():
    # p = .25, z = 1: centre (.25 + .125) / 1.25 = .3, half = .8 * sqrt(.046875 + .015625) = .2
    assert wilson_interval(1, 4, z=1.0) == pytest.approx((0.1, 0.5))


def test_no_trials_means_no_information():
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_more_successes_than_trials_is_an_error():
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_the_interval_always_contains_the_measured_accuracy_despite_rounding():
    for n in range(1, 61):
        for k in range(n + 1):
            low, high = wilson_interval(k, n)
            assert low <= k / n <= high, (k, n)  # 0 of 11 gave a low end of 2.8e-17 before
