"""Module 12 -- Attention: held-out checks (multi-head gradients, mask broadcasting, no-peeking, stability).

Values are compared with the independent NumPy oracles of spec/test_12_attention.py; gradients with float64 central
finite differences over every element (rtol=1e-5, atol=1e-6 unless stated).
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from spec.test_12_attention import numpy_attention, numpy_multi_head
from spec.support import assert_gradients_close, check_gradients, examples, float_arrays, numerical_gradient_of, values
from tinytorch.core.attention import (MultiHeadAttention, attention_score_bytes, causal_mask,
                                      scaled_dot_product_attention)
from tinytorch.core.autograd import enable_autograd
from tinytorch.core.layers import Linear
from tinytorch.core.tensor import Tensor

pytestmark = pytest.mark.module(12)


@pytest.fixture(autouse=True)
def autograd_on():
    enable_autograd()


def float64_module(module):
    """Cast every parameter to float64 so finite differences are accurate."""
    for parameter in module.parameters():
        parameter.data = values(parameter).astype(np.float64)
    return module


def parameter_gradients_match(module, run, seed=0):
    """Finite-difference check of d sum(run() * G) / d parameter, for every parameter of module."""
    out = run()
    upstream = np.random.default_rng(seed).normal(size=values(out).shape)
    for parameter in module.parameters():
        parameter.zero_grad()
    (out * Tensor(upstream)).sum().backward()
    for name, parameter in module.named_parameters():
        original = values(parameter)

        def output_at(array, parameter=parameter):
            parameter.data = array
            return run()

        numeric = numerical_gradient_of(output_at, lambda data: float((data * upstream).sum()), original)
        parameter.data = original
        assert_gradients_close(parameter.grad, numeric, rtol=1e-5, atol=1e-6, name=name)


# ---------------------------------------------------------------- gradients through several heads
@pytest.mark.points(3)
@pytest.mark.parametrize("masked", [False, True], ids=["no-mask", "causal"])
def test_multi_head_gradients_of_input_and_every_projection(masked, rng):
    module = float64_module(MultiHeadAttention(4, 2, seed=3))
    x = rng.normal(size=(2, 3, 4))
    mask = causal_mask(3) if masked else None
    check_gradients(lambda a: module(a, mask=mask), x)
    parameter_gradients_match(module, lambda: module(Tensor(x), mask=mask))


@pytest.mark.points(2)
def test_cross_attention_gradients_of_input_context_and_projections(rng):
    module = float64_module(MultiHeadAttention(4, 2, seed=5, bias=False))
    x, context = rng.normal(size=(2, 2, 4)), rng.normal(size=(2, 5, 4))
    check_gradients(lambda a, c: module(a, context=c), x, context)
    parameter_gradients_match(module, lambda: module(Tensor(x), context=Tensor(context)), seed=1)


@settings(max_examples=examples(15))
@given(data=st.data())
def test_weights_themselves_are_differentiable(data):
    t_q, t_k, d = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4)), data.draw(st.integers(1, 3))
    q = data.draw(float_arrays((2, t_q, d), dtype=np.float64, magnitude=3))
    k = data.draw(float_arrays((2, t_k, d), dtype=np.float64, magnitude=3))
    v = Tensor(np.ones((2, t_k, 1)))
    check_gradients(lambda a, b: scaled_dot_product_attention(a, b, v)[1], q, k)


def test_gradients_with_broadcast_leading_dimensions(rng):
    # queries shared across 3 heads, keys and values shared across 2 batch entries
    q, k, v = rng.normal(size=(2, 1, 3, 2)), rng.normal(size=(1, 3, 4, 2)), rng.normal(size=(1, 3, 4, 3))
    mask = np.array([True, True, False, True])  # a key-padding mask: key 2 is blocked for every query
    check_gradients(lambda a, b, c: scaled_dot_product_attention(a, b, c, mask)[0], q, k, v)
    out, weights = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), mask)
    assert values(out).shape == (2, 3, 3, 3)
    assert (values(weights)[..., 2] == 0).all()


def test_no_gradient_flows_from_the_past_to_the_future(rng):
    module = float64_module(MultiHeadAttention(4, 2, seed=7))
    x = Tensor(rng.normal(size=(2, 5, 4)), requires_grad=True)
    t = 2
    out = module(x, mask=causal_mask(5))
    out[:, t].sum().backward()
    g = values(x.grad)
    assert (g[:, t + 1:] == 0).all(), "output at position t must not depend on later inputs"
    assert (np.abs(g[:, : t + 1]).sum(axis=-1) > 0).all(), "output at position t depends on positions 0..t"


# ---------------------------------------------------------------- mask broadcasting and forms
def test_multi_head_mask_broadcasts_over_batch_and_heads(rng):
    module = float64_module(MultiHeadAttention(6, 3, seed=2))
    x = Tensor(rng.normal(size=(2, 4, 6)))
    mask = causal_mask(4)
    reference = values(module(x, mask=mask)).copy()
    for form in (mask[None, None], np.broadcast_to(mask, (2, 1, 4, 4)), np.broadcast_to(mask, (2, 3, 4, 4)),
                 Tensor(mask)):
        np.testing.assert_array_equal(values(module(x, mask=form)), reference)
    expected, _ = numpy_multi_head(module, values(x), mask=mask)
    np.testing.assert_allclose(reference, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.points(2)
def test_multi_head_per_example_mask_blocks_padding_of_each_example(rng):
    module = float64_module(MultiHeadAttention(4, 2, seed=4))
    x, context = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4))
    lengths = np.array([5, 2])  # example 1 has only two real context positions
    mask = np.broadcast_to(np.arange(5)[None, None, :] < lengths[:, None, None], (2, 3, 5))  # (B, T, S)
    out = module(Tensor(x), context=Tensor(context), mask=mask)
    weights = module.last_attention_weights
    assert weights.shape == (2, 2, 3, 5)
    assert (weights[1, :, :, 2:] == 0).all() and (weights[0] > 0).all()
    expected, expected_weights = numpy_multi_head(module, x, context, mask=mask[:, None])
    np.testing.assert_allclose(values(out), expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(weights, expected_weights, rtol=1e-9, atol=1e-12)


def test_boolean_tensor_and_list_masks_work_like_arrays(rng):
    q, k, v = rng.normal(size=(3, 2)), rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    mask = np.array([[True, False, True, False], [False, True, True, True], [True, True, True, True]])
    expected_out, expected_weights = numpy_attention(q, k, v, mask)
    for form in (mask, Tensor(mask), mask.tolist()):
        out, weights = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), form)
        np.testing.assert_allclose(values(out), expected_out, rtol=1e-12)
        np.testing.assert_array_equal(values(weights) == 0, ~mask)


def test_opposite_meaning_mask_gives_visibly_different_attention(rng):
    # causal_mask(T).T lets each query see only itself and the FUTURE: the meaning is reversed
    q, k, v = (rng.normal(size=(4, 3)) for _ in range(3))
    _, causal = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), causal_mask(4))
    _, reversed_ = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), causal_mask(4).T)
    np.testing.assert_array_equal(values(causal)[0], [1.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(values(reversed_)[-1], [0.0, 0.0, 0.0, 1.0])
    assert (values(reversed_)[0] > 0).all()


@given(scale=st.sampled_from([1e2, 1e3, 1e4]), data=st.data())
@settings(max_examples=examples(10))
def test_huge_scores_stay_finite_and_masked_exactly_zero(scale, data):
    x = data.draw(float_arrays((2, 5, 3), dtype=np.float64, magnitude=1)) * scale
    out, weights = scaled_dot_product_attention(Tensor(x), Tensor(x), Tensor(x), causal_mask(5))
    w = values(weights)
    assert np.isfinite(values(out)).all() and np.isfinite(w).all()
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=1e-12)
    assert (w[:, ~causal_mask(5)] == 0).all()
    expected_out, _ = numpy_attention(x, x, x, causal_mask(5))
    np.testing.assert_allclose(values(out), expected_out, rtol=1e-9, atol=1e-9 * scale)


def test_masked_keys_get_zero_even_when_every_allowed_score_is_very_negative(rng):
    # allowed scores are about -2e4: a "large negative" fill of -1e4 would win over them
    q = np.full((4, 4), 100.0)
    k = -100.0 + rng.uniform(0.0, 0.01, size=(4, 4))
    v = rng.normal(size=(4, 2))
    out, weights = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), causal_mask(4))
    w = values(weights)
    assert (w[~causal_mask(4)] == 0).all()
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=1e-12)
    expected_out, expected_weights = numpy_attention(q, k, v, causal_mask(4))
    np.testing.assert_allclose(w, expected_weights, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(values(out), expected_out, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------- construction
def test_multi_head_projections_parameters_and_seed():
    module = MultiHeadAttention(8, 4, seed=11)
    assert module.head_dim == 2
    for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
        linear = getattr(module, name)
        assert isinstance(linear, Linear) and linear.weight.shape == (8, 8) and linear.bias.shape == (8,)
    assert module.num_parameters() == 4 * (8 * 8 + 8)
    assert MultiHeadAttention(8, 4, bias=False).num_parameters() == 4 * 8 * 8
    weights = [values(getattr(module, n).weight) for n in ("q_proj", "k_proj", "v_proj", "out_proj")]
    assert all(not np.array_equal(weights[i], weights[j]) for i in range(4) for j in range(i + 1, 4))
    again = MultiHeadAttention(8, 4, seed=11)
    for (_, p), (_, p2) in zip(module.named_parameters(), again.named_parameters()):
        np.testing.assert_array_equal(values(p), values(p2))
    assert module.last_attention_weights is None


@pytest.mark.parametrize("call, error", [
    (lambda m: m(Tensor(np.ones((2, 3, 4))), context=Tensor(np.ones((3, 5, 4)))), ValueError),  # batch sizes
    (lambda m: m(Tensor(np.ones((2, 3, 4))), context=Tensor(np.ones((2, 5, 6)))), ValueError),  # context width
    (lambda m: m(Tensor(np.ones((3, 4))),), ValueError),                                         # not (B, T, D)
    (lambda m: m(np.ones((2, 3, 4)),), TypeError),                                               # not a Tensor
    (lambda m: m(Tensor(np.ones((2, 3, 4))), mask=np.tril(np.ones((3, 3)))), TypeError),         # float mask
    (lambda m: m(Tensor(np.ones((2, 3, 4))), mask=np.ones((3, 5), dtype=bool)), ValueError),     # mask shape
], ids=["batch", "context-width", "2-d", "ndarray", "float-mask", "mask-shape"])
def test_multi_head_invalid_calls_raise(call, error):
    with pytest.raises(error):
        call(MultiHeadAttention(4, 2, seed=0))


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_invalid_lengths_and_counts_raise(bad):
    with pytest.raises(ValueError):
        causal_mask(bad)
    with pytest.raises(ValueError):
        attention_score_bytes(1, 2, bad if bad != 0 else -1)


@given(b=st.integers(0, 64), h=st.integers(0, 16), t=st.integers(0, 4096),
       dtype=st.sampled_from([np.float16, np.float32, np.float64]))
def test_attention_score_bytes_formula(b, h, t, dtype):
    got = attention_score_bytes(b, h, t, dtype)
    assert isinstance(got, int) and got == b * h * t * t * np.dtype(dtype).itemsize
    assert attention_score_bytes(b, h, 2 * t, dtype) == 4 * got
