"""The judged mode's wire format: what crosses by value, and every way a hostile peer can break a frame."""
from __future__ import annotations

import io
import json
import math
import os
import pickle
import re
import struct
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from grading.judged import wire
from grading.judged.wire import Callback, Handle, WireError, WireTimeout

LENGTH, BLOB = struct.Struct(">I"), struct.Struct(">Q")


def body(header: bytes, blobs: list[bytes] = ()) -> bytes:
    """A frame body built by hand, byte by byte, as a hostile worker could send it."""
    parts = [LENGTH.pack(len(header)), header, LENGTH.pack(len(blobs))]
    for blob in blobs:
        parts += [BLOB.pack(len(blob)), blob]
    return b"".join(parts)


def npy(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


# ---------------------------------------------------------------- what crosses by value
scalars = st.none() | st.booleans() | st.integers(-(2 ** 63), 2 ** 63) | st.floats(allow_nan=False) | st.text(max_size=20)
arrays = hnp.arrays(st.sampled_from([np.float32, np.float64, np.int64, np.int8, np.bool_, np.complex128]),
                    hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))
references = (st.builds(Handle, st.integers(0, 2 ** 31 - 1))
              | st.builds(Handle, st.integers(0, 2 ** 31 - 1), st.sampled_from(["api:tinytorch.core.tensor.Tensor", "test:3"]))
              | st.builds(Callback, st.integers(0, 2 ** 31 - 1)) | st.builds(Path, st.sampled_from(["/tmp/a.npz", "rel/b"])))
numpy_scalars = st.builds(lambda v, t: t(v), st.integers(-100, 100), st.sampled_from([np.float32, np.float64, np.int64, np.bool_]))
values = st.recursive(scalars | arrays | references | numpy_scalars,
                      lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
                      | st.dictionaries(st.text(max_size=5), inner, max_size=4), max_leaves=12)


def same(left, right) -> bool:
    """Structural equality that compares arrays by dtype, shape and bits (NaN equal to NaN)."""
    if isinstance(left, np.ndarray):
        return (isinstance(right, np.ndarray) and left.dtype == right.dtype and left.shape == right.shape
                and left.tobytes() == right.tobytes())
    if isinstance(left, float) and isinstance(right, float):
        return left == right or (math.isnan(left) and math.isnan(right))
    if type(left) is not type(right):
        return False
    if isinstance(left, (list, tuple)):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right))
    if isinstance(left, dict):
        return list(left) == list(right) and all(same(left[k], right[k]) for k in left)
    return left == right


@given(values)
def test_every_value_that_may_cross_comes_back_the_same(value):
    assert same(wire.decode(wire.encode(value)), value)


def test_non_finite_floats_and_numpy_scalars_cross():
    got = wire.decode(wire.encode([math.inf, -math.inf, math.nan, np.float32(1.5), np.asarray(2.5)]))
    assert got[:2] == [math.inf, -math.inf] and math.isnan(got[2])
    assert type(got[3]) is np.float32 and got[3] == 1.5  # a NumPy scalar stays a scalar
    assert type(got[4]) is np.ndarray and got[4].shape == () and got[4] == 2.5  # a 0-d array stays an array


@pytest.mark.parametrize("header, message", [
    ({"$scalar": 0}, "unknown or malformed tag '$scalar'"),  # the array it names is not 0-d
    ({"$handle": [1, ""]}, "unknown or malformed tag '$handle'"),
    ({"$handle": [1, "k" * 301]}, "unknown or malformed tag '$handle'"),
    ({"$callback": -1}, "unknown or malformed tag '$callback'"),
    ({"$path": "a\0b"}, "unknown or malformed tag '$path'"),
], ids=["scalar-of-a-vector", "empty-kind", "long-kind", "negative-callback", "nul-in-path"])
def test_malformed_references_are_refused(header, message):
    blobs = [npy(np.zeros(2))] if "$scalar" in header else []
    with pytest.raises(WireError, match=re.escape(message)):
        wire.decode(body(json.dumps(header).encode(), blobs))


@pytest.mark.parametrize("value, message", [
    (object(), "object does not cross by value; send a Handle"),
    ({1: 2}, "only dicts with str keys cross by value"),
    (np.array(["a"]), "arrays of dtype <U1 cannot cross"),
    (np.array([object()]), "arrays of dtype object cannot cross"),
], ids=["object", "int-keyed-dict", "string-array", "object-array"])
def test_what_cannot_cross_is_refused_by_the_sender(value, message):
    with pytest.raises(TypeError, match=message):
        wire.encode(value)


def test_deep_nesting_is_refused_both_ways():
    deep = []
    for _ in range(wire.MAX_DEPTH + 2):
        deep = [deep]
    with pytest.raises(WireError, match="nested deeper than 32 levels"):
        wire.encode(deep)
    with pytest.raises(WireError, match="nested deeper than 32 levels"):
        wire.decode(body(json.dumps(deep).encode()))


# ---------------------------------------------------------------- malformed bodies
MALFORMED = {
    "empty": (b"", "frame ends before the header length"),
    "short-header": (LENGTH.pack(10) + b"{}", "frame ends inside its header (2 of 10 bytes)"),
    "no-array-count": (LENGTH.pack(2) + b"{}", "frame ends before the array count"),
    "not-utf8": (body(b"\xff\xfe"), "header is not UTF-8 JSON"),
    "not-json": (body(b"[1,"), "header is not UTF-8 JSON"),
    "bare-nan": (body(b"NaN"), "bare NaN in the header"),
    "huge-integer": (body(b"9" * 5000), "header is not UTF-8 JSON within limits"),
    "unknown-tag": (body(b'{"$eval": "1+1"}'), "unknown or malformed tag '$eval'"),
    "missing-array": (body(b'{"$array": 0}'), "unknown or malformed tag '$array'"),
    "negative-handle": (body(b'{"$handle": -1}'), "unknown or malformed tag '$handle'"),
    "bad-float": (body(b'{"$float": "1e999"}'), "unknown or malformed tag '$float'"),
    "untagged-object": (body(b'{"a": 1, "b": 2}'), "expected a tagged object"),
    "dict-with-int-key": (body(b'{"$dict": [[1, 2]]}'), "unknown or malformed tag '$dict'"),
    "stray-bytes": (body(b"null") + b"x", "1 stray bytes after the last array"),
    "unused-array": (body(b"null", [npy(np.zeros(2))]), "arrays [0] are sent but not used"),
    "short-array": (LENGTH.pack(4) + b"null" + LENGTH.pack(1) + BLOB.pack(100) + b"\x93NUMPY",
                    "frame ends inside array 0"),
    "too-many-arrays": (LENGTH.pack(4) + b"null" + LENGTH.pack(wire.MAX_ARRAYS + 1), "1025 arrays in one message"),
    "huge-header": (LENGTH.pack(wire.MAX_HEADER_BYTES + 1), "header of 4194305 bytes exceeds 4194304"),
    "not-npy": (body(b'{"$array": 0}', [b"not an npy file"]), "array 0 is not a plain .npy array"),
    "string-array": (body(b'{"$array": 0}', [npy(np.array(["text"]))]),
                     "array 0 is not a plain .npy array: its header is not a plain numeric or boolean dtype"),
    "fortran-order": (body(b'{"$array": 0}', [npy(np.asfortranarray(np.ones((2, 3))))]),
                      "its header is not a plain numeric or boolean dtype in C order"),
    "short-data": (body(b'{"$array": 0}', [npy(np.ones(4))[:-8]]), "24 data bytes for shape (4,) of float64"),
    "npy-version-2": (body(b'{"$array": 0}', [b"\x93NUMPY\x02\x00" + npy(np.ones(1))[8:]]), "not .npy format version 1.0"),
}


@pytest.mark.parametrize("raw, message", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_bodies_are_refused_with_the_reason(raw, message):
    with pytest.raises(WireError, match=re.escape(message)):
        wire.decode(raw)


def test_a_pickle_is_never_loaded(tmp_path):
    marker = tmp_path / "ran"

    class Trap:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    for blob in (npy(np.array([Trap()], dtype=object), allow_pickle=True), pickle.dumps(Trap())):
        with pytest.raises(WireError, match="array 0 is not a plain .npy array"):
            wire.decode(body(b'{"$array": 0}', [blob]))
    with pytest.raises(WireError, match="header is not UTF-8 JSON"):
        wire.decode(body(pickle.dumps(Trap())))
    assert not marker.exists(), "nothing the peer sent was unpickled"


# ---------------------------------------------------------------- frames on a pipe
@pytest.fixture
def pipe():
    read_end, write_end = os.pipe()
    yield read_end, write_end
    for fd in (read_end, write_end):
        try:
            os.close(fd)
        except OSError:
            pass


def test_a_frame_crosses_a_pipe(pipe):
    read_end, write_end = pipe
    message = {"op": "call", "args": (np.arange(6.0).reshape(2, 3), Handle(7)), "kwargs": {"axis": -1}}
    sender = threading.Thread(target=wire.write_frame, args=(write_end, wire.encode(message)))
    sender.start()
    got = wire.decode(wire.read_frame(read_end, time.monotonic() + 10))
    sender.join()
    assert same(got, message)


def test_a_peer_that_never_answers_times_out_on_time(pipe):
    read_end, _ = pipe
    started = time.monotonic()
    with pytest.raises(WireTimeout, match=r"no complete frame before the deadline \(0 of 4 bytes\)"):
        wire.read_frame(read_end, started + 0.3)
    assert time.monotonic() >= started + 0.3, "not before its deadline"


def test_a_peer_that_stops_mid_frame_times_out(pipe):
    read_end, write_end = pipe
    os.write(write_end, LENGTH.pack(100) + b"x" * 10)
    with pytest.raises(WireTimeout, match=r"\(10 of 100 bytes\)"):
        wire.read_frame(read_end, time.monotonic() + 0.3)


def test_a_peer_that_speaks_out_of_turn_is_an_error(pipe):
    read_end, write_end = pipe
    frame = wire.encode({"value": 1})
    os.write(write_end, LENGTH.pack(len(frame)) + frame + LENGTH.pack(len(frame)) + frame)  # two answers at once
    with pytest.raises(WireError, match="bytes beyond the frame: the peer spoke out of turn"):
        wire.read_frame(read_end, time.monotonic() + 5)


def test_a_peer_that_closes_mid_frame_is_an_error(pipe):
    read_end, write_end = pipe
    os.write(write_end, LENGTH.pack(100) + b"x" * 10)
    os.close(write_end)
    with pytest.raises(WireError, match="peer closed the channel after 10 of 100 bytes"):
        wire.read_frame(read_end, time.monotonic() + 5)


def test_an_oversized_frame_is_refused_before_its_body_is_read(pipe):
    read_end, write_end = pipe
    os.write(write_end, LENGTH.pack(wire.MAX_FRAME_BYTES + 1))
    with pytest.raises(WireError, match="peer announced a frame of 268435457 bytes; the limit is 268435456"):
        wire.read_frame(read_end, time.monotonic() + 5)


def test_the_sender_refuses_an_oversized_frame(pipe, monkeypatch):
    monkeypatch.setattr(wire, "MAX_FRAME_BYTES", 1000)
    with pytest.raises(WireError, match="exceeds the frame limit of 1000"):
        wire.encode(np.zeros(1000))
    with pytest.raises(WireError, match="frame of 2000 bytes exceeds 1000"):
        wire.write_frame(pipe[1], b"x" * 2000)
