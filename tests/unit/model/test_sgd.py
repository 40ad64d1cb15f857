import numpy as np
import pytest

from model.train.dataset import load_dataset
from model.train.evaluation import r2
from model.train.sgd import SGDConfig, fit_sgd

DATA = load_dataset()
X, Y = DATA.train.x, DATA.train.y


def least_squares(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    # Computed here independently of model.train.evaluation.closed_form, never hard-coded.
    (slope, intercept), *_ = np.linalg.lstsq(np.c_[x, np.ones_like(x)], y, rcond=None)
    return float(slope), float(intercept)


def test_converges_to_least_squares_for_every_one_of_200_seeds():
    slope_opt, intercept_opt = least_squares(X, Y)
    holdout = DATA.holdout
    r2_opt = r2(holdout.y, slope_opt * holdout.x + intercept_opt)
    worst = 0.0
    for seed in range(200):
        result = fit_sgd(X, Y, seed=seed)
        assert result.converged, f"seed {seed} hit the epoch cap"
        rel = max(abs(result.slope / slope_opt - 1), abs(result.intercept / intercept_opt - 1))
        worst = max(worst, rel)
        assert rel < 1e-4, f"seed {seed}: relative error {rel:.2e}"
        assert abs(r2(holdout.y, result.slope * holdout.x + result.intercept) - r2_opt) < 1e-4
    assert worst > 0  # it is SGD, not a disguised closed form


def test_same_seed_gives_bit_identical_results():
    first, second = fit_sgd(X, Y, seed=7), fit_sgd(X, Y, seed=7)
    assert first == second


def test_different_seeds_take_different_paths():
    assert fit_sgd(X, Y, seed=1).loss_curve != fit_sgd(X, Y, seed=2).loss_curve


def test_a_run_that_hits_the_epoch_cap_reports_not_converged():
    result = fit_sgd(X, Y, seed=0, config=SGDConfig(max_epochs=3))
    assert not result.converged
    assert result.epochs_run == 3


def test_loss_curve_ends_at_the_optimum():
    slope_opt, intercept_opt = least_squares(X, Y)
    optimum = float(np.mean((slope_opt * X + intercept_opt - Y) ** 2))
    curve = fit_sgd(X, Y, seed=0).loss_curve
    assert curve[-1] == pytest.approx(optimum, rel=1e-8)
    assert curve[0] > curve[-1]


@pytest.mark.parametrize(
    "config",
    [
        {"learning_rate": 0.0},
        {"learning_rate": -1.0},
        {"decay": -0.1},
        {"tolerance": 0.0},
        {"max_epochs": 0},
    ],
)
def test_rejects_invalid_configurations(config):
    with pytest.raises(ValueError, match="invalid SGD configuration"):
        SGDConfig(**config)


def test_rejects_a_constant_feature():
    with pytest.raises(ValueError, match="constant"):
        fit_sgd(np.full(10, 25.0), np.arange(10.0), seed=0)
