"""Module 16 -- Compression: the visible specification.

Run just this module:  pytest spec/test_16_compression.py     (or: kata test 16)
Pruned weights are checked against magnitudes ranked here with NumPy; sparse storage against the
dense array and byte counts worked out by hand; low-rank factors against NumPy's own SVD; the
distillation loss against its formula written in NumPy and its gradient against float64 finite
differences (spec.support.check_gradients).
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from spec.support import check_gradients, examples, values
from tinytorch.core.activations import ReLU
from tinytorch.core.autograd import enable_autograd
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.optimizers import SGD, Adam
from tinytorch.core.spatial import Conv2d, MaxPool2d
from tinytorch.core.tensor import Tensor
from tinytorch.perf.compression import (CSRMatrix, MaskedOptimizer, compression_report, distillation_loss,
                                        low_rank_error, low_rank_factorize, magnitude_prune, prune_units)

pytestmark = pytest.mark.module(16)

FRACTIONS = st.floats(0, 1)


@pytest.fixture(autouse=True)
def autograd_on():
    enable_autograd()


def mlp(seed=0, sizes=(6, 10, 4)):
    return Sequential(Linear(sizes[0], sizes[1], seed=seed), ReLU(), Linear(sizes[1], sizes[2], seed=seed + 1))


def weights_of(model):
    return [values(layer.weight).copy() for layer in model.layers if isinstance(layer, (Linear, Conv2d))]


def rounded(fraction, total):
    return int(np.floor(fraction * total + 0.5))


# ---------------------------------------------------------------- magnitude pruning
@pytest.mark.points(3)
@given(sparsity=FRACTIONS, seed=st.integers(0, 50))
def test_global_pruning_removes_exactly_the_smallest_weights(sparsity, seed):
    model = mlp(seed)
    before = weights_of(model)
    magnitude_prune(model, sparsity)
    after = weights_of(model)
    everything_before = np.concatenate([w.ravel() for w in before])
    everything_after = np.concatenate([w.ravel() for w in after])
    pruned = everything_after == 0
    assert pruned.sum() == rounded(sparsity, everything_before.size), "round(sparsity * n) weights become zero"
    if pruned.any() and not pruned.all():
        assert np.abs(everything_before[pruned]).max() <= np.abs(everything_before[~pruned]).min(), \
            "every removed weight is at most as large as every kept one"
    np.testing.assert_array_equal(everything_after[~pruned], everything_before[~pruned])


@pytest.mark.points(2)
@given(sparsity=FRACTIONS)
def test_layer_scope_prunes_every_layer_to_the_same_fraction(sparsity):
    model = mlp(3)
    before = weights_of(model)
    magnitude_prune(model, sparsity, scope="layer")
    for old, new in zip(before, weights_of(model)):
        pruned = new == 0
        assert pruned.sum() == rounded(sparsity, old.size)
        if pruned.any() and not pruned.all():
            assert np.abs(old[pruned]).max() <= np.abs(old[~pruned]).min()


def test_biases_are_never_pruned_and_the_mask_measures_sparsity():
    model = mlp(1)
    for layer in (model.layers[0], model.layers[2]):
        layer.bias.data = np.full(layer.bias.shape, 0.001, dtype=np.float32)
    mask = magnitude_prune(model, 0.9)
    np.testing.assert_array_equal(values(model.layers[0].bias), np.full(10, 0.001, dtype=np.float32))
    assert mask.sparsity() == pytest.approx(rounded(0.9, 100) / 100)


@pytest.mark.points(3)
@pytest.mark.parametrize("make_optimizer", [lambda p: SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
                                            lambda p: Adam(p, lr=0.05)], ids=["sgd-momentum", "adam"])
def test_pruned_weights_stay_exactly_zero_through_training(make_optimizer):
    model = mlp(2)
    mask = magnitude_prune(model, 0.8)
    pruned = [w == 0 for w in weights_of(model)]
    kept_before = [w[~p].copy() for w, p in zip(weights_of(model), pruned)]
    optimizer = MaskedOptimizer(make_optimizer(model.parameters()), mask)
    x = Tensor(np.random.default_rng(0).normal(size=(8, 6)).astype(np.float32))
    for _ in range(5):
        optimizer.zero_grad()
        (model(x) ** 2).sum().backward()
        optimizer.step()
    for weight, was_pruned, kept in zip(weights_of(model), pruned, kept_before):
        assert np.all(weight[was_pruned] == 0.0), "a pruned weight came back"
        assert not np.array_equal(weight[~was_pruned], kept), "the kept weights still train"


@pytest.mark.parametrize("sparsity", [-0.1, 1.5, float("nan"), "half", True])
def test_sparsity_is_a_fraction_in_zero_one(sparsity):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        magnitude_prune(mlp(), sparsity)


# ---------------------------------------------------------------- sparse storage
def sparse_arrays():
    return hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=9),
                      elements=st.sampled_from([0.0, 0.0, 0.0, 1.5, -2.0, 0.25]))


@pytest.mark.points(2)
@given(array=sparse_arrays())
def test_csr_keeps_exactly_the_nonzeros_row_by_row(array):
    csr = CSRMatrix.from_dense(array)
    rows, columns = np.nonzero(array)
    np.testing.assert_array_equal(csr.data, array[rows, columns])
    np.testing.assert_array_equal(csr.indices, columns)
    np.testing.assert_array_equal(csr.indptr, np.concatenate([[0], np.cumsum((array != 0).sum(axis=1))]))
    np.testing.assert_array_equal(csr.to_dense(), array)
    assert csr.nnz == np.count_nonzero(array)


@given(array=sparse_arrays())
def test_csr_bytes_are_values_plus_indices_plus_row_starts(array):
    csr = CSRMatrix.from_dense(array)
    nnz, rows = np.count_nonzero(array), array.shape[0]
    assert csr.nbytes == nnz * 4 + nnz * 4 + (rows + 1) * 4, "float32 values, int32 columns, int32 row starts"


@given(array=sparse_arrays(), batch=st.integers(1, 4))
def test_csr_product_equals_the_dense_product(array, batch):
    x = np.random.default_rng(batch).normal(size=(batch, array.shape[0])).astype(np.float32)
    np.testing.assert_allclose(CSRMatrix.from_dense(array).rmatmul(x), x @ array, rtol=1e-5, atol=1e-5)


@pytest.mark.points(2)
def test_compression_report_measures_bytes_not_zeros():
    model = mlp(4, sizes=(20, 30, 10))
    dense_bytes = 4 * (20 * 30 + 30 + 30 * 10 + 10)
    untouched = compression_report(model)
    assert untouched["dense_bytes"] == dense_bytes and untouched["parameters"] == dense_bytes // 4
    csr_full = (20 * 30) * 8 + 21 * 4 + (30 * 10) * 8 + 31 * 4
    assert untouched["sparse_bytes"] == csr_full + 4 * 40, "unpruned, CSR costs MORE than dense"
    assert untouched["ratio"] < 1
    magnitude_prune(model, 0.9)
    pruned = compression_report(model)
    kept = 900 - rounded(0.9, 900)
    assert pruned["nonzeros"] == kept, "biases start at zero, so only the kept weights are nonzero"
    assert pruned["sparse_bytes"] == kept * 8 + 21 * 4 + 31 * 4 + 4 * 40
    assert pruned["ratio"] == pytest.approx(dense_bytes / pruned["sparse_bytes"])
    assert pruned["ratio"] > 3


# ---------------------------------------------------------------- structured pruning
@pytest.mark.points(3)
@given(sparsity=st.floats(0, 0.9))
def test_removing_units_shrinks_layers_and_keeps_the_strongest(sparsity):
    model = mlp(5, sizes=(6, 10, 3))
    w1, b1 = values(model.layers[0].weight).copy(), np.linspace(-1, 1, 10).astype(np.float32)
    model.layers[0].bias.data = b1.copy()
    w2, b2 = values(model.layers[2].weight).copy(), values(model.layers[2].bias).copy()
    small = prune_units(model, sparsity)
    drop = rounded(sparsity, 10)
    kept = np.sort(np.argsort(np.linalg.norm(w1, axis=0), kind="stable")[drop:])
    assert small.layers[0].weight.shape == (6, 10 - drop) and small.layers[2].weight.shape == (10 - drop, 3)
    x = np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)
    hidden = np.maximum(x @ w1[:, kept] + b1[kept], 0)
    np.testing.assert_allclose(values(small(Tensor(x))), hidden @ w2[kept] + b2, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(values(model.layers[0].weight), w1, err_msg="the original model is unchanged")


@pytest.mark.points(2)
def test_removing_channels_shrinks_both_convolutions():
    model = Sequential(Conv2d(2, 6, 3, padding=1, seed=0), ReLU(), MaxPool2d(2), Conv2d(6, 4, 3, seed=1))
    small = prune_units(model, 0.5)
    assert small.layers[0].weight.shape == (3, 2, 3, 3) and small.layers[3].weight.shape == (4, 3, 3, 3)
    norms = np.linalg.norm(values(model.layers[0].weight).reshape(6, -1), axis=1)
    kept = np.sort(np.argsort(norms, kind="stable")[3:])
    np.testing.assert_array_equal(values(small.layers[0].weight), values(model.layers[0].weight)[kept])
    np.testing.assert_array_equal(values(small.layers[3].weight), values(model.layers[3].weight)[:, kept])


# ---------------------------------------------------------------- low rank
@given(rows=st.integers(2, 8), columns=st.integers(2, 8), data=st.data())
def test_low_rank_error_is_the_energy_of_the_dropped_singular_values(rows, columns, data):
    rank = data.draw(st.integers(1, min(rows, columns)))
    weight = np.random.default_rng(rows * 10 + columns).normal(size=(rows, columns))
    singular = np.linalg.svd(weight, compute_uv=False)
    expected = np.sqrt((singular[rank:] ** 2).sum() / (singular ** 2).sum())
    assert low_rank_error(weight, rank) == pytest.approx(expected, abs=1e-9)


@pytest.mark.points(2)
@pytest.mark.parametrize("rank", [1, 3, 5])
def test_factorized_linear_has_fewer_parameters_and_the_measured_error(rank):
    layer = Linear(12, 5, seed=7)
    layer.bias.data = np.arange(5, dtype=np.float32)
    factored = low_rank_factorize(layer, rank)
    down, up = factored.layers
    assert down.weight.shape == (12, rank) and down.bias is None and up.weight.shape == (rank, 5)
    assert sum(p.size for p in factored.parameters()) == rank * (12 + 5) + 5
    w = values(layer.weight).astype(np.float64)
    product = values(down.weight).astype(np.float64) @ values(up.weight)
    u, s, vt = np.linalg.svd(w, full_matrices=False)
    np.testing.assert_allclose(product, (u[:, :rank] * s[:rank]) @ vt[:rank], atol=1e-5)
    x = np.random.default_rng(1).normal(size=(3, 12)).astype(np.float32)
    np.testing.assert_allclose(values(factored(Tensor(x))), x @ product + np.arange(5), rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------- distillation
def expected_distillation(student, teacher, labels, temperature, alpha):
    def log_softmax(z):
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    log_t, log_s = log_softmax(teacher / temperature), log_softmax(student / temperature)
    soft = temperature ** 2 * (np.exp(log_t) * (log_t - log_s)).sum(axis=1).mean()
    hard = -log_softmax(student)[np.arange(len(labels)), labels].mean()
    return alpha * soft + (1 - alpha) * hard


@pytest.mark.points(2)
@settings(max_examples=examples(20))
@given(batch=st.integers(1, 4), classes=st.integers(2, 5), temperature=st.floats(0.5, 8), alpha=FRACTIONS,
       seed=st.integers(0, 100))
def test_distillation_loss_matches_its_formula(batch, classes, temperature, alpha, seed):
    rng = np.random.default_rng(seed)
    student, teacher = rng.normal(size=(2, batch, classes)) * 3
    labels = rng.integers(0, classes, batch)
    loss = distillation_loss(Tensor(student), teacher, labels, temperature, alpha)
    assert loss.shape == ()
    np.testing.assert_allclose(values(loss), expected_distillation(student, teacher, labels, temperature, alpha),
                               rtol=1e-6, atol=1e-9)


@pytest.mark.points(2)
@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_distillation_gradient_matches_finite_differences(temperature):
    rng = np.random.default_rng(int(temperature))
    teacher, labels = rng.normal(size=(3, 4)), np.array([0, 3, 1])
    check_gradients(lambda s: distillation_loss(s, teacher, labels, temperature, 0.7), rng.normal(size=(3, 4)))
