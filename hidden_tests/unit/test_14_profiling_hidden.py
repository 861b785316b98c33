"""Module 14 -- Profiling: held-out checks (layers without bias, cross-attention, 3-D inputs, the
tracing state, clocks that misbehave, single-layer profiles, bad arguments).

FLOP counts are hand formulas written here; timings come from a fake clock the tests own.
"""
import numpy as np
import pytest

from tinytorch.core.activations import ReLU
from tinytorch.core.attention import MultiHeadAttention
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.spatial import Conv2d
from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import GPT, TransformerBlock
from tinytorch.perf.profiling import (amdahl_speedup, attention_flops, bottleneck, conv2d_flops, count_flops,
                                      count_parameters, format_profile, linear_flops, measure_latency,
                                      profile_model, summarize_times)

pytestmark = pytest.mark.module(14)


def test_layers_without_bias_count_no_bias_adds():
    assert count_flops(Linear(5, 3, bias=False), (4, 5)) == 4 * 3 * 2 * 5
    assert count_flops(Conv2d(2, 3, 3, stride=2, bias=False, seed=0), (1, 2, 7, 7)) == 3 * 3 * 3 * (2 * 2 * 9)
    assert conv2d_flops((1, 2, 7, 7), 3, (3, 1), stride=1, padding=0) == 3 * 5 * 7 * (2 * 2 * 3 + 1)


def test_linear_on_three_dimensional_inputs_counts_every_position():
    assert count_flops(Linear(4, 6), (2, 5, 4)) == 2 * 5 * 6 * (2 * 4 + 1)


def test_cross_attention_uses_the_context_length_for_keys_values_and_scores():
    batch, queries, keys, dim = 2, 3, 7, 8
    expected = (2 * batch * queries * dim * (2 * dim + 1) + 2 * batch * keys * dim * (2 * dim + 1)
                + 4 * batch * queries * keys * dim)
    assert attention_flops(batch, queries, dim, 2, context_len=keys) == expected


def test_blocks_and_attention_count_as_parts_of_a_whole_model():
    dim, batch, seq = 8, 1, 4
    attention = 4 * batch * seq * dim * (2 * dim + 1) + 4 * batch * seq * seq * dim
    assert count_flops(MultiHeadAttention(dim, 2, seed=0), (batch, seq, dim)) == attention
    block = TransformerBlock(dim, 2, hidden_dim=12, seed=0)
    feed_forward = batch * seq * 12 * (2 * dim + 1) + batch * seq * dim * (2 * 12 + 1)
    assert count_flops(block, (batch, seq, dim)) == attention + feed_forward


def test_a_gpt_without_a_batch_of_token_ids_is_refused():
    model = GPT(5, 4, 1, 1, 4, seed=0)
    with pytest.raises(ValueError):
        count_flops(model, (1, 3, 4))


def test_shapes_that_do_not_fit_are_refused():
    with pytest.raises(ValueError):
        count_flops(Sequential(Linear(4, 2)), (3, 5))
    with pytest.raises(ValueError):
        conv2d_flops((1, 1, 8), 2, 3)
    with pytest.raises(ValueError):
        attention_flops(1, 4, 10, 3)
    with pytest.raises(ValueError):
        linear_flops(-1, 2, 2)


def test_parameters_of_a_bare_layer_and_of_a_non_module():
    assert count_parameters(Conv2d(3, 5, 2, seed=0)) == 5 * 3 * 2 * 2 + 5
    with pytest.raises(TypeError):
        count_parameters([Linear(2, 2)])


def test_latency_without_warmup_and_with_one_repeat():
    readings = iter([10.0, 10.125])
    result = measure_latency(lambda: None, warmup=0, repeats=1, timer=lambda: next(readings))
    assert result["times"] == [0.125] and result["median"] == 0.125 and result["std"] == 0.0
    assert result["iqr"] == 0.0 and result["warmup"] == 0


def test_a_clock_that_runs_backwards_is_reported():
    readings = iter([5.0, 4.0])
    with pytest.raises(ValueError, match="backwards"):
        measure_latency(lambda: None, warmup=0, repeats=1, timer=lambda: next(readings))


def test_summaries_refuse_empty_or_impossible_timings():
    with pytest.raises(ValueError):
        summarize_times([])
    with pytest.raises(ValueError):
        summarize_times([1.0, -0.5])
    with pytest.raises(ValueError):
        summarize_times([1.0, float("nan")])
    odd = summarize_times([3.0, 9.0, 6.0])
    assert odd["median"] == 6.0 and odd["p25"] == 4.5 and odd["p75"] == 7.5


def test_a_single_module_profiles_as_one_row_with_real_numbers():
    now = [0.0]

    def clock():
        now[0] += 0.5
        return now[0]

    rows = profile_model(Linear(3, 2, seed=0), np.ones((4, 3), dtype=np.float32), warmup=0, repeats=2, timer=clock)
    assert len(rows) == 1
    row = rows[0]
    assert row["name"] == "Linear" and tuple(row["output_shape"]) == (4, 2) and row["parameters"] == 8
    assert row["flops"] == 4 * 2 * 7 and row["seconds"] == 0.5 and row["share"] == 1.0
    assert row["peak_bytes"] >= 4 * 2 * 4, "the output array has to be allocated"


def test_profile_of_relu_only_steps_counts_no_flops():
    rows = profile_model(Sequential(ReLU(), ReLU()), Tensor(np.ones((2, 2), dtype=np.float32)), warmup=0, repeats=1)
    assert [row["flops"] for row in rows] == [0, 0] and [row["parameters"] for row in rows] == [0, 0]
    assert abs(sum(row["share"] for row in rows) - 1.0) < 1e-9 or all(row["share"] == 0.0 for row in rows)


def test_table_and_bottleneck_refuse_incomplete_rows():
    with pytest.raises(ValueError):
        bottleneck([])
    with pytest.raises(ValueError):
        bottleneck([{"flops": 1}])
    with pytest.raises(ValueError):
        format_profile([{"index": 0, "name": "Linear"}])


def test_amdahl_edges():
    assert amdahl_speedup(0.0, 10.0) == 1.0, "speeding up nothing gains nothing"
    assert amdahl_speedup(1.0, 8.0) == pytest.approx(8.0), "speeding up everything gains the full factor"
    assert amdahl_speedup(0.5, 0.5) == pytest.approx(1 / 1.5), "a slower part slows the whole"
    with pytest.raises(ValueError):
        amdahl_speedup(True, 2.0)
