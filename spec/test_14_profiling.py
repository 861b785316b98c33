"""Module 14 -- Profiling: the visible specification.

Run just this module:  pytest spec/test_14_profiling.py     (or: kata test 14)
FLOP counts are compared with formulas counted by hand in this file (2 FLOPs per multiply-accumulate,
1 per bias add, elementwise work not counted). Timings are driven by a fake clock the tests own, so
every statistic is checked exactly against values worked out here; nothing asserts real speed.
"""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from tinytorch.core.activations import ReLU
from tinytorch.core.layers import Linear, Module, Sequential
from tinytorch.core.spatial import Conv2d, Flatten, MaxPool2d
from tinytorch.core.tensor import Tensor
from tinytorch.core.transformer import GPT
from tinytorch.perf.profiling import (amdahl_speedup, attention_flops, bottleneck, conv2d_flops, count_flops,
                                      count_parameters, format_profile, linear_flops, measure_latency, peak_memory,
                                      profile_model, summarize_times)

pytestmark = pytest.mark.module(14)

SIZES = st.integers(1, 9)


class FakeClock:
    """A clock the test controls: each reading returns the next scripted time."""

    def __init__(self, readings):
        self.readings = list(readings)
        self.reads = 0

    def __call__(self):
        value = self.readings[self.reads]
        self.reads += 1
        return value


def clock_from_durations(durations):
    """Readings start, start + d0, next start, ... so the timed calls take exactly `durations`."""
    readings, now = [], 100.0
    for duration in durations:
        readings += [now, now + duration]
        now += duration + 1.0
    return FakeClock(readings)


# ---------------------------------------------------------------- parameters
@given(fan_in=SIZES, hidden=SIZES, fan_out=SIZES, bias=st.booleans())
def test_parameters_of_an_mlp_are_weights_plus_biases(fan_in, hidden, fan_out, bias):
    model = Sequential(Linear(fan_in, hidden, bias=bias), ReLU(), Linear(hidden, fan_out, bias=bias))
    expected = fan_in * hidden + hidden * fan_out + (hidden + fan_out if bias else 0)
    assert count_parameters(model) == expected


def test_a_layer_used_twice_is_counted_once():
    shared = Linear(4, 4)
    assert count_parameters(Sequential(shared, ReLU(), shared)) == 20, "the same Parameter counts once"


@pytest.mark.points(2)
def test_gpt_parameters_match_the_hand_count():
    vocab, dim, layers, seq = 11, 8, 2, 6
    model = GPT(vocab, dim, num_heads=2, num_layers=layers, max_seq_len=seq, seed=0)
    hidden = 4 * dim
    per_block = 2 * (2 * dim) + 4 * (dim * dim + dim) + (dim * hidden + hidden) + (hidden * dim + dim)
    expected = vocab * dim + seq * dim + layers * per_block + 2 * dim + dim * vocab + vocab
    assert count_parameters(model) == expected


# ---------------------------------------------------------------- FLOPs
@given(batch=st.integers(0, 64), fan_in=SIZES, fan_out=SIZES, bias=st.booleans())
def test_linear_flops_are_two_per_multiply_accumulate_plus_bias(batch, fan_in, fan_out, bias):
    expected = batch * fan_out * fan_in * 2 + (batch * fan_out if bias else 0)
    assert linear_flops(batch, fan_in, fan_out, bias) == expected


def test_linear_flops_of_an_mnist_layer():
    # 32 rows of 784 features into 128 units: 32*128*(2*784 + 1)
    assert linear_flops(32, 784, 128) == 6_426_624


@given(batch=st.integers(1, 3), c_in=st.integers(1, 3), c_out=st.integers(1, 3), size=st.integers(3, 9),
       kernel=st.integers(1, 3), stride=st.integers(1, 2), padding=st.integers(0, 1), bias=st.booleans())
def test_conv2d_flops_count_every_kernel_offset_at_every_output(batch, c_in, c_out, size, kernel, stride, padding,
                                                                bias):
    out_side = (size + 2 * padding - kernel) // stride + 1
    outputs = batch * c_out * out_side * out_side
    expected = outputs * (2 * c_in * kernel * kernel) + (outputs if bias else 0)
    assert conv2d_flops((batch, c_in, size, size), c_out, kernel, stride, padding, bias) == expected


@given(batch=st.integers(1, 3), seq=st.integers(1, 12), heads=st.sampled_from([1, 2, 4]), width=st.integers(1, 4),
       bias=st.booleans())
def test_attention_flops_are_projections_scores_and_mixing(batch, seq, heads, width, bias):
    dim = heads * width
    projection = batch * seq * dim * (2 * dim + (1 if bias else 0))
    expected = 4 * projection + 2 * batch * seq * seq * dim + 2 * batch * seq * seq * dim
    assert attention_flops(batch, seq, dim, heads, bias=bias) == expected
    assert attention_flops(batch, seq, dim, 1, bias=bias) == expected, "the head count does not change the work"


def test_attention_scores_grow_quadratically_with_the_sequence():
    short = attention_flops(1, 64, 32, 4, bias=False)
    long = attention_flops(1, 128, 32, 4, bias=False)
    projections = lambda t: 4 * t * 32 * 64  # noqa: E731
    assert (long - projections(128)) == 4 * (short - projections(64)), "doubling T quadruples the score work"


@pytest.mark.points(2)
@given(batch=st.integers(1, 5))
def test_whole_model_flops_add_up_layer_by_layer_and_scale_with_the_batch(batch):
    mlp = Sequential(Linear(64, 32), ReLU(), Linear(32, 10))
    expected = batch * 32 * (2 * 64 + 1) + batch * 10 * (2 * 32 + 1)
    assert count_flops(mlp, (batch, 64)) == expected


@pytest.mark.points(2)
def test_cnn_flops_follow_the_shapes_through_pooling_and_flatten():
    model = Sequential(Conv2d(1, 4, 3, padding=1, seed=0), ReLU(), MaxPool2d(2), Flatten(), Linear(64, 10, seed=1))
    conv = 2 * (4 * 8 * 8) * (2 * 1 * 3 * 3 + 1)   # batch 2 x 4 maps of 8x8, each 9 MACs and a bias
    dense = 2 * 10 * (2 * 64 + 1)
    assert count_flops(model, (2, 1, 8, 8)) == conv + dense


@pytest.mark.points(2)
def test_gpt_flops_are_blocks_plus_head():
    vocab, dim, layers, batch, seq = 13, 8, 2, 2, 5
    model = GPT(vocab, dim, num_heads=2, num_layers=layers, max_seq_len=8, seed=0)
    rows = batch * seq
    attention = 4 * rows * dim * (2 * dim + 1) + 4 * batch * seq * seq * dim
    feed_forward = rows * (4 * dim) * (2 * dim + 1) + rows * dim * (2 * 4 * dim + 1)
    head = rows * vocab * (2 * dim + 1)
    assert count_flops(model, (batch, seq)) == layers * (attention + feed_forward) + head


def test_count_flops_names_what_it_cannot_count():
    with pytest.raises(TypeError, match="ReLU"):
        count_flops(ReLU(), (2, 3))


# ---------------------------------------------------------------- memory
@pytest.mark.points(2)
def test_peak_memory_sees_the_output_of_a_call_and_grows_with_the_batch():
    layer = Linear(16, 256, seed=0)
    small = peak_memory(layer, Tensor(np.zeros((512, 16), dtype=np.float32)))
    large = peak_memory(layer, Tensor(np.zeros((2048, 16), dtype=np.float32)))
    assert small >= 512 * 256 * 4, f"the (512, 256) float32 output alone is {512 * 256 * 4} bytes, measured {small}"
    assert 3.0 <= large / small <= 5.0, f"4x the rows should need about 4x the memory, measured {small} and {large}"


# ---------------------------------------------------------------- time
def test_summary_statistics_of_timings_match_hand_computation():
    summary = summarize_times([4.0, 1.0, 3.0, 2.0])
    assert summary["median"] == 2.5 and summary["mean"] == 2.5
    assert summary["min"] == 1.0 and summary["max"] == 4.0 and summary["repeats"] == 4
    assert summary["std"] == pytest.approx(math.sqrt(5.0 / 3.0), rel=1e-12), "sample standard deviation (n - 1)"
    assert summary["p25"] == pytest.approx(1.75) and summary["p75"] == pytest.approx(3.25)
    assert summary["iqr"] == pytest.approx(1.5)


@pytest.mark.points(2)
def test_latency_runs_warmup_untimed_then_times_each_repeat():
    calls = []
    clock = clock_from_durations([0.5, 0.25, 0.75])
    result = measure_latency(lambda x: calls.append(x), "go", warmup=2, repeats=3, timer=clock)
    assert calls == ["go"] * 5, "2 warm-up calls and 3 timed calls, with the given arguments"
    assert clock.reads == 6, "exactly two clock readings per timed call, none for warm-up"
    assert result["times"] == [0.5, 0.25, 0.75]
    assert result["median"] == 0.5 and result["mean"] == pytest.approx(0.5)
    assert result["std"] == pytest.approx(0.25, rel=1e-12)
    assert result["warmup"] == 2 and result["repeats"] == 3


@pytest.mark.parametrize("options", [{"repeats": 0}, {"warmup": -1}, {"repeats": 2.5}])
def test_latency_rejects_nonsense_counts(options):
    with pytest.raises(ValueError):
        measure_latency(lambda: None, **options)


# ---------------------------------------------------------------- the per-layer profile
@pytest.mark.points(3)
def test_profile_names_the_slow_layer_from_measured_time():
    now = [0.0]

    class Busy(Module):
        """Takes `cost` seconds of the fake clock per call."""

        def __init__(self, cost):
            self.cost = cost

        def forward(self, x):
            now[0] += self.cost
            return x

    model = Sequential(Busy(0.001), Linear(3, 3, seed=0), Busy(0.006), Busy(0.003))
    rows = profile_model(model, Tensor(np.ones((2, 3), dtype=np.float32)), warmup=1, repeats=3,
                         timer=lambda: now[0])
    assert [row["index"] for row in rows] == [0, 1, 2, 3]
    assert [row["name"] for row in rows] == ["Busy", "Linear", "Busy", "Busy"]
    assert [row["seconds"] for row in rows] == pytest.approx([0.001, 0.0, 0.006, 0.003])
    assert [row["share"] for row in rows] == pytest.approx([0.1, 0.0, 0.6, 0.3])
    assert [row["parameters"] for row in rows] == [0, 12, 0, 0]
    assert [row["flops"] for row in rows] == [0, 2 * 3 * 7, 0, 0]
    assert [tuple(row["output_shape"]) for row in rows] == [(2, 3)] * 4
    assert bottleneck(rows) == 2
    table = format_profile(rows)
    assert table.splitlines()[-1].startswith("bottleneck: #2 Busy"), table
    assert "60.0%" in table.splitlines()[-1]


def test_bottleneck_can_rank_by_any_column():
    rows = [{"seconds": 1.0, "flops": 50}, {"seconds": 3.0, "flops": 10}, {"seconds": 2.0, "flops": 90}]
    assert bottleneck(rows) == 1
    assert bottleneck(rows, key="flops") == 2


# ---------------------------------------------------------------- Amdahl's law
def test_amdahl_gives_the_papers_example():
    assert amdahl_speedup(0.7, 2.0) == pytest.approx(1 / (0.3 + 0.35), rel=1e-12)
    assert round(amdahl_speedup(0.7, 2.0), 2) == 1.54


@given(fraction=st.floats(0, 1), factor=st.floats(1, 1e6))
def test_amdahl_never_beats_the_untouched_part(fraction, factor):
    overall = amdahl_speedup(fraction, factor)
    assert overall == pytest.approx(1 / ((1 - fraction) + fraction / factor), rel=1e-9)
    assert 1 - 1e-12 <= overall <= factor * (1 + 1e-12), "never worse than 1x, never better than the part's own factor"
    if fraction < 1:
        assert overall <= 1 / (1 - fraction) * (1 + 1e-12), "bounded by 1 / (1 - p)"


@pytest.mark.parametrize("fraction, factor", [(-0.1, 2.0), (1.5, 2.0), (0.5, 0.0), (0.5, -3.0), (0.5, float("inf"))])
def test_amdahl_rejects_impossible_inputs(fraction, factor):
    with pytest.raises(ValueError):
        amdahl_speedup(fraction, factor)
