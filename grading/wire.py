"""The wire format between the judged harness and the sandboxed worker that runs a submission.

In judged mode (issue #12) the harness never imports the student's package: it sends requests to
a worker process and reads back values. Everything the worker sends is untrusted input, so this
module decides exactly what may cross, and nothing here unpickles or evaluates anything.

A frame is a 4-byte big-endian length followed by that many bytes (at most MAX_FRAME_BYTES); a
reader that sees a larger length gives up before reading the body. The body is

    u32 length of the header | header: UTF-8 JSON | u32 count | count x (u64 length | .npy bytes)

The header is the message with every array replaced by {"$array": i}, the index of its .npy
blob; `.npy` blobs are read by NumPy with allow_pickle=False and must hold a numeric or boolean
dtype. What crosses by value: None, bool, int, float (NaN and the infinities too), str, NumPy
arrays of numbers or booleans, and tuples, lists and str-keyed dicts of those; anything else crosses as a Handle
(an integer naming an object that stays in the worker).
"""
from __future__ import annotations

import io
import json
import math
import os
import select
import struct
import time
from dataclasses import dataclass

import numpy as np

MAX_FRAME_BYTES = 256 * 1024 * 1024  # one frame, arrays included
MAX_HEADER_BYTES = 4 * 1024 * 1024
MAX_ARRAYS = 1024  # arrays in one message
MAX_DEPTH = 32  # nesting of tuples, lists and dicts
ARRAY_KINDS = "biufc"  # bool, signed, unsigned, float, complex: no objects, strings or void records
_LENGTH = struct.Struct(">I")
_BLOB_LENGTH = struct.Struct(">Q")
_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class WireError(ValueError):
    """A frame or message that does not follow the format: the message says what was wrong."""


class WireTimeout(WireError):
    """The peer did not send a whole frame before the deadline."""


@dataclass(frozen=True)
class Handle:
    """An object that stays in the worker, named by a number the worker chose."""

    id: int


# ---------------------------------------------------------------------------- values <-> header + blobs
def encode(message) -> bytes:
    """The frame body for a message (see the module docstring); TypeError for what cannot cross."""
    arrays: list[np.ndarray] = []
    header = json.dumps(_to_json(message, arrays, 0), separators=(",", ":"), allow_nan=False).encode("utf-8")
    parts = [_LENGTH.pack(len(header)), header, _LENGTH.pack(len(arrays))]
    for array in arrays:
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        blob = buffer.getvalue()
        parts += [_BLOB_LENGTH.pack(len(blob)), blob]
    body = b"".join(parts)
    if len(body) > MAX_FRAME_BYTES:
        raise WireError(f"message of {len(body)} bytes exceeds the frame limit of {MAX_FRAME_BYTES}")
    return body


def _to_json(value, arrays: list[np.ndarray], depth: int):
    if depth > MAX_DEPTH:
        raise WireError(f"message nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": "nan" if math.isnan(value) else
                                                   ("inf" if value > 0 else "-inf")}
    if isinstance(value, Handle):
        return {"$handle": value.id}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in ARRAY_KINDS:
            raise TypeError(f"arrays of dtype {value.dtype} cannot cross (numbers and booleans only)")
        if len(arrays) >= MAX_ARRAYS:
            raise WireError(f"more than {MAX_ARRAYS} arrays in one message")
        arrays.append(value)
        return {"$array": len(arrays) - 1}
    if isinstance(value, np.generic) and value.dtype.kind in ARRAY_KINDS:
        return _to_json(np.asarray(value), arrays, depth)  # a NumPy scalar crosses as a 0-d array
    if isinstance(value, tuple):
        return {"$tuple": [_to_json(v, arrays, depth + 1) for v in value]}
    if isinstance(value, list):
        return [_to_json(v, arrays, depth + 1) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError("only dicts with str keys cross by value")
        return {"$dict": [[key, _to_json(v, arrays, depth + 1)] for key, v in value.items()]}
    raise TypeError(f"{type(value).__name__} does not cross by value; send a Handle")


def decode(body: bytes):
    """The message in a frame body; WireError for anything that does not follow the format."""
    view = memoryview(body)
    header_length, offset = _unpack(_LENGTH, view, 0, "header length")
    if header_length > MAX_HEADER_BYTES:
        raise WireError(f"header of {header_length} bytes exceeds {MAX_HEADER_BYTES}")
    header_bytes = bytes(view[offset:offset + header_length])
    if len(header_bytes) != header_length:
        raise WireError(f"frame ends inside its header ({len(header_bytes)} of {header_length} bytes)")
    count, offset = _unpack(_LENGTH, view, offset + header_length, "array count")
    if count > MAX_ARRAYS:
        raise WireError(f"{count} arrays in one message; at most {MAX_ARRAYS}")
    arrays = []
    for index in range(count):
        length, offset = _unpack(_BLOB_LENGTH, view, offset, f"length of array {index}")
        blob = bytes(view[offset:offset + length])
        if len(blob) != length:
            raise WireError(f"frame ends inside array {index} ({len(blob)} of {length} bytes)")
        arrays.append(_array(blob, index))
        offset += length
    if offset != len(body):
        raise WireError(f"{len(body) - offset} stray bytes after the last array")
    try:
        header = json.loads(header_bytes.decode("utf-8"), parse_constant=_no_constants)
    except ValueError as error:  # not UTF-8, not JSON, or an integer with too many digits
        raise WireError(f"header is not UTF-8 JSON within limits: {error}") from None
    used: set[int] = set()
    message = _from_json(header, arrays, used, 0)
    if used != set(range(len(arrays))):
        raise WireError(f"arrays {sorted(set(range(len(arrays))) - used)} are sent but not used")
    return message


def _unpack(layout: struct.Struct, view: memoryview, offset: int, what: str) -> tuple[int, int]:
    chunk = view[offset:offset + layout.size]
    if len(chunk) != layout.size:
        raise WireError(f"frame ends before the {what}")
    return layout.unpack(chunk)[0], offset + layout.size


def _no_constants(name: str):
    raise WireError(f"bare {name} in the header (non-finite floats are sent as {{\"$float\": ...}})")


def _array(blob: bytes, index: int) -> np.ndarray:
    try:
        array = np.load(io.BytesIO(blob), allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:  # a pickled object array raises ValueError here
        raise WireError(f"array {index} is not a plain .npy array: {error}") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in ARRAY_KINDS:
        raise WireError(f"array {index} has dtype {getattr(array, 'dtype', '?')}; numbers and booleans only")
    return array


def _from_json(value, arrays: list[np.ndarray], used: set[int], depth: int):
    if depth > MAX_DEPTH:
        raise WireError(f"header nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, list):
        return [_from_json(v, arrays, used, depth + 1) for v in value]
    if not isinstance(value, dict) or len(value) != 1:
        raise WireError(f"expected a tagged object like {{\"$tuple\": [...]}}, found {str(value)[:80]}")
    (tag, content), = value.items()
    if tag == "$array" and _index(content) and content < len(arrays):
        used.add(content)
        return arrays[content]
    if tag == "$handle" and _index(content):
        return Handle(content)
    if tag == "$float" and content in _FLOATS:
        return _FLOATS[content]
    if tag == "$tuple" and isinstance(content, list):
        return tuple(_from_json(v, arrays, used, depth + 1) for v in content)
    if tag == "$dict" and isinstance(content, list) and all(
            isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str) for pair in content):
        return {key: _from_json(v, arrays, used, depth + 1) for key, v in content}
    raise WireError(f"unknown or malformed tag {tag!r} with {str(content)[:80]}")


def _index(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 31


# ---------------------------------------------------------------------------- frames on a file descriptor
def write_frame(fd: int, body: bytes) -> None:
    """Send one frame (the peer may be slow; this blocks until every byte is written)."""
    if len(body) > MAX_FRAME_BYTES:
        raise WireError(f"frame of {len(body)} bytes exceeds {MAX_FRAME_BYTES}")
    data = memoryview(_LENGTH.pack(len(body)) + body)
    while data:
        data = data[os.write(fd, data):]


def read_frame(fd: int, deadline: float) -> bytes:
    """One frame's body from `fd`, or WireTimeout once time.monotonic() passes `deadline`, or
    WireError when the peer closes mid-frame or announces more than MAX_FRAME_BYTES."""
    length = _LENGTH.unpack(_read_exactly(fd, _LENGTH.size, deadline))[0]
    if length > MAX_FRAME_BYTES:
        raise WireError(f"peer announced a frame of {length} bytes; the limit is {MAX_FRAME_BYTES}")
    return _read_exactly(fd, length, deadline)


def _read_exactly(fd: int, count: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    missing = count
    while missing:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WireTimeout(f"no complete frame before the deadline ({count - missing} of {count} bytes)")
        ready, _, _ = select.select([fd], [], [], None if math.isinf(remaining) else remaining)
        if not ready:
            continue
        chunk = os.read(fd, min(missing, 1 << 20))
        if not chunk:
            raise WireError(f"peer closed the channel after {count - missing} of {count} bytes")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)
