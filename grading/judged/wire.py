"""The wire format between the judged harness and the sandboxed worker that runs a submission.

In judged mode (issue #12) the harness never imports the student's package: it sends requests to
a worker process and reads back values. Everything the worker sends is untrusted input, so this
module decides exactly what may cross, and nothing here unpickles or evaluates anything.

A frame is a 4-byte big-endian length followed by that many bytes (at most MAX_FRAME_BYTES); a
reader that sees a larger length gives up before reading the body. The body is

    u32 length of the header | header: UTF-8 JSON | u32 count | count x (u64 length | .npy bytes)

The header is the message with every array replaced by {"$array": i}, the index of its .npy
blob; `.npy` blobs (format version 1.0, written and read here by NUMPY_HEADER, a strict parser that
accepts a numeric or boolean dtype and nothing else, so no pickle can ever be read) must hold a numeric or boolean
dtype. What crosses by value: None, bool, int, float (NaN and the infinities too), str, NumPy
arrays of numbers or booleans (a NumPy scalar stays a scalar of its dtype), NumPy dtypes and the types
used as dtypes (np.float32, float, ...), slices and Ellipsis (for indexing), file system paths, and
tuples, lists and str-keyed dicts of those. Anything else crosses by reference: a Handle names an object that
stays in the worker (with the kind of object the worker says it is), a Callback names a function or
object that stays in the harness (a test's callback, or a method of a class a test defined).
"""
from __future__ import annotations

import json
import math
import os
import re
import select
import struct
import time
from dataclasses import dataclass
from pathlib import Path, PurePath

import numpy as np

MAX_FRAME_BYTES = 256 * 1024 * 1024  # one frame, arrays included
MAX_HEADER_BYTES = 4 * 1024 * 1024
MAX_ARRAYS = 1024  # arrays in one message
MAX_DEPTH = 32  # nesting of tuples, lists and dicts
MAX_KIND_LENGTH = 300  # the kind label of a Handle
ARRAY_KINDS = "biufc"  # bool, signed, unsigned, float, complex: no objects, strings or void records
_LENGTH = struct.Struct(">I")
_BLOB_LENGTH = struct.Struct(">Q")
_FLOATS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_BUILTIN_TYPES = {"float": float, "int": int, "bool": bool, "complex": complex}


class WireError(ValueError):
    """A frame or message that does not follow the format: the message says what was wrong."""


class WireTimeout(WireError):
    """The peer did not send a whole frame before the deadline."""


@dataclass(frozen=True)
class Handle:
    """An object that stays in the worker, named by a number the worker chose; `kind` is what the
    worker says it is ("api:tinytorch.core.tensor.Tensor", "test:3", "class:..." or "" for anything else)."""

    id: int
    kind: str = ""


@dataclass(frozen=True)
class Callback:
    """A function or object that stays in the harness, named by a number the harness chose."""

    id: int


# ---------------------------------------------------------------------------- values <-> header + blobs
def crosses_by_value(value) -> bool:
    """Whether a single (non-container) value crosses as itself: None, bool, int, float, str, a
    path, or a NumPy array or scalar of numbers or booleans. A subclass crosses as its plain value
    (what int(), str() or the array's buffer say), never with its own methods."""
    if value is None or value is Ellipsis or isinstance(value, (bool, int, float, str, PurePath, slice)):
        return True
    if isinstance(value, np.dtype):
        return value.kind in ARRAY_KINDS
    if isinstance(value, type):
        return _type_name(value) is not None
    return isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind in ARRAY_KINDS


def by_value_or(value, reference, depth: int = 0):
    """`value` ready to cross: itself when it crosses by value; lists, tuples and str-keyed dicts
    element by element; anything else (or anything nested too deep) as reference(value, depth)."""
    if depth <= MAX_DEPTH:
        if crosses_by_value(value):
            return value
        if type(value) in (list, tuple):
            converted = [by_value_or(v, reference, depth + 1) for v in value]
            return converted if type(value) is list else tuple(converted)
        if type(value) is dict and all(type(k) is str for k in value):
            return {k: by_value_or(v, reference, depth + 1) for k, v in value.items()}
    return reference(value, depth)


def _type_name(cls: type) -> str | None:
    """"float" for float, "numpy.float32" for np.float32; None for any other class."""
    if any(cls is builtin for builtin in _BUILTIN_TYPES.values()):
        return cls.__name__
    if issubclass(cls, np.generic) and cls is not np.generic and np.dtype(cls).kind in ARRAY_KINDS \
            and np.dtype(cls).type is cls:
        return f"numpy.{np.dtype(cls).name}"
    return None


def encode(message) -> bytes:
    """The frame body for a message (see the module docstring); TypeError for what cannot cross."""
    arrays: list[np.ndarray] = []
    header = _JSON_ENCODER.encode(_to_json(message, arrays, 0)).encode("utf-8")
    parts = [_LENGTH.pack(len(header)), header, _LENGTH.pack(len(arrays))]
    for array in arrays:
        blob = npy_bytes(array)
        parts += [_BLOB_LENGTH.pack(len(blob)), blob]
    body = b"".join(parts)
    if len(body) > MAX_FRAME_BYTES:
        raise WireError(f"message of {len(body)} bytes exceeds the frame limit of {MAX_FRAME_BYTES}")
    return body


_PLAIN = frozenset({str, int, bool, type(None)})


def _to_json(value, arrays: list[np.ndarray], depth: int):
    if depth > MAX_DEPTH:
        raise WireError(f"message nested deeper than {MAX_DEPTH} levels")
    if type(value) in _PLAIN:  # the common case first: every request and answer goes through here
        return value
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError("only dicts with str keys cross by value")
        return {"$dict": [[key, _to_json(v, arrays, depth + 1)] for key, v in value.items()]}
    if isinstance(value, list):
        return [_to_json(v, arrays, depth + 1) for v in value]
    if isinstance(value, tuple):
        return {"$tuple": [_to_json(v, arrays, depth + 1) for v in value]}
    if isinstance(value, Handle):
        return {"$handle": [value.id, value.kind] if value.kind else value.id}
    if isinstance(value, Callback):
        return {"$callback": value.id}
    if isinstance(value, np.generic) and value.dtype.kind in ARRAY_KINDS:  # before float: np.float64 is one
        return {"$scalar": _to_json(np.asarray(value), arrays, depth)["$array"]}
    if isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": "nan" if math.isnan(value) else
                                                   ("inf" if value > 0 else "-inf")}
    if isinstance(value, PurePath):
        return {"$path": str(value)}
    if value is Ellipsis:
        return {"$ellipsis": 0}
    if isinstance(value, slice):
        return {"$slice": [_to_json(part, arrays, depth + 1) for part in (value.start, value.stop, value.step)]}
    if isinstance(value, np.dtype):
        if value.kind not in ARRAY_KINDS:
            raise TypeError(f"dtype {value} cannot cross (numbers and booleans only)")
        return {"$dtype": value.str}
    if isinstance(value, type) and _type_name(value) is not None:
        return {"$type": _type_name(value)}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in ARRAY_KINDS:
            raise TypeError(f"arrays of dtype {value.dtype} cannot cross (numbers and booleans only)")
        if len(arrays) >= MAX_ARRAYS:
            raise WireError(f"more than {MAX_ARRAYS} arrays in one message")
        arrays.append(np.asarray(value))  # a subclass crosses as its plain array
        return {"$array": len(arrays) - 1}
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
        header = _JSON_DECODER.decode(header_bytes.decode("utf-8"))
    except ValueError as error:  # not UTF-8, not JSON, or an integer with too many digits
        raise WireError(f"header is not UTF-8 JSON within limits: {error}") from None
    used: set[int] = set()
    message = _from_json(header, arrays, used, 0)
    if used != set(range(len(arrays))):
        raise WireError(f"arrays {sorted(set(range(len(arrays))) - used)} are sent but not used")
    return message


def _no_constants(name: str):
    raise WireError(f"bare {name} in the header (non-finite floats are sent as {{\"$float\": ...}})")


# One encoder and decoder for every message (json.dumps and json.loads with options build new ones per call).
_JSON_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
_JSON_DECODER = json.JSONDecoder(parse_constant=_no_constants)


def _unpack(layout: struct.Struct, view: memoryview, offset: int, what: str) -> tuple[int, int]:
    chunk = view[offset:offset + layout.size]
    if len(chunk) != layout.size:
        raise WireError(f"frame ends before the {what}")
    return layout.unpack(chunk)[0], offset + layout.size


def _array(blob: bytes, index: int) -> np.ndarray:
    try:
        return npy_array(blob)
    except ValueError as error:
        raise WireError(f"array {index} is not a plain .npy array: {error}") from None


# ---------------------------------------------------------------------------- .npy, the strict subset
# NumPy's own reader parses the header with ast.literal_eval (slow for a channel that carries
# hundreds of thousands of small arrays per grade); this one accepts exactly the headers NumPy
# writes for a C-ordered array of a plain numeric or boolean dtype.
NPY_MAGIC = b"\x93NUMPY\x01\x00"
NUMPY_HEADER = re.compile(rb"\{'descr': '([<>|=]?[biufc]\d{1,2})', 'fortran_order': False, "
                          rb"'shape': \(((?:\d{1,12}, ?)*(?:\d{1,12})?)\), \} *\n")


def npy_bytes(array: np.ndarray) -> bytes:
    """An array in .npy format 1.0 (what np.save writes, for a C-ordered copy)."""
    array = np.asarray(array, order="C")  # (np.ascontiguousarray would turn a 0-d array into 1-d)
    shape = f"{array.shape[0]}," if array.ndim == 1 else ", ".join(str(n) for n in array.shape)
    header = f"{{'descr': '{array.dtype.str}', 'fortran_order': False, 'shape': ({shape}), }}"
    padding = 64 - (len(NPY_MAGIC) + 2 + len(header) + 1) % 64
    text = (header + " " * (padding % 64) + "\n").encode("latin-1")
    return NPY_MAGIC + struct.pack("<H", len(text)) + text + array.tobytes()


def npy_array(blob: bytes) -> np.ndarray:
    """The array in a .npy blob that npy_bytes (or np.save) wrote; ValueError for anything else."""
    if blob[:8] != NPY_MAGIC or len(blob) < 10:
        raise ValueError("not .npy format version 1.0")
    (header_length,) = struct.unpack("<H", blob[8:10])
    match = NUMPY_HEADER.fullmatch(blob[10:10 + header_length])
    if match is None:
        raise ValueError("its header is not a plain numeric or boolean dtype in C order")
    dtype = np.dtype(match.group(1).decode())
    shape = tuple(int(n) for n in match.group(2).decode().replace(" ", "").split(",") if n)
    data = blob[10 + header_length:]
    if len(data) != dtype.itemsize * math.prod(shape):
        raise ValueError(f"{len(data)} data bytes for shape {shape} of {dtype}")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


def _from_json(value, arrays: list[np.ndarray], used: set[int], depth: int):
    if depth > MAX_DEPTH:
        raise WireError(f"header nested deeper than {MAX_DEPTH} levels")
    kind = type(value)
    if kind in _PLAIN or kind is float:
        return value
    if kind is list:
        return [_from_json(v, arrays, used, depth + 1) for v in value]
    if kind is not dict or len(value) != 1:
        raise WireError(f"expected a tagged object like {{\"$tuple\": [...]}}, found {str(value)[:80]}")
    (tag, content), = value.items()
    decoder = _TAGS.get(tag)
    decoded = decoder(content, arrays, used, depth) if decoder is not None else _MALFORMED
    if decoded is _MALFORMED:
        raise WireError(f"unknown or malformed tag {tag!r} with {str(content)[:80]}")
    return decoded


_MALFORMED = object()  # what a tag's decoder returns for content that does not fit the tag


def _array_tag(content, arrays, used, depth):
    if not (_index(content) and content < len(arrays)):
        return _MALFORMED
    used.add(content)
    return arrays[content]


def _scalar_tag(content, arrays, used, depth):
    if not (_index(content) and content < len(arrays) and arrays[content].ndim == 0):
        return _MALFORMED
    used.add(content)
    return arrays[content][()]


def _handle_tag(content, arrays, used, depth):
    if _index(content):
        return Handle(content)
    if type(content) is list and len(content) == 2 and _index(content[0]) and type(content[1]) is str \
            and 0 < len(content[1]) <= MAX_KIND_LENGTH:
        return Handle(content[0], content[1])
    return _MALFORMED


def _slice_tag(content, arrays, used, depth):
    if type(content) is not list or len(content) != 3:
        return _MALFORMED
    parts = [_from_json(part, arrays, used, depth + 1) for part in content]
    if all(part is None or type(part) is int for part in parts):
        return slice(*parts)
    return _MALFORMED


def _type_tag(content, arrays, used, depth):
    if content in _BUILTIN_TYPES:
        return _BUILTIN_TYPES[content]
    if type(content) is str and content.startswith("numpy."):
        return _dtype(content.removeprefix("numpy.")).type
    return _MALFORMED


def _dict_tag(content, arrays, used, depth):
    if type(content) is not list or not all(
            type(pair) is list and len(pair) == 2 and type(pair[0]) is str for pair in content):
        return _MALFORMED
    return {key: _from_json(v, arrays, used, depth + 1) for key, v in content}


_TAGS = {
    "$array": _array_tag,
    "$scalar": _scalar_tag,
    "$handle": _handle_tag,
    "$callback": lambda content, *_: Callback(content) if _index(content) else _MALFORMED,
    "$path": lambda content, *_: Path(content) if type(content) is str and "\0" not in content else _MALFORMED,
    "$ellipsis": lambda content, *_: Ellipsis if content == 0 and type(content) is int else _MALFORMED,
    "$slice": _slice_tag,
    "$dtype": lambda content, *_: _dtype(content) if type(content) is str else _MALFORMED,
    "$type": _type_tag,
    "$float": lambda content, *_: _FLOATS.get(content, _MALFORMED) if type(content) is str else _MALFORMED,
    "$tuple": lambda content, arrays, used, depth: tuple(_from_json(v, arrays, used, depth + 1) for v in content)
    if type(content) is list else _MALFORMED,
    "$dict": _dict_tag,
}


def _dtype(name: str) -> np.dtype:
    """A dtype by name, for plain numeric and boolean dtypes only (no records, objects or strings)."""
    if len(name) > 16 or not name.replace("<", "").replace(">", "").replace("|", "").replace("=", "").isalnum():
        raise WireError(f"malformed dtype name {name[:20]!r}")
    try:
        dtype = np.dtype(name)
    except TypeError:
        raise WireError(f"unknown dtype {name!r}") from None
    if dtype.kind not in ARRAY_KINDS:
        raise WireError(f"dtype {name!r} is not a number or boolean dtype")
    return dtype


def _index(value) -> bool:
    return type(value) is int and 0 <= value < 1 << 31


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
    WireError when the peer closes mid-frame, announces more than MAX_FRAME_BYTES, or sends more
    than one frame at once (the protocol alternates: a peer speaks only after it was answered)."""
    first = _read_some(fd, 1 << 16, deadline, 0, _LENGTH.size)
    while len(first) < _LENGTH.size:
        first += _read_some(fd, _LENGTH.size - len(first), deadline, len(first), _LENGTH.size)
    length = _LENGTH.unpack(first[:_LENGTH.size])[0]
    if length > MAX_FRAME_BYTES:
        raise WireError(f"peer announced a frame of {length} bytes; the limit is {MAX_FRAME_BYTES}")
    body = first[_LENGTH.size:]
    if len(body) > length:
        raise WireError(f"{len(body) - length} bytes beyond the frame: the peer spoke out of turn")
    return body + _read_exactly(fd, length - len(body), deadline, len(body), length) if len(body) < length else body


def _read_some(fd: int, most: int, deadline: float, have: int, want: int) -> bytes:
    """Up to `most` bytes, waiting at most until `deadline` (no select when there is none)."""
    if not math.isinf(deadline):
        remaining = deadline - time.monotonic()
        ready = remaining > 0 and select.select([fd], [], [], remaining)[0]
        if not ready:
            raise WireTimeout(f"no complete frame before the deadline ({have} of {want} bytes)")
    chunk = os.read(fd, most)
    if not chunk:
        raise WireError(f"peer closed the channel after {have} of {want} bytes")
    return chunk


def _read_exactly(fd: int, count: int, deadline: float, have: int = 0, want: int = 0) -> bytes:
    """`count` more bytes of a frame body of `want` bytes, `have` of which were read before."""
    chunks: list[bytes] = []
    missing = count
    while missing:
        chunk = _read_some(fd, min(missing, 1 << 20), deadline, have + count - missing, want or count)
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)
