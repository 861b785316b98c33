"""CIFAR-10's "python version" batches, read without unpickling and without extracting the tarball.

The distribution is `cifar-10-python.tar.gz` holding `cifar-10-batches-py/data_batch_1` .. `_5`,
`test_batch` and `batches.meta`. Each batch is a pickled dict:

    b"data"         uint8 ndarray (10000, 3072): per row 1024 red, 1024 green, 1024 blue, each 32x32 row-major
    b"labels"       list of 10000 ints in 0..9
    b"batch_label"  str (bytes once read by Python 3)
    b"filenames"    list of 10000 str

Why no `pickle`: unpickling runs whatever callables the file names, so a doctored batch could run
code the moment it is loaded. Even a restricted `Unpickler.find_class` still imports and calls the
NumPy functions it allows. This module instead walks the pickle opcodes itself (`_PickleSubset`): it
understands only the opcodes these batches use, knows five global names as inert tags (NumPy's
`_reconstruct`, `ndarray` and `dtype`, and `_codecs.encode` / `bytes`, which Python 3 writes for byte
strings at protocol 2), and builds the array itself with `np.frombuffer` after checking the dtype
is a plain number type and the byte count matches the shape. Nothing is imported or called on the
file's behalf; any other opcode or global is refused with the byte offset where it appeared. The
result must then be a dict with exactly the four documented keys and types.

Why no extraction: members are read straight from the tar stream into memory; nothing is written to
disk, so absolute names, `..` and links cannot place files anywhere. Members other than the wanted
batch names are skipped unread; a wanted name that is a link, device or directory is refused rather
than followed, as is a duplicate, and a member larger than MAX_MEMBER_BYTES is refused before reading.
"""
from __future__ import annotations

import math
import reprlib
import struct
import tarfile
import zlib
from pathlib import Path

import numpy as np

from datasets.errors import DatasetError

__all__ = ["CIFAR10_CLASSES", "SPLITS", "load_cifar10", "read_batch"]

TARBALL = "cifar-10-python.tar.gz"
BATCH_DIR = "cifar-10-batches-py"
SPLITS = {
    "train": tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test": ("test_batch",),
}
# The label names in the order of the label numbers, as listed on the dataset's home page.
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SIDE = 32
CHANNELS = 3
PIXELS = CHANNELS * SIDE * SIDE
BATCH_KEYS = ("batch_label", "data", "filenames", "labels")
# A real batch pickle is about 31 MB; anything far larger is not one.
MAX_MEMBER_BYTES = 64 << 20


# ----------------------------------------------------------------------------- the pickle subset
class _Global:
    """A whitelisted global name, kept as a tag: it is never imported or called."""

    __slots__ = ("tag",)

    def __init__(self, tag: str):
        self.tag = tag


class _Pending:
    """An ndarray or dtype announced by REDUCE, completed by BUILD (its `value` is then set)."""

    __slots__ = ("kind", "name", "value")

    def __init__(self, kind: str, name: str | None = None):
        self.kind, self.name, self.value = kind, name, None


# (module, name) -> tag. NumPy 1.x pickles name numpy.core, NumPy 2.x numpy._core; Python 2 wrote
# __builtin__ and Python 3 writes builtins (or __builtin__ with protocol 2's name mapping).
_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy._core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy", "ndarray"): "ndarray",
    ("numpy", "dtype"): "dtype",
    ("_codecs", "encode"): "encode",
    ("__builtin__", "bytes"): "bytes",
    ("builtins", "bytes"): "bytes",
}
# Plain numeric dtypes only: an object dtype would make the raw bytes a list of Python objects.
_DTYPE_NAMES = {"b1", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", "f4", "f8"}
_MAX_GLOBAL_LINE = 256


class _PickleSubset:
    """A reader for the pickle opcodes CIFAR-10's batches use, which evaluates nothing it reads.

    Covers protocols 2-4 as written by Python 2's cPickle (the official files) and Python 3's pickle
    (re-pickled copies and the tests' fixtures). The stack machine follows the pickle format's
    definition (Lib/pickletools.py documents each opcode); REDUCE and BUILD are interpreted only for
    the whitelisted tags above.
    """

    def __init__(self, raw: bytes, where: str):
        self.raw, self.where, self.pos, self.start = raw, where, 0, 0
        self.stack: list = []
        self.marks: list[int] = []
        self.memo: dict[int, object] = {}
        self.ops = {
            0x80: self._proto, 0x95: self._frame, ord("("): self._mark, ord("."): None,
            ord("}"): lambda: self._push({}), ord("]"): lambda: self._push([]),
            ord(")"): lambda: self._push(()), ord("N"): lambda: self._push(None),
            0x88: lambda: self._push(True), 0x89: lambda: self._push(False),
            ord("t"): lambda: self._push(tuple(self._pop_mark())),
            0x85: lambda: self._tuple(1), 0x86: lambda: self._tuple(2), 0x87: lambda: self._tuple(3),
            ord("a"): self._append, ord("e"): self._appends,
            ord("s"): self._setitem, ord("u"): self._setitems,
            ord("K"): lambda: self._push(self._unpack("<B")), ord("M"): lambda: self._push(self._unpack("<H")),
            ord("J"): lambda: self._push(self._unpack("<i")), 0x8A: self._long1,
            ord("U"): lambda: self._push(self._take(self._unpack("<B"))),
            ord("T"): lambda: self._push(self._take(self._unpack("<i"))),
            ord("C"): lambda: self._push(self._take(self._unpack("<B"))),
            ord("B"): lambda: self._push(self._take(self._unpack("<I"))),
            0x8C: lambda: self._push(self._text(self._unpack("<B"))),
            ord("X"): lambda: self._push(self._text(self._unpack("<I"))),
            ord("q"): lambda: self._put(self._unpack("<B")), ord("r"): lambda: self._put(self._unpack("<I")),
            0x94: lambda: self._put(len(self.memo)),
            ord("h"): lambda: self._get(self._unpack("<B")), ord("j"): lambda: self._get(self._unpack("<I")),
            ord("c"): self._global, 0x93: self._stack_global,
            ord("R"): self._reduce, ord("b"): self._build,
        }

    def fail(self, problem: str):
        raise DatasetError(f"{self.where}: not a CIFAR-10 batch pickle: {problem} (opcode at byte {self.start})")

    def run(self) -> object:
        """Execute opcodes up to STOP and return the single finished object."""
        while True:
            if self.pos >= len(self.raw):
                self.fail("data ends before the STOP opcode")
            self.start, code = self.pos, self.raw[self.pos]
            self.pos += 1
            if code == ord("."):
                return self._stop()
            op = self.ops.get(code)
            if op is None:
                self.fail(f"opcode {bytes([code])!r} is not one CIFAR-10 batches use; refusing it")
            try:
                op()
            except (TypeError, ValueError, IndexError) as err:
                if isinstance(err, DatasetError):
                    raise
                self.fail(f"malformed pickle ({type(err).__name__}: {err})")

    # -- reading operands
    def _take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.raw):
            self.fail(f"an operand of {n} bytes runs past the end of the data")
        chunk = self.raw[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def _unpack(self, fmt: str) -> int:
        return struct.unpack(fmt, self._take(struct.calcsize(fmt)))[0]

    def _text(self, n: int) -> str:
        return self._take(n).decode("utf-8", "surrogatepass")

    def _line(self) -> str:
        end = self.raw.find(b"\n", self.pos, self.pos + _MAX_GLOBAL_LINE)
        if end < 0:
            self.fail("a GLOBAL name without its newline")
        line = self.raw[self.pos:end].decode("ascii")
        self.pos = end + 1
        return line

    # -- stack, marks, memo
    def _push(self, value) -> None:
        self.stack.append(value)

    def _pop(self):
        if len(self.stack) <= (self.marks[-1] if self.marks else 0):
            self.fail("pops an empty stack")
        return self.stack.pop()

    def _value(self, item):
        """What an object stands for when it is used: a pending array or dtype must be built by now."""
        if isinstance(item, _Pending):
            if item.value is None:
                self.fail(f"uses a {item.kind} before its state was set")
            return item.value
        return item

    def _mark(self) -> None:
        self.marks.append(len(self.stack))

    def _pop_mark(self) -> list:
        if not self.marks:
            self.fail("expects a MARK that was never set")
        start = self.marks.pop()
        items = [self._value(item) for item in self.stack[start:]]
        del self.stack[start:]
        return items

    def _tuple(self, n: int) -> None:
        items = [self._value(self._pop()) for _ in range(n)]
        self._push(tuple(reversed(items)))

    def _put(self, key: int) -> None:
        if not self.stack:
            self.fail("memoizes an empty stack")
        self.memo[key] = self.stack[-1]

    def _get(self, key: int) -> None:
        if key not in self.memo:
            self.fail(f"refers to memo entry {key}, which was never stored")
        self._push(self.memo[key])

    def _stop(self) -> object:
        if self.marks or len(self.stack) != 1:
            self.fail(f"STOP with {len(self.stack)} objects on the stack and {len(self.marks)} open marks")
        return self._value(self.stack.pop())

    # -- framing and containers
    def _proto(self) -> None:
        version = self._unpack("<B")
        if not 2 <= version <= 4:
            self.fail(f"pickle protocol {version} (expected 2 to 4; NumPy pickles arrays differently at 5)")

    def _frame(self) -> None:
        self._unpack("<Q")  # a length hint for buffered readers; the opcodes follow as usual

    def _long1(self) -> None:
        self._push(int.from_bytes(self._take(self._unpack("<B")), "little", signed=True))

    def _container(self, kind: type):
        target = self.stack[-1] if self.stack else None
        if type(target) is not kind:
            self.fail(f"adds items to a {type(target).__name__}, expected a {kind.__name__}")
        return target

    def _append(self) -> None:
        item = self._value(self._pop())
        self._container(list).append(item)

    def _appends(self) -> None:
        items = self._pop_mark()
        self._container(list).extend(items)

    def _setitem(self) -> None:
        value, key = self._value(self._pop()), self._value(self._pop())
        self._container(dict)[key] = value

    def _setitems(self) -> None:
        items = self._pop_mark()
        if len(items) % 2:
            self.fail("SETITEMS with an odd number of items")
        self._container(dict).update(zip(items[0::2], items[1::2]))

    # -- globals, REDUCE, BUILD: interpreted for the whitelisted tags only
    def _global(self) -> None:
        module = self._line()
        self._push(self._lookup(module, self._line()))

    def _stack_global(self) -> None:
        name, module = self._pop(), self._pop()
        if not (isinstance(module, str) and isinstance(name, str)):
            self.fail("STACK_GLOBAL without two names")
        self._push(self._lookup(module, name))

    def _lookup(self, module: str, name: str) -> _Global:
        tag = _GLOBALS.get((module, name))
        if tag is None:
            allowed = ", ".join(sorted(f"{m}.{n}" for m, n in _GLOBALS))
            self.fail(f"names the global {module}.{name}, which a batch never needs (allowed: {allowed}); "
                      f"refusing the file without running anything")
        return _Global(tag)

    def _reduce(self) -> None:
        args, func = self._pop(), self._pop()
        if not isinstance(func, _Global) or not isinstance(args, tuple):
            self.fail("REDUCE of something that is not an allowed global with an argument tuple")
        self._push(getattr(self, f"_call_{func.tag}", self._call_other)(func.tag, args))

    def _call_other(self, tag: str, args: tuple):
        self.fail(f"calls {tag}, which is only allowed as an argument")

    def _call_reconstruct(self, tag: str, args: tuple) -> _Pending:
        if len(args) != 3 or not (isinstance(args[0], _Global) and args[0].tag == "ndarray"):
            self.fail("_reconstruct is only allowed as _reconstruct(ndarray, shape, typecode)")
        return _Pending("ndarray")

    def _call_dtype(self, tag: str, args: tuple) -> _Pending:
        name = _as_str(args[0]) if args else None
        if len(args) != 3 or name not in _DTYPE_NAMES:
            self.fail(f"dtype{reprlib.repr(args)} is not a plain numeric dtype "
                      f"(allowed: {', '.join(sorted(_DTYPE_NAMES))})")
        return _Pending("dtype", name)

    def _call_encode(self, tag: str, args: tuple) -> bytes:
        if len(args) != 2 or not isinstance(args[0], str) or args[1] not in ("latin1", "latin-1"):
            self.fail("_codecs.encode is only allowed as encode(text, 'latin1')")
        return args[0].encode("latin-1")

    def _call_bytes(self, tag: str, args: tuple) -> bytes:
        if args:
            self.fail("bytes is only allowed with no arguments (the empty byte string)")
        return b""

    def _build(self) -> None:
        state = self._value(self._pop())
        target = self.stack[-1] if self.stack else None
        if not isinstance(target, _Pending) or target.value is not None:
            self.fail("BUILD of something that is not a fresh ndarray or dtype")
        if not isinstance(state, tuple):
            self.fail(f"{target.kind} state must be a tuple, got {type(state).__name__}")
        target.value = self._dtype(target.name, state) if target.kind == "dtype" else self._array(state)

    def _dtype(self, name: str, state: tuple) -> np.dtype:
        """dtype state, by NumPy's pickle versions (the official files use version 3, 8 fields):

            5 fields   (byte order, subarray, fields, elsize, alignment)             versions 0-1
            6 fields   (version, byte order, subarray, fields, elsize, alignment)
            7-9 fields (version, byte order, subarray, names, fields, elsize, alignment[, flags[, metadata]])

        A plain number type has no subarray, names or fields: those must all be None.
        """
        layout = {5: (0, slice(1, 3)), 6: (1, slice(2, 4))}.get(len(state), (1, slice(2, 5)))
        order = _as_str(state[layout[0]]) if 5 <= len(state) <= 9 else None
        if order not in ("|", "<", ">", "=") or any(part is not None for part in state[layout[1]]):
            self.fail(f"dtype state {reprlib.repr(state)} is not that of a plain numeric dtype")
        dtype = np.dtype(name)
        return dtype.newbyteorder(order) if order in "<>" else dtype

    def _array(self, state: tuple) -> np.ndarray:
        """ndarray state: ([version,] shape, dtype, is_fortran, raw bytes); the bytes must fill the shape."""
        if len(state) == 5:
            state = state[1:]
        if len(state) != 4:
            self.fail(f"ndarray state has {len(state)} fields (expected 4 or 5)")
        shape, dtype, fortran, raw = state
        if not (isinstance(shape, tuple) and all(type(n) is int and n >= 0 for n in shape)):
            self.fail(f"ndarray shape {reprlib.repr(shape)} is not a tuple of sizes")
        if not isinstance(dtype, np.dtype) or not isinstance(raw, bytes) or not isinstance(fortran, (bool, int)):
            self.fail("ndarray state is not (shape, dtype, is_fortran, bytes)")
        expected = dtype.itemsize * math.prod(shape)
        if len(raw) != expected:
            self.fail(f"ndarray of shape {shape} and dtype {dtype} needs {expected} bytes, got {len(raw)}")
        return np.frombuffer(raw, dtype=dtype).reshape(shape, order="F" if fortran else "C")


def _as_str(value) -> str | None:
    """Python 2 wrote names as byte strings, Python 3 as text; accept both, ASCII only."""
    if isinstance(value, bytes):
        try:
            return value.decode("ascii")
        except UnicodeDecodeError:
            return None
    return value if isinstance(value, str) else None


# ----------------------------------------------------------------------------- batch dictionaries
def read_batch(raw: bytes, where: str = "<bytes>") -> dict:
    """Decode one CIFAR-10 batch pickle without unpickling it, and check it is a batch.

    Args:
        raw (bytes): the file's contents (e.g. `data_batch_1`).
        where (str): the file or tar member the bytes came from, named in every error.

    Returns:
        dict with "data" (uint8 ndarray (N, 3072)), "labels" (int64 ndarray (N,)), "batch_label" (str)
        and "filenames" (list of N str).

    Raises:
        DatasetError: any opcode or global outside the batches' subset, or a dict whose keys, types,
            shapes, label range or counts are not those of a batch.

    Example:
        >>> batch = read_batch(Path("cifar-10-batches-py/test_batch").read_bytes())  # doctest: +SKIP
        >>> batch["data"].shape
        (10000, 3072)
    """
    batch = _PickleSubset(raw, where).run()
    if not isinstance(batch, dict):
        raise DatasetError(f"{where}: expected a batch dict, got {type(batch).__name__}")
    keys = {_as_str(key): value for key, value in batch.items()}
    if set(keys) != set(BATCH_KEYS) or len(keys) != len(batch):
        found = ", ".join(sorted(repr(key) for key in batch))
        raise DatasetError(f"{where}: expected a dict with exactly the keys {', '.join(BATCH_KEYS)}, got {found}")
    data = _check_data(keys["data"], where)
    return {
        "data": data,
        "labels": _check_labels(keys["labels"], len(data), where),
        "batch_label": _check_text(keys["batch_label"], "batch_label", where),
        "filenames": _check_filenames(keys["filenames"], len(data), where),
    }


def _check_data(data, where: str) -> np.ndarray:
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS:
        got = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DatasetError(f"{where}: 'data' must be a uint8 array (N, {PIXELS}), got {got}")
    return data


def _check_labels(labels, count: int, where: str) -> np.ndarray:
    if not isinstance(labels, list) or not all(type(label) is int for label in labels):
        raise DatasetError(f"{where}: 'labels' must be a list of ints")
    if len(labels) != count:
        raise DatasetError(f"{where}: 'labels' has {len(labels)} entries but 'data' has {count} rows")
    values = np.array(labels, dtype=np.int64)
    bad = np.flatnonzero((values < 0) | (values >= len(CIFAR10_CLASSES)))
    if bad.size:
        raise DatasetError(f"{where}: labels must be in 0-{len(CIFAR10_CLASSES) - 1}, got {values[bad[0]]} at "
                           f"index {bad[0]} ({bad.size} out of range)")
    return values


def _check_text(value, key: str, where: str) -> str:
    if not isinstance(value, (bytes, str)):
        raise DatasetError(f"{where}: {key!r} must be a string, got {type(value).__name__}")
    return value.decode("latin-1") if isinstance(value, bytes) else value


def _check_filenames(names, count: int, where: str) -> list[str]:
    if not isinstance(names, list):
        raise DatasetError(f"{where}: 'filenames' must be a list, got {type(names).__name__}")
    if len(names) != count:
        raise DatasetError(f"{where}: 'filenames' has {len(names)} entries but 'data' has {count} rows")
    return [_check_text(name, "filenames", where) for name in names]


# ----------------------------------------------------------------------------- files on disk
def load_cifar10(data_dir, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 images and labels of one split from the python-version tarball or its folder.

    Looks in data_dir for the extracted folder `cifar-10-batches-py/` first (no decompression),
    else for the tarball `cifar-10-python.tar.gz`, read in place. The train split concatenates
    data_batch_1 .. data_batch_5 in that order; the test split is test_batch.

    Args:
        data_dir (str or Path): the folder holding the tarball or the extracted folder.
        split (str): "train" or "test".

    Returns:
        images (np.ndarray, float32, (N, 3, 32, 32)): channels red, green, blue; values / 255, in [0, 1].
        labels (np.ndarray, int64, (N,)): class numbers 0-9 (names in CIFAR10_CLASSES).

    Raises:
        DatasetError: unknown split; neither source present (both paths named); a missing, linked,
            oversized or corrupt batch (the file or tar member named).

    Example:
        >>> images, labels = load_cifar10("~/data/cifar10", "test")  # doctest: +SKIP
        >>> images.shape, labels.shape
        ((10000, 3, 32, 32), (10000,))
    """
    if split not in SPLITS:
        raise DatasetError(f"load_cifar10: split must be one of {', '.join(SPLITS)}, got {split!r}")
    data_dir = Path(data_dir).expanduser()
    folder, tarball = data_dir / BATCH_DIR, data_dir / TARBALL
    if folder.is_dir():
        sources = _from_folder(folder, SPLITS[split])
    elif tarball.is_file():
        sources = _from_tarball(tarball, SPLITS[split])
    else:
        raise DatasetError(f"CIFAR-10 not found: looked for the folder {folder} and the tarball {tarball} "
                           f"(fetch it with `python -m datasets.formats.download cifar10 --data-dir {data_dir}`)")
    batches = {name: read_batch(raw, where) for name, where, raw in sources}
    ordered = [batches[name] for name in SPLITS[split]]
    data = np.concatenate([batch["data"] for batch in ordered])
    labels = np.concatenate([batch["labels"] for batch in ordered])
    images = (data.astype(np.float32) / np.float32(255.0)).reshape(-1, CHANNELS, SIDE, SIDE)
    return images, labels


def _from_folder(folder: Path, names):
    """(name, path, bytes) for each batch file of an extracted folder; a missing one is named."""
    for name in names:
        path = folder / name
        if not path.is_file():
            raise DatasetError(f"CIFAR-10 batch {name} is missing: expected the file {path}")
        size = path.stat().st_size
        if size > MAX_MEMBER_BYTES:
            raise DatasetError(f"{path}: {size} bytes, far more than a batch (limit {MAX_MEMBER_BYTES})")
        yield name, str(path), path.read_bytes()


def _from_tarball(tarball: Path, names):
    """(name, 'tarball:member', bytes) for each wanted batch, streamed from the tar without extraction."""
    wanted = {f"{BATCH_DIR}/{name}": name for name in names}
    seen: set[str] = set()
    try:
        with tarfile.open(tarball, mode="r|*") as tar:
            for member in tar:
                member_name = _strip_dot(member.name)
                if member_name not in wanted:
                    continue  # never read, never written: '../x', '/x' and stray links are simply skipped
                where = f"{tarball}:{member.name}"
                _check_member(member, where, member_name in seen)
                seen.add(member_name)
                raw = tar.extractfile(member).read()
                if len(raw) != member.size:
                    raise DatasetError(f"{where}: truncated member ({len(raw)} of {member.size} bytes)")
                yield wanted[member_name], where, raw
    except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise DatasetError(f"{tarball}: corrupt or unreadable tarball ({type(err).__name__}: {err})") from None
    missing = [name for name in wanted if name not in seen]
    if missing:
        raise DatasetError(f"{tarball}: missing member(s) {', '.join(missing)}")


def _strip_dot(name: str) -> str:
    """Tarballs made with `tar -C dir .` prefix names with './'."""
    while name.startswith("./"):
        name = name[2:]
    return name


def _check_member(member: tarfile.TarInfo, where: str, duplicate: bool) -> None:
    if duplicate:
        raise DatasetError(f"{where}: the tarball holds this member twice; refusing to guess which is the batch")
    if not member.isreg():
        kind = "symlink" if member.issym() else "hard link" if member.islnk() else "non-regular member"
        raise DatasetError(f"{where}: is a {kind}, not a regular file; refusing to follow it")
    if member.size > MAX_MEMBER_BYTES:
        raise DatasetError(f"{where}: {member.size} bytes, far more than a batch (limit {MAX_MEMBER_BYTES})")

