import numpy as np
import pytest

from keras_s11.clr import cyclic_lr


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_every_mode_starts_each_cycle_at_base_lr(mode):
    # Cycle boundaries: steps 0, 2s, 4s, 6s.
    lrs = cyclic_lr(np.array([0, 8, 16, 24]), 0.1, 1.1, step_size=4, mode=mode, gamma=0.9)
    np.testing.assert_allclose(lrs, [0.1] * 4, rtol=0, atol=1e-15)


def test_triangular_peaks_at_max_lr_and_is_linear_between():
    assert cyclic_lr(4, 0.1, 1.1, 4) == pytest.approx(1.1, abs=1e-15)
    assert cyclic_lr(12, 0.1, 1.1, 4) == pytest.approx(1.1, abs=1e-15)
    assert cyclic_lr(2, 0.1, 1.1, 4) == pytest.approx(0.6, abs=1e-15)  # halfway up
    assert cyclic_lr(6, 0.1, 1.1, 4) == pytest.approx(0.6, abs=1e-15)  # halfway down
    assert cyclic_lr(1, 0.1, 1.1, 4) == pytest.approx(0.35, abs=1e-15)


def test_triangular2_halves_the_amplitude_every_cycle():
    peaks = cyclic_lr(np.array([4, 12, 20]), 0.1, 1.1, 4, mode="triangular2")
    np.testing.assert_allclose(peaks, [1.1, 0.6, 0.35], rtol=0, atol=1e-15)


def test_exp_range_scales_the_amplitude_by_gamma_to_the_step():
    gamma = 0.9
    peaks = cyclic_lr(np.array([4, 12]), 0.1, 1.1, 4, mode="exp_range", gamma=gamma)
    np.testing.assert_allclose(peaks, [0.1 + gamma**4, 0.1 + gamma**12], rtol=0, atol=1e-15)


def test_scalar_in_scalar_out_and_array_shape_kept():
    assert isinstance(cyclic_lr(3, 0.1, 1.0, 4), float)
    assert cyclic_lr(np.zeros((2, 3), dtype=int), 0.1, 1.0, 4).shape == (2, 3)


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_matches_pytorch_cyclic_lr(mode):
    torch = pytest.importorskip("torch")
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=0.01)
    scheduler = torch.optim.lr_scheduler.CyclicLR(
        optimizer, 0.01, 0.1, step_size_up=5, mode=mode, gamma=0.95, cycle_momentum=False
    )
    expected = []
    for _ in range(31):
        expected.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    np.testing.assert_allclose(cyclic_lr(np.arange(31), 0.01, 0.1, 5, mode, gamma=0.95), expected, rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(base_lr=0.5, max_lr=0.1), "base_lr"),
        (dict(step_size=0), "step_size"),
        (dict(step_size=2.5), "step_size"),
        (dict(mode="cosine"), "mode"),
        (dict(gamma=1.5), "gamma"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    arguments = {"base_lr": 0.1, "max_lr": 1.0, "step_size": 4, **kwargs}
    with pytest.raises(ValueError, match=message):
        cyclic_lr(0, **arguments)


def test_negative_step_is_refused():
    with pytest.raises(ValueError, match="step"):
        cyclic_lr(np.array([0, -1]), 0.1, 1.0, 4)
