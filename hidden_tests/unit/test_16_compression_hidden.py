"""Module 16 -- Compression: held-out checks (convolutions pruned with linears, ties and zeros,
shared weights, empty and wide sparse matrices, chains that cannot shrink, edge weights of the
distillation loss, bad arguments).

Expected values are ranked, stored and computed here with NumPy.
"""
import numpy as np
import pytest

from spec.support import values
from tinytorch.core.activations import ReLU, Sigmoid
from tinytorch.core.autograd import enable_autograd
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.optimizers import SGD
from tinytorch.core.spatial import Conv2d, Flatten
from tinytorch.core.tensor import Tensor
from tinytorch.perf.compression import (CSRMatrix, MaskedOptimizer, PruningMask, compression_report,
                                        distillation_loss, low_rank_error, low_rank_factorize, magnitude_prune,
                                        prunable_weights, prune_units)

pytestmark = pytest.mark.module(16)


@pytest.fixture(autouse=True)
def autograd_on():
    enable_autograd()


def test_global_pruning_ranks_convolution_and_linear_weights_together():
    model = Sequential(Conv2d(1, 2, 2, seed=0), Flatten(), Linear(2 * 3 * 3, 3, seed=1))
    model.layers[0].weight.data = np.full((2, 1, 2, 2), 0.01, dtype=np.float32)  # the 8 smallest
    magnitude_prune(model, 8 / (8 + 54))
    assert np.all(values(model.layers[0].weight) == 0) and np.all(values(model.layers[2].weight) != 0)
    assert [name for name, _ in prunable_weights(model)] == ["layers.0.weight", "layers.2.weight"]


def test_ties_are_broken_by_position_and_zeros_go_first():
    layer = Linear(2, 3, seed=0)
    layer.weight.data = np.array([[0.5, 0.0, 0.5], [0.5, -0.5, 0.0]], dtype=np.float32)
    magnitude_prune(Sequential(layer), 4 / 6)
    np.testing.assert_array_equal(values(layer.weight), [[0.0, 0.0, 0.0], [0.5, -0.5, 0.0]])


def test_a_weight_shared_by_two_layers_is_ranked_once():
    shared = Linear(3, 3, seed=2)
    model = Sequential(shared, ReLU(), shared)
    mask = magnitude_prune(model, 1 / 3)
    assert len(mask.weights) == 1 and int((values(shared.weight) == 0).sum()) == 3


def test_full_and_empty_sparsity():
    model = Sequential(Linear(4, 4, seed=3))
    before = values(model.layers[0].weight).copy()
    magnitude_prune(model, 0.0)
    np.testing.assert_array_equal(values(model.layers[0].weight), before)
    magnitude_prune(model, 1.0)
    assert np.all(values(model.layers[0].weight) == 0)


def test_models_without_weights_and_unknown_scopes_are_refused():
    with pytest.raises(ValueError):
        magnitude_prune(Sequential(ReLU()), 0.5)
    with pytest.raises(ValueError, match="scope"):
        magnitude_prune(Sequential(Linear(2, 2)), 0.5, scope="row")
    with pytest.raises(TypeError):
        magnitude_prune([Linear(2, 2)], 0.5)


def test_masks_must_fit_their_weights_and_the_wrapper_needs_real_parts():
    layer = Linear(2, 3)
    with pytest.raises(ValueError):
        PruningMask([("w", layer.weight)], [np.ones((3, 2), bool)])
    with pytest.raises(ValueError):
        PruningMask([("w", layer.weight)], [])
    with pytest.raises(TypeError):
        MaskedOptimizer("sgd", PruningMask([("w", layer.weight)], [np.ones((2, 3), bool)]))
    with pytest.raises(TypeError):
        MaskedOptimizer(SGD(layer.parameters(), lr=0.1), None)


def test_an_all_zero_matrix_stores_only_row_starts_and_a_wide_one_uses_long_indices():
    empty = CSRMatrix.from_dense(np.zeros((5, 7), dtype=np.float32))
    assert empty.nnz == 0 and empty.nbytes == 6 * 4
    np.testing.assert_array_equal(empty.to_dense(), np.zeros((5, 7)))
    doubles = CSRMatrix.from_dense(np.eye(3))
    assert doubles.data.dtype == np.float64 and doubles.nbytes == 3 * 8 + 3 * 4 + 4 * 4


def test_sparse_inputs_of_the_wrong_shape_are_refused():
    with pytest.raises(ValueError):
        CSRMatrix.from_dense(np.ones(4))
    with pytest.raises(ValueError):
        CSRMatrix.from_dense(np.eye(3)).rmatmul(np.ones((2, 4)))
    with pytest.raises(ValueError):
        CSRMatrix(np.ones(2), np.array([0, 5]), np.array([0, 1, 2]), (2, 3))


def test_units_stay_when_the_chain_cannot_shrink():
    sigmoid = Sequential(Linear(3, 4, seed=0), Sigmoid(), Linear(4, 2, seed=1))
    assert prune_units(sigmoid, 0.5).layers[0].weight.shape == (3, 4), "sigmoid(0) != 0: removing units changes outputs"
    last = Sequential(Linear(3, 4, seed=0), ReLU(), Linear(4, 2, seed=1))
    small = prune_units(last, 1.0)
    assert small.layers[0].weight.shape == (3, 1), "at least one unit stays"
    assert small.layers[2].weight.shape == (1, 2), "the output layer keeps its outputs"
    with pytest.raises(TypeError):
        prune_units(Linear(3, 4), 0.5)


def test_pruning_units_keeps_layers_without_bias_without_bias():
    model = Sequential(Linear(4, 6, bias=False, seed=0), ReLU(), Linear(6, 2, bias=False, seed=1))
    small = prune_units(model, 0.5)
    assert small.layers[0].bias is None and small.layers[2].bias is None
    assert compression_report(small)["parameters"] == 4 * 3 + 3 * 2


def test_low_rank_edges():
    weight = np.random.default_rng(0).normal(size=(4, 6))
    assert low_rank_error(weight, 4) == pytest.approx(0.0, abs=1e-12)
    assert low_rank_error(np.zeros((3, 3)), 1) == 0.0
    errors = [low_rank_error(weight, r) for r in range(1, 5)]
    assert errors == sorted(errors, reverse=True), "more rank, less error"
    for bad in (0, 5, 2.0):
        with pytest.raises(ValueError):
            low_rank_error(weight, bad)
    with pytest.raises(TypeError):
        low_rank_factorize(Conv2d(1, 1, 1), 1)
    no_bias = low_rank_factorize(Linear(5, 3, bias=False, seed=0), 3)
    assert no_bias.layers[1].bias is None


def test_distillation_edges_reduce_to_known_losses():
    rng = np.random.default_rng(3)
    student, teacher, labels = rng.normal(size=(4, 3)), rng.normal(size=(4, 3)), np.array([0, 1, 2, 1])
    z = student - student.max(axis=1, keepdims=True)
    ce = -(z - np.log(np.exp(z).sum(axis=1, keepdims=True)))[np.arange(4), labels].mean()
    np.testing.assert_allclose(values(distillation_loss(Tensor(student), teacher, labels, 3.0, 0.0)), ce, rtol=1e-7)
    same = distillation_loss(Tensor(teacher), teacher, labels, 2.0, 1.0)
    np.testing.assert_allclose(values(same), 0.0, atol=1e-12)


def test_the_teacher_receives_no_gradient():
    teacher = Tensor(np.ones((2, 3)), requires_grad=True)
    student = Tensor(np.zeros((2, 3)), requires_grad=True)
    distillation_loss(student, teacher, np.array([0, 2]), 2.0, 0.5).backward()
    assert student.grad is not None and teacher.grad is None


@pytest.mark.parametrize("options", [{"temperature": 0.0}, {"temperature": -1.0}, {"alpha": 1.2}])
def test_distillation_refuses_impossible_settings(options):
    with pytest.raises(ValueError):
        distillation_loss(Tensor(np.zeros((2, 3))), np.zeros((2, 3)), np.array([0, 1]), **options)
    with pytest.raises(ValueError):
        distillation_loss(Tensor(np.zeros((2, 3))), np.zeros((2, 4)), np.array([0, 1]))
