import numpy as np

from garay.data.splits import stratified_split
from garay.data.synthetic import make_synthetic


def test_synthetic_is_deterministic_split_and_standardised():
    a = make_synthetic(seed=3, examples_per_class=30)
    b = make_synthetic(seed=3, examples_per_class=30)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert a.sizes() == {"train": 180, "val": 60, "test": 60}
    assert a.input_shape == (32, 32) and a.num_classes == 10
    assert a.x_train.dtype == np.float32
    assert abs(a.x_train.mean()) < 1e-3 and abs(a.x_train.std() - 1) < 1e-2
    for y in (a.y_train, a.y_val, a.y_test):
        assert set(np.bincount(y)) == {np.bincount(y)[0]}  # stratified: balanced classes
    c = make_synthetic(seed=4, examples_per_class=30)
    assert not np.allclose(a.x_train, c.x_train)


def test_stratified_split_is_disjoint_and_complete():
    y = np.repeat(np.arange(5), 20)
    tr, va, te = stratified_split(y, (0.2, 0.1), seed=1)
    assert len(set(tr) | set(va) | set(te)) == 100
    assert not set(tr) & set(va) and not set(tr) & set(te) and not set(va) & set(te)
    assert list(np.bincount(y[va])) == [4] * 5 and list(np.bincount(y[te])) == [2] * 5
