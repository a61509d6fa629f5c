import numpy as np
import pytest
from sklearn.metrics import mean_absolute_error, r2_score

from mobile_vla.training import metrics

PRED = np.array([[1.0, 0.0, 0.5], [0.0, -1.0, 0.0], [0.5, 0.5, 0.5], [1.15, 0.2, -0.1]])
TRUE = np.array([[1.15, 0.0, 0.0], [0.0, -1.15, 0.0], [0.0, 0.0, 0.0], [1.15, 0.0, 0.0]])


def test_hand_computed_values():
    # absolute errors per row: [.15 0 .5], [0 .15 0], [.5 .5 .5], [0 .2 .1]
    assert metrics.mae(PRED, TRUE) == pytest.approx(2.6 / 12)
    np.testing.assert_allclose(metrics.mae_per_dim(PRED, TRUE), [0.65 / 4, 0.85 / 4, 1.1 / 4])
    # every dimension within 0.3: rows 2 and 4 -> 50 %; within 0.2: row 2 and 4 -> 50 %
    assert metrics.accuracy(PRED, TRUE, 0.3) == 0.5
    assert metrics.accuracy(PRED, TRUE, 0.2) == 0.5
    assert metrics.accuracy(PRED, TRUE, 0.1) == 0.0
    assert metrics.accuracy(PRED, TRUE, 0.15) == 0.25


def test_against_scikit_learn_and_numpy_on_random_data():
    rng = np.random.default_rng(0)
    for _ in range(20):
        true = rng.uniform(-1.15, 1.15, (50, 3))
        pred = true + rng.normal(0, 0.3, (50, 3))
        assert metrics.mae(pred, true) == pytest.approx(mean_absolute_error(true, pred))
        np.testing.assert_allclose(metrics.r2_per_dim(pred, true),
                                   r2_score(true, pred, multioutput='raw_values'))
        assert metrics.r2(pred, true) == pytest.approx(r2_score(true, pred))
        for d in range(3):
            assert metrics.pearson_per_dim(pred, true)[d] == pytest.approx(
                np.corrcoef(pred[:, d], true[:, d])[0, 1])
        assert metrics.pearson(pred, true) == pytest.approx(
            np.corrcoef(pred.ravel(), true.ravel())[0, 1])


def test_edge_cases_constant_targets_and_one_sample():
    const = np.zeros((5, 2))
    assert metrics.r2(const, const) == 1.0  # perfect on a constant target
    assert metrics.r2(const + 0.1, const) == 0.0
    assert metrics.r2(const + 0.1, const) == r2_score(const, const + 0.1)
    assert metrics.pearson(const + 0.1, const) == 0.0
    one_p, one_t = np.array([[0.5, 0.1]]), np.array([[0.4, 0.1]])
    assert metrics.mae(one_p, one_t) == pytest.approx(0.05)
    assert metrics.accuracy(one_p, one_t, 0.3) == 1.0
    assert np.isfinite(metrics.r2(one_p, one_t)) and np.isfinite(metrics.pearson(one_p, one_t))
    report = metrics.report(one_p, one_t, ('linear_x', 'linear_y'))
    assert report['samples'] == 1 and set(report['mae_per_dim']) == {'linear_x', 'linear_y'}
    with pytest.raises(ValueError):
        metrics.mae(np.zeros((2, 3)), np.zeros((3, 3)))
    with pytest.raises(ValueError):
        metrics.mae(np.zeros((0, 3)), np.zeros((0, 3)))


def test_direction_confusion_uses_the_key_map():
    true = np.array([[1.15, 0, 0], [1.15, 1.15, 0], [0, -1.15, 0], [0, 0, 0]])
    pred = np.array([[1.0, 0.05, 0], [1.0, 0.0, 0], [0, -1.0, 0], [0.05, 0, 0]])
    counts = metrics.confusion(pred, true)
    labels = metrics.DIRECTIONS
    assert counts[labels.index('forward'), labels.index('forward')] == 1
    assert counts[labels.index('fwd-left'), labels.index('forward')] == 1
    assert counts[labels.index('right'), labels.index('right')] == 1
    assert counts[labels.index('stop'), labels.index('stop')] == 1
    assert counts.sum() == 4
