"""The range-test rule on curves that are not the CIFAR-10 classifier's, and its warnings where it cannot pick."""

import contextlib
import glob
import json
import os
import warnings

import numpy as np
import pytest

from keras_s11.lr_finder import LRRangeWarning, pick_bands, step_noise, suggest_lr_range

RUNS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "runs")
RECORDED = sorted(glob.glob(os.path.join(RUNS, "*", "lr_range_test.json")))


def noisy(smoothed, sigma, seed=0):
    """Each step's loss: the smoothed curve times exp(N(0, sigma)), a relative noise (as of a mean squared error)."""
    return np.asarray(smoothed) * np.exp(np.random.default_rng(seed).normal(0.0, sigma, len(smoothed)))


@contextlib.contextmanager
def no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def test_step_noise_is_the_spread_of_the_log_loss_from_step_to_step():
    # Changes of the log loss of exactly +-0.2: a median absolute deviation of 0.2.
    assert step_noise(2.0 * np.exp(0.1 * (-1.0) ** np.arange(41))) == pytest.approx(1.4826 * 0.2 / np.sqrt(2))
    assert step_noise(np.geomspace(3.0, 1.0, 50)) == pytest.approx(0, abs=1e-12)  # a steady fall is no noise
    # Gaussian noise of 0.2 in log scale reads as about 0.2. A few exploding steps at the end barely move it,
    # and what follows a non-finite loss is not read.
    base = noisy([2.0] * 1000, 0.2)
    assert step_noise(base) == pytest.approx(0.2, rel=0.1)
    assert step_noise(np.append(base, [50.0, 200.0, np.inf, 1.0])) == pytest.approx(step_noise(base), rel=0.05)


# A mean squared error's curve, 66 steps: the first step's loss 2.4 (a hard batch), then flat at 2.0 with a dip
# to 1.85 (step 12) and a bump to 2.08 (step 24), a fall from 2.0 (step 30) to 1.0 (step 55), a 12 % bump,
# and the divergence from step 61. Each step's loss is off by exp(N(0, 0.3)): a noise of 0.3 a step.
MSE = np.concatenate(
    [
        [2.4],
        [2.0] * 11,
        [1.85],
        [2.0] * 11,
        [2.08],
        [2.0] * 5,
        np.linspace(2.0, 1.0, 26),  # steps 30 to 55, 0.04 a step
        [1.05, 1.12, 1.1, 1.05, 1.02],
        [1.5, 2.0, 3.0, 4.0, 6.0],
    ]
)
MSE_LRS = np.geomspace(1e-4, 1.0, len(MSE))


def test_a_noisy_mse_curve_is_read_at_its_fall_not_at_its_noise():
    losses = noisy(MSE, 0.3)
    assert step_noise(losses) == pytest.approx(0.3, rel=0.3)  # 66 steps: an estimate within about 20 %
    with no_warning():
        lr_min, lr_max = suggest_lr_range(MSE_LRS, MSE, losses=losses)
    # LRMAX at the minimum (step 55): neither the bump of 12 % after the dip at step 12 nor the one after the
    # minimum is more than three noise levels of the smoothed loss (about 35 % and more).
    assert lr_max == MSE_LRS[55]
    # The first loss (2.4) is noisier than the tenth of the fall that marks LRMIN (0.14): the fall is measured
    # from the moving average once it has averaged 10 steps (2.0), to 1.0; 1.9 is crossed for good at step 33.
    assert lr_min == MSE_LRS[33]
    # Read as free of noise (the rule of the CIFAR-10 runs), the bump at step 24 ends the search at the dip.
    with pytest.warns(LRRangeWarning, match="fell from its first steps"):
        assert suggest_lr_range(MSE_LRS, MSE) == (MSE_LRS[1], MSE_LRS[12])


def test_the_bands_of_a_noisy_mse_curve_hold_the_bottom_and_not_the_divergence():
    losses = noisy(MSE, 0.3)
    (min_low, min_high), (max_low, max_high) = pick_bands(MSE_LRS, losses, MSE, MSE_LRS[33], MSE_LRS[55])
    assert MSE_LRS[45] <= max_low <= MSE_LRS[55] <= max_high <= MSE_LRS[60]  # within 0.08 of 1.0, before step 61
    assert min_low <= MSE_LRS[33] <= min_high <= MSE_LRS[45]
    # The steps from the first loss twice the minimum on are a divergence, not noise: how far they explode
    # does not move the band.
    wild, wilder = (np.concatenate([losses[:61], losses[61:] * factor]) for factor in (5, 50))
    bands = [pick_bands(MSE_LRS, raw, MSE, MSE_LRS[33], MSE_LRS[55])[1] for raw in (wild, wilder)]
    assert bands[0] == bands[1] and bands[0][0] >= MSE_LRS[45]


FLAT_THEN_FALLING = np.concatenate([[3.0] * 15, np.linspace(3.0, 1.0, 36)[1:]])  # 50 steps, 2/35 a step from 15
LRS_50 = np.geomspace(1e-3, 1.0, 50)


def test_a_loss_still_falling_at_the_last_lr_puts_lrmax_at_the_range_end_and_says_so():
    with pytest.warns(LRRangeWarning, match=r"still falling at the last LR \(1\), so LRMAX is the range's end"):
        lr_min, lr_max = suggest_lr_range(LRS_50, FLAT_THEN_FALLING)
    # 3.0 - 0.1 * 2.0 = 2.8: 2.829 at step 17, 2.771 at step 18.
    assert (lr_min, lr_max) == (LRS_50[18], LRS_50[49])


def test_a_loss_that_never_rises_again_says_lrmax_may_lie_above_the_range():
    curve = np.concatenate([FLAT_THEN_FALLING[:40], [0.99, 1.0, 1.01, 1.0, 1.02, 1.01, 1.0, 1.03, 1.02, 1.01]])
    with pytest.warns(LRRangeWarning, match=r"never rose clearly above its minimum \(at LR 0.2812\)"):
        lr_min, lr_max = suggest_lr_range(LRS_50, curve)
    assert (lr_min, lr_max) == (LRS_50[18], LRS_50[40])


def test_a_very_short_test_says_it_is_too_short():
    curve = [3.0, 3.0, 3.0, 2.9, 2.6, 2.2, 1.8, 1.5, 1.4, 1.6, 2.5, 4.0]
    lrs = np.geomspace(1e-3, 1.0, 12)
    with pytest.warns(LRRangeWarning, match="holds only 12 steps, fewer than 30"):
        assert suggest_lr_range(lrs, curve) == (lrs[4], lrs[8])  # 3.0 - 0.16 = 2.84: crossed at step 4
    long_enough, lrs = np.concatenate([[3.0] * 18, curve]), np.geomspace(1e-3, 1.0, 30)  # 30 steps
    with no_warning():
        assert suggest_lr_range(lrs, long_enough) == (lrs[22], lrs[26])


def test_a_curve_flat_at_the_start_under_noise_reads_the_onset_of_the_fall():
    # Flat at 3.0 for 15 steps, falls 0.08 a step to 1.0 at step 39, diverges; each step's loss +-10 %.
    curve = np.concatenate([[3.0] * 15, np.linspace(3.0, 1.0, 26)[1:], [1.1, 1.6, 2.5, 4.0]])
    lrs = np.geomspace(1e-3, 1.0, len(curve))
    with no_warning():
        # 3.0 - 0.1 * 2.0 = 2.8: 2.84 at step 16, 2.76 at step 17. The bump of 10 % at step 40 is noise.
        assert suggest_lr_range(lrs, curve, losses=noisy(curve, 0.1)) == (lrs[17], lrs[39])


def test_a_loss_that_falls_from_the_first_step_says_lrmin_may_lie_below_the_range():
    curve = np.concatenate([np.linspace(3.0, 1.0, 40), [1.2, 2.0, 4.0]])
    lrs = np.geomspace(1e-3, 1.0, len(curve))
    with pytest.warns(LRRangeWarning, match=r"fell from its first steps \(LRMIN at step 4.*lower LR than 0.001"):
        assert suggest_lr_range(lrs, curve) == (lrs[4], lrs[39])  # 2.8 crossed between 2.846 and 2.795


def test_a_loss_that_never_fell_clearly_gives_no_pick():
    # A dip of 10 % under a noise of 0.3 a step: the smoothed loss is not clearly lower.
    curve = np.concatenate([[2.0] * 15, [1.95, 1.9, 1.85, 1.8, 1.85, 1.9, 1.95], [2.0] * 8, [2.5, 3.5, 5.0]])
    lrs = np.geomspace(1e-3, 1.0, len(curve))
    with pytest.warns(LRRangeWarning, match=r"never fell clearly below its first value.*10.0% lower"):
        assert suggest_lr_range(lrs, curve, losses=noisy(curve, 0.3)) == (lrs[0], lrs[0])
    # Without noise the 10 % is a clear fall.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert suggest_lr_range(lrs, curve) == (lrs[15], lrs[18])  # 2.0 - 0.1 * 0.2 = 1.98: 1.95 at step 15
    # A fall of 3 % is below the 5 % a fall must exceed, noise or not.
    shallow = np.concatenate([[2.0] * 15, [1.98, 1.96, 1.94, 1.96], [2.0] * 11, [2.5, 3.5, 5.0]])
    with pytest.warns(LRRangeWarning, match="never fell clearly"):
        assert suggest_lr_range(lrs, shallow) == (lrs[0], lrs[0])


def test_a_loss_that_is_not_positive_is_named():
    curve = np.concatenate([np.linspace(0.5, -0.5, 35), [-0.4, 0.2, 1.0]])
    lrs = np.geomspace(1e-3, 1.0, len(curve))
    with pytest.warns(LRRangeWarning, match=r"not positive \(lowest smoothed loss -0.5\)"):
        suggest_lr_range(lrs, curve)


def test_refuses_losses_of_another_length_and_a_smoothing_out_of_range():
    with pytest.raises(ValueError, match="Argument `losses` must hold one loss a step. Received: 1 losses for 2"):
        suggest_lr_range([0.1, 0.2], [2.0, 1.0], losses=[2.0])
    with pytest.raises(ValueError, match="smoothing=1.0"):
        suggest_lr_range([0.1, 0.2], [2.0, 1.0], smoothing=1.0)


@pytest.mark.parametrize("path", RECORDED, ids=[os.path.basename(os.path.dirname(p)) for p in RECORDED])
def test_every_recorded_cifar10_curve_reads_as_without_noise(path):
    """The noise of a cross-entropy at batch 512 stays under the 5 % floor: the picks are the 5 % rule's.

    And where the run recorded bands of the same picks, they come out the same.
    """
    with open(path) as file:
        curve = json.load(file)
    assert step_noise(curve["losses"]) < 0.02
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LRRangeWarning)
        with_noise = suggest_lr_range(curve["lrs"], curve["smoothed_losses"], losses=curve["losses"])
        assert with_noise == suggest_lr_range(curve["lrs"], curve["smoothed_losses"])
    if curve.get("lr_max_band") and with_noise == (curve["lr_min"], curve["lr_max"]):  # the bands as recorded
        bands = pick_bands(curve["lrs"], curve["losses"], curve["smoothed_losses"], *with_noise)
        assert bands == (tuple(curve["lr_min_band"]), tuple(curve["lr_max_band"]))
