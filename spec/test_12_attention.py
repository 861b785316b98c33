"""Module 12 -- Attention: the visible specification.

Run just this module:  pytest spec/test_12_attention.py     (or: kata test 12)
Every value is compared with an independent NumPy computation written below (`numpy_attention`).
The mask convention is checked from both sides: True means "may attend", a causal mask makes row 0
look only at key 0 and makes the past blind to changes in the future, and a mask of another dtype
(or with the opposite meaning) is refused. Scores in the thousands must still give finite weights
that sum to 1, and a per-example (B, T, S) mask in MultiHeadAttention must act exactly as if each
example ran alone with its own mask. Gradients are float64 central finite differences over
every element (spec.support.check_gradients; rtol=1e-5, atol=1e-6).
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from spec.support import check_gradients, elementwise_tolerance, examples, float_arrays, float_dtypes, values
from tinytorch.core.attention import (MultiHeadAttention, attention_score_bytes, causal_mask,
                                      scaled_dot_product_attention)
from tinytorch.core.autograd import enable_autograd
from tinytorch.core.tensor import Tensor

pytestmark = pytest.mark.module(12)


@pytest.fixture(autouse=True)
def autograd_on():
    enable_autograd()


# ---------------------------------------------------------------- independent oracle
def numpy_attention(q, k, v, mask=None):
    """softmax(q k^T / sqrt(d)) v in plain NumPy; mask True = may attend. Returns (output, weights)."""
    scores = np.matmul(q, np.swapaxes(k, -1, -2)) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights = weights / weights.sum(axis=-1, keepdims=True)
    return np.matmul(weights, v), weights


def numpy_multi_head(module, x, context=None, mask=None):
    """The same computation as MultiHeadAttention.forward, from the module's parameter arrays.

    Head h uses features h*D/H .. (h+1)*D/H - 1 of the projected queries, keys and values.
    """
    def project(linear, a):
        out = a @ values(linear.weight)
        return out + values(linear.bias) if linear.bias is not None else out

    def split(a):
        b, t, _ = a.shape
        return a.reshape(b, t, heads, -1).transpose(0, 2, 1, 3)

    source = x if context is None else context
    heads = module.num_heads
    q, k, v = split(project(module.q_proj, x)), split(project(module.k_proj, source)), split(project(module.v_proj, source))
    out, weights = numpy_attention(q, k, v, mask)
    b, _, t, _ = out.shape
    return project(module.out_proj, out.transpose(0, 2, 1, 3).reshape(b, t, -1)), weights


def float64_module(module):
    """Cast every parameter to float64 so finite differences are accurate."""
    for parameter in module.parameters():
        parameter.data = values(parameter).astype(np.float64)
    return module


# ---------------------------------------------------------------- strategies
@st.composite
def masks_keeping_a_key(draw, shape):
    """Boolean masks of `shape` (last axis: keys) in which no row blocks every key."""
    mask = draw(hnp.arrays(np.bool_, shape))
    keep = draw(hnp.arrays(np.int64, shape[:-1] + (1,), elements=st.integers(0, shape[-1] - 1)))
    np.put_along_axis(mask, keep, True, axis=-1)
    return mask


@st.composite
def attention_inputs(draw, masked=None, max_len=5, dtype=np.float64, magnitude=3.0):
    """(q, k, v, mask) with random leading dims, lengths and widths; every mask row keeps a key."""
    leading = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3))
    t_q, t_k = draw(st.integers(1, max_len)), draw(st.integers(1, max_len))
    d, d_v = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    q = draw(float_arrays(leading + (t_q, d), dtype=dtype, magnitude=magnitude))
    k = draw(float_arrays(leading + (t_k, d), dtype=dtype, magnitude=magnitude))
    v = draw(float_arrays(leading + (t_k, d_v), dtype=dtype, magnitude=magnitude))
    use_mask = draw(st.booleans()) if masked is None else masked
    mask = None
    if use_mask:
        full = leading + (t_q, t_k)
        # any broadcastable shape: maybe drop the leading dims, maybe squeeze some dims to 1
        shape = full if draw(st.booleans()) else (t_q, t_k)
        shape = tuple(1 if draw(st.booleans()) and i < len(shape) - 1 else s for i, s in enumerate(shape))
        mask = draw(masks_keeping_a_key(shape))
    return q, k, v, mask


# ---------------------------------------------------------------- properties of the weights and output
@pytest.mark.points(2)
@given(case=attention_inputs())
def test_weights_are_probability_distributions_over_keys(case):
    q, k, v, mask = case
    _, weights = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), mask)
    w = values(weights)
    assert w.shape == np.broadcast_shapes(q.shape[:-2], k.shape[:-2]) + (q.shape[-2], k.shape[-2])
    assert (w >= 0).all()
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=1e-12)
    if mask is not None:
        blocked = ~np.broadcast_to(mask, w.shape)
        assert (w[blocked] == 0).all(), "masked (False) positions must get probability exactly 0"


@pytest.mark.points(3)
@given(case=attention_inputs())
def test_output_and_weights_match_independent_numpy(case):
    q, k, v, mask = case
    out, weights = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), mask=mask)
    expected_out, expected_weights = numpy_attention(q, k, v, mask)
    assert values(out).shape == expected_out.shape
    np.testing.assert_allclose(values(weights), expected_weights, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(values(out), expected_out, rtol=1e-10, atol=1e-12)


@given(dtype=float_dtypes, data=st.data())
def test_outputs_and_weights_keep_the_input_dtype(dtype, data):
    q, k, v = (data.draw(float_arrays((2, 4, 3), dtype=dtype, magnitude=3)) for _ in range(3))
    out, weights = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), causal_mask(4))
    assert values(out).dtype == dtype and values(weights).dtype == dtype
    expected_out, _ = numpy_attention(q.astype(np.float64), k.astype(np.float64), v.astype(np.float64), causal_mask(4))
    # Worst case in float32: each score (up to 27 / sqrt(3)) may be off by ~4e-6, which moves every
    # weight by up to ~8e-6 relative and an output (values up to 3) by ~2.5e-5; float64 is 2e-9 times that.
    tolerance = dict(rtol=1e-5, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(values(out), expected_out, **tolerance)


# ---------------------------------------------------------------- large scores: the softmax must not overflow
BIG_ENTRIES = (st.integers(30, 100) | st.integers(-100, -30)).map(float)


@st.composite
def large_score_inputs(draw):
    """(q, k, v, mask) whose q and k entries are integers of size 30..100: scores reach tens of thousands.

    Key 0 is a copy of query 0, so that query scores at least 30**2 * d / sqrt(d) >= 900 with key 0:
    exp(900) overflows (float64 above ~709, float32 above ~88), so a softmax that does not subtract
    the row's largest score first gives inf / inf = nan. d is 1, 4 or 16: 1 / sqrt(d) is a power of
    two, so every score is exact in float32 and float64 whichever way it is computed.
    """
    dtype = draw(float_dtypes)
    leading = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3))
    t_q, t_k, d = draw(st.integers(1, 5)), draw(st.integers(1, 5)), draw(st.sampled_from([1, 4, 16]))
    q = draw(hnp.arrays(dtype, leading + (t_q, d), elements=BIG_ENTRIES))
    k = draw(hnp.arrays(dtype, leading + (t_k, d), elements=BIG_ENTRIES))
    k[..., 0, :] = q[..., 0, :]
    v = draw(float_arrays(leading + (t_k, draw(st.integers(1, 3))), dtype=dtype, magnitude=3))
    mask = None
    if draw(st.booleans()):
        mask = draw(masks_keeping_a_key((t_q, t_k)))
        mask[0, 0] = True  # keep the score that overflows a naive softmax
    return q, k, v, mask


@pytest.mark.points(2)
@given(case=large_score_inputs())
def test_large_scores_give_finite_weights_that_sum_to_one(case):
    q, k, v, mask = case
    out, weights = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), mask)
    w, o = values(weights), values(out)
    assert w.dtype == q.dtype and o.dtype == q.dtype
    assert np.isfinite(w).all() and np.isfinite(o).all(), (
        "weights must stay finite for scores in the thousands: subtract each row's largest score before exp"
    )
    assert (w >= 0).all()
    if mask is not None:
        assert (w[..., ~mask] == 0).all(), "masked (False) positions must get probability exactly 0"
    q64, k64, v64 = (a.astype(np.float64) for a in (q, k, v))
    expected_out, expected_weights = numpy_attention(q64, k64, v64, mask)
    # A softmax of scores of size S is only as precise as S's last bits (exp(s - logsumexp(s)) is a
    # correct way to compute it and shifts every weight by about eps * S): allow that spread, which
    # is tiny in float64 and about 1e-2 in float32 at S ~ 4e4.
    largest_score = np.abs(np.matmul(q64, np.swapaxes(k64, -1, -2))).max() / np.sqrt(q.shape[-1])
    eps, tolerance = float(np.finfo(q.dtype).eps), elementwise_tolerance(q.dtype)
    spread = 8 * eps * largest_score
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=0, atol=tolerance["rtol"] + spread)
    np.testing.assert_allclose(w, expected_weights, rtol=tolerance["rtol"], atol=spread + tolerance["atol"])
    # each output is a weighted sum of at most T_k values: their errors add up
    t_k = k.shape[-2]
    out_atol = (tolerance["rtol"] + t_k * (spread + eps)) * np.abs(v64).max() + tolerance["atol"]
    np.testing.assert_allclose(o, expected_out, rtol=tolerance["rtol"], atol=out_atol)


def test_scores_are_divided_by_sqrt_of_the_feature_size():
    # d = 4: scores are (q . k) / 2, so a dot product of 2 becomes 1 (dividing by d would give 0.5)
    q = Tensor(np.array([[2.0, 0.0, 0.0, 0.0]]))
    k = Tensor(np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]))
    v = Tensor(np.array([[1.0], [0.0]]))
    out, weights = scaled_dot_product_attention(q, k, v)
    e = np.e
    np.testing.assert_allclose(values(weights), [[e / (e + 1), 1 / (e + 1)]], rtol=1e-12)
    np.testing.assert_allclose(values(out), [[e / (e + 1)]], rtol=1e-12)


def test_attention_is_content_dependent_not_uniform(rng):
    q, k, v = (rng.normal(size=(2, 6, 4)) for _ in range(3))
    _, weights = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v))
    assert np.abs(values(weights) - 1 / 6).max() > 0.05, "random queries and keys must not give uniform weights"
    # a query that matches one key strongly puts (nearly) all its weight there
    x = 6.0 * np.eye(4)
    _, weights = scaled_dot_product_attention(Tensor(x), Tensor(x), Tensor(x))
    np.testing.assert_array_equal(values(weights).argmax(axis=-1), np.arange(4))
    assert (np.diag(values(weights)) > 0.99).all()


@given(x=float_arrays(hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6), dtype=np.float64,
                      magnitude=3), data=st.data())
def test_self_attention_is_permutation_equivariant(x, data):
    order = np.array(data.draw(st.permutations(range(x.shape[0]))))
    out, weights = scaled_dot_product_attention(Tensor(x), Tensor(x), Tensor(x))
    out_p, weights_p = scaled_dot_product_attention(Tensor(x[order]), Tensor(x[order]), Tensor(x[order]))
    np.testing.assert_allclose(values(out_p), values(out)[order], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(values(weights_p), values(weights)[order][:, order], rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- the causal mask and the convention
@pytest.mark.parametrize("seq_len", [1, 2, 5])
def test_causal_mask_is_lower_triangular_true(seq_len):
    mask = causal_mask(seq_len)
    assert isinstance(mask, np.ndarray) and mask.dtype == np.bool_ and mask.shape == (seq_len, seq_len)
    rows, cols = np.indices((seq_len, seq_len))
    np.testing.assert_array_equal(mask, cols <= rows)


@pytest.mark.points(2)
def test_causal_row_zero_attends_only_to_key_zero(rng):
    q, k, v = (rng.normal(size=(3, 5, 4)) for _ in range(3))
    out, weights = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), mask=causal_mask(5))
    w = values(weights)
    np.testing.assert_array_equal(w[:, 0], np.tile([1.0, 0.0, 0.0, 0.0, 0.0], (3, 1)))
    np.testing.assert_allclose(values(out)[:, 0], v[:, 0], rtol=1e-12)
    assert (w[:, np.triu_indices(5, 1)[0], np.triu_indices(5, 1)[1]] == 0).all(), "above the diagonal must be 0"
    # the last position sees every key, exactly as without a mask
    _, unmasked = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v))
    np.testing.assert_allclose(w[:, -1], values(unmasked)[:, -1], rtol=1e-12)


@pytest.mark.points(3)
@given(data=st.data())
def test_causal_output_at_t_ignores_every_later_position(data):
    t_len = data.draw(st.integers(2, 6))
    d = data.draw(st.integers(1, 4))
    q, k, v = (data.draw(float_arrays((2, t_len, d), dtype=np.float64, magnitude=3)) for _ in range(3))
    t = data.draw(st.integers(0, t_len - 2))
    future = (slice(None), slice(t + 1, None))
    q2, k2, v2 = q.copy(), k.copy(), v.copy()
    for array in (q2, k2, v2):
        array[future] = data.draw(float_arrays(array[future].shape, dtype=np.float64, magnitude=50))
    out, weights = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v), causal_mask(t_len))
    out2, _ = scaled_dot_product_attention(Tensor(q2), Tensor(k2), Tensor(v2), causal_mask(t_len))
    np.testing.assert_allclose(values(out2)[:, : t + 1], values(out)[:, : t + 1], rtol=1e-12, atol=1e-12)
    assert (values(weights)[:, ~causal_mask(t_len)] == 0).all()


@pytest.mark.parametrize("bad_mask", [
    pytest.param(lambda t: np.tril(np.ones((t, t))), id="float-0/1"),
    pytest.param(lambda t: np.tril(np.ones((t, t), dtype=np.int64)), id="int-0/1"),
    pytest.param(lambda t: np.triu(np.full((t, t), -1e9), 1), id="additive-float"),
])
def test_non_boolean_masks_are_refused_with_the_convention(bad_mask, rng):
    x = Tensor(rng.normal(size=(4, 3)))
    with pytest.raises(TypeError, match="(?i)bool") as info:
        scaled_dot_product_attention(x, x, x, mask=bad_mask(4))
    assert "True" in str(info.value), "the message must state what True means"


def test_the_opposite_boolean_mask_is_refused(rng):
    # ~causal blocks every key for the last query: that row would be 0/0
    x = Tensor(rng.normal(size=(4, 3)))
    with pytest.raises(ValueError, match="(?i)mask"):
        scaled_dot_product_attention(x, x, x, mask=~causal_mask(4))


# ---------------------------------------------------------------- gradients
@pytest.mark.points(2)
@settings(max_examples=examples(15))
@given(case=attention_inputs(masked=False, max_len=4))
def test_gradients_of_q_k_v_without_mask(case):
    q, k, v, _ = case
    check_gradients(lambda a, b, c: scaled_dot_product_attention(a, b, c)[0], q, k, v)


@pytest.mark.points(2)
@settings(max_examples=examples(15))
@given(case=attention_inputs(masked=True, max_len=4))
def test_gradients_of_q_k_v_with_mask(case):
    q, k, v, mask = case
    check_gradients(lambda a, b, c: scaled_dot_product_attention(a, b, c, mask)[0], q, k, v)


# ---------------------------------------------------------------- multi-head attention
@pytest.mark.points(3)
@settings(max_examples=examples(20))
@given(data=st.data())
def test_multi_head_matches_numpy_reimplementation(data):
    heads = data.draw(st.sampled_from([1, 2, 4]))
    dim = heads * data.draw(st.integers(1, 3))
    b, t = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 5))
    module = float64_module(MultiHeadAttention(dim, heads, seed=data.draw(st.integers(0, 99)),
                                               bias=data.draw(st.booleans())))
    x = data.draw(float_arrays((b, t, dim), dtype=np.float64, magnitude=2))
    mask = causal_mask(t) if data.draw(st.booleans()) else None
    out = module(Tensor(x), mask=mask)
    expected, expected_weights = numpy_multi_head(module, x, mask=mask)
    np.testing.assert_allclose(values(out), expected, rtol=1e-9, atol=1e-12)
    assert isinstance(module.last_attention_weights, np.ndarray)
    np.testing.assert_allclose(module.last_attention_weights, expected_weights, rtol=1e-9, atol=1e-12)


@pytest.mark.points(3)
@settings(max_examples=examples(30))
@given(data=st.data())
def test_multi_head_per_example_mask_equals_running_each_example_alone(data):
    heads = data.draw(st.sampled_from([1, 2, 3, 4]))
    # When B == H, a (B, T, S) mask broadcast over the HEADS (head h gets example h's mask) instead of
    # over the examples runs without error and looks plausible, so that case is drawn often.
    batch = data.draw(st.one_of(st.just(heads), st.integers(1, 4)))
    dim = heads * data.draw(st.integers(1, 2))
    t = data.draw(st.integers(1, 4))
    cross = data.draw(st.booleans())
    s = data.draw(st.integers(1, 4)) if cross else t
    module = float64_module(MultiHeadAttention(dim, heads, seed=data.draw(st.integers(0, 99)),
                                               bias=data.draw(st.booleans())))
    x = data.draw(float_arrays((batch, t, dim), dtype=np.float64, magnitude=2))
    context = data.draw(float_arrays((batch, s, dim), dtype=np.float64, magnitude=2)) if cross else None
    mask = data.draw(masks_keeping_a_key((batch, t, s)))
    out = values(module(Tensor(x), context=None if context is None else Tensor(context), mask=mask))
    weights = module.last_attention_weights
    for b in range(batch):
        # example b alone, with its own (T, S) mask, shared by every head
        x_b = x[b:b + 1]
        context_b = None if context is None else context[b:b + 1]
        expected, expected_weights = numpy_multi_head(module, x_b, context_b, mask=mask[b])
        np.testing.assert_allclose(out[b:b + 1], expected, rtol=1e-9, atol=1e-12,
                                   err_msg=f"example {b} of {batch} ({heads} heads)")
        np.testing.assert_allclose(weights[b:b + 1], expected_weights, rtol=1e-9, atol=1e-12,
                                   err_msg=f"weights of example {b} of {batch} ({heads} heads)")
        alone = values(module(Tensor(x_b), context=None if context_b is None else Tensor(context_b), mask=mask[b]))
        np.testing.assert_allclose(out[b:b + 1], alone, rtol=1e-9, atol=1e-12,
                                   err_msg=f"example {b} run alone with its own mask")


def test_multi_head_cross_attention_shapes(rng):
    module = MultiHeadAttention(8, 2, seed=0)
    x = Tensor(rng.normal(size=(3, 4, 8)).astype(np.float32))
    context = Tensor(rng.normal(size=(3, 7, 8)).astype(np.float32))
    out = module(x, context=context)
    assert out.shape == (3, 4, 8) and out.dtype == np.float32
    w = module.last_attention_weights
    assert isinstance(w, np.ndarray) and w.shape == (3, 2, 4, 7)
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=1e-5)
    expected, _ = numpy_multi_head(module, values(x).astype(np.float64), values(context).astype(np.float64))
    np.testing.assert_allclose(values(out), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.points(2)
@given(data=st.data())
@settings(max_examples=examples(20))
def test_multi_head_causal_output_ignores_future_tokens(data):
    t_len = data.draw(st.integers(2, 6))
    t = data.draw(st.integers(0, t_len - 2))
    module = float64_module(MultiHeadAttention(4, 2, seed=data.draw(st.integers(0, 99))))
    x = data.draw(float_arrays((2, t_len, 4), dtype=np.float64, magnitude=2))
    x2 = x.copy()
    x2[:, t + 1:] = data.draw(float_arrays(x2[:, t + 1:].shape, dtype=np.float64, magnitude=20))
    out = values(module(Tensor(x), mask=causal_mask(t_len)))
    weights = module.last_attention_weights
    out2 = values(module(Tensor(x2), mask=causal_mask(t_len)))
    np.testing.assert_allclose(out2[:, : t + 1], out[:, : t + 1], rtol=1e-12, atol=1e-12)
    assert (weights[..., ~causal_mask(t_len)] == 0).all()
    np.testing.assert_array_equal(weights[..., 0, :], np.broadcast_to(np.eye(t_len)[0], weights[..., 0, :].shape))


@given(data=st.data())
@settings(max_examples=examples(20))
def test_multi_head_self_attention_is_permutation_equivariant(data):
    t_len = data.draw(st.integers(1, 6))
    module = float64_module(MultiHeadAttention(6, 3, seed=data.draw(st.integers(0, 99))))
    x = data.draw(float_arrays((2, t_len, 6), dtype=np.float64, magnitude=2))
    order = np.array(data.draw(st.permutations(range(t_len))))
    out = values(module(Tensor(x)))
    out_p = values(module(Tensor(x[:, order])))
    np.testing.assert_allclose(out_p, out[:, order], rtol=1e-9, atol=1e-12)


def test_split_and_merge_heads_round_trip(rng):
    module = MultiHeadAttention(6, 3)
    x = rng.normal(size=(2, 5, 6))
    split = module.split_heads(Tensor(x))
    assert split.shape == (2, 3, 5, 2)
    for h in range(3):  # head h holds features 2h, 2h+1 of every position
        np.testing.assert_array_equal(values(split)[:, h], x[:, :, 2 * h: 2 * h + 2])
    np.testing.assert_array_equal(values(module.merge_heads(split)), x)


@pytest.mark.parametrize("embed_dim, num_heads, named", [(6, 4, "6.*4"), (5, 2, "5.*2"), (3, 0, "num_heads.*0"),
                                                          (0, 1, "embed_dim.*0"), (8, -2, "num_heads.*-2")])
def test_heads_must_divide_the_width(embed_dim, num_heads, named):
    with pytest.raises(ValueError, match=named):
        MultiHeadAttention(embed_dim, num_heads)


# ---------------------------------------------------------------- O(N^2) score memory
def test_attention_score_bytes_is_quadratic_in_sequence_length():
    assert attention_score_bytes(2, 4, 128) == 2 * 4 * 128 * 128 * 4
    assert attention_score_bytes(2, 4, 256) == 4 * attention_score_bytes(2, 4, 128)
    assert attention_score_bytes(1, 1, 1024, np.float64) == 8 * 1024 * 1024
    assert attention_score_bytes(3, 2, 10, dtype=np.float16) == 3 * 2 * 10 * 10 * 2


@pytest.mark.parametrize("seq_len", [3, 6])
def test_attention_score_bytes_matches_the_weights_actually_produced(seq_len, rng):
    module = MultiHeadAttention(8, 4, seed=1)
    module(Tensor(rng.normal(size=(2, seq_len, 8)).astype(np.float32)), mask=causal_mask(seq_len))
    assert module.last_attention_weights.nbytes == attention_score_bytes(2, 4, seq_len)
    q = Tensor(rng.normal(size=(2, 4, seq_len, 2)))
    _, weights = scaled_dot_product_attention(q, q, q)
    assert values(weights).nbytes == attention_score_bytes(2, 4, seq_len, np.float64)


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("shapes, mask, error", [
    (((2, 3), (2, 4), (2, 3)), None, ValueError),          # q and k widths differ
    (((2, 3), (4, 3), (5, 3)), None, ValueError),          # k and v lengths differ
    (((3,), (3,), (3,)), None, ValueError),                # 1-D inputs have no positions
    (((2, 2, 3), (3, 4, 3), (3, 4, 3)), None, ValueError),  # leading dims do not broadcast
    (((2, 3), (4, 3), (4, 3)), np.ones((4, 2), dtype=bool), ValueError),  # mask is (T_k, T_q)
    (((2, 3), (4, 3), (4, 3)), np.array([[True] * 4, [False] * 4]), ValueError),  # a row blocks every key
    (((2, 3), (4, 3), (4, 3)), np.ones((2, 4), dtype=np.float32), TypeError),
], ids=["width", "length", "1-d", "leading", "mask-shape", "blocked-row", "float-mask"])
def test_invalid_inputs_raise(shapes, mask, error):
    q, k, v = (Tensor(np.ones(shape)) for shape in shapes)
    with pytest.raises(error):
        scaled_dot_product_attention(q, k, v, mask)


def test_non_tensor_inputs_raise_type_error():
    with pytest.raises(TypeError, match="Tensor"):
        scaled_dot_product_attention(np.ones((2, 3)), Tensor(np.ones((2, 3))), Tensor(np.ones((2, 3))))
    with pytest.raises(ValueError, match="8"):
        MultiHeadAttention(8, 2)(Tensor(np.ones((1, 3, 6))))
