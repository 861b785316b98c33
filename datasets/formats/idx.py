"""The IDX file format (MNIST's), plain or gzipped, and an MNIST loader on top of it.

An IDX file is a 4-byte magic number, one big-endian uint32 size per dimension, then the values in
row-major order, big-endian:

    byte 0, 1   zero
    byte 2      type code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte 3      number of dimensions
    then        ndim x uint32 sizes, then prod(sizes) values

The reader trusts nothing in the header: the sizes must account for every byte of the file, no more
and no less, before any value is interpreted, and a gzipped file is decompressed in bounded chunks so a
header that promises gigabytes allocates only what the file really holds. Every problem is a
DatasetError that names the file.
"""
from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from datasets.errors import DatasetError

__all__ = ["IDX_TYPES", "MNIST_FILES", "load_mnist", "read_idx"]

# type code -> big-endian NumPy dtype of the stored values.
IDX_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"
# The largest payload read_idx accepts by default: MNIST's biggest file holds 47 MB, EMNIST's about 0.7 GB.
MAX_DATA_BYTES = 1 << 30
_CHUNK = 1 << 20

# split -> (images file, labels file), the names the MNIST distribution uses (each may also end in .gz).
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
MNIST_SIDE = 28
MNIST_CLASSES = 10


def read_idx(path, max_bytes: int = MAX_DATA_BYTES) -> np.ndarray:
    """Read one IDX file (gzipped or not, told apart by the gzip magic) into a native-endian array.

    Args:
        path (str or Path): the file.
        max_bytes (int): refuse headers that promise more data than this (a guard against memory bombs).

    Returns:
        np.ndarray with the header's shape and the type code's dtype, in native byte order.

    Raises:
        DatasetError: missing file, wrong magic, unknown type code, sizes that do not match the file
            (truncated or trailing bytes), corrupt gzip stream; the message names the file.

    Example:
        >>> read_idx("train-labels-idx1-ubyte.gz").shape  # doctest: +SKIP
        (60000,)
    """
    path = Path(path)
    try:
        with open(path, "rb") as raw:
            if raw.read(2) == GZIP_MAGIC:
                raw.seek(0)
                with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                    return _read_stream(stream, path, None, max_bytes)
            raw.seek(0)
            return _read_stream(raw, path, os.fstat(raw.fileno()).st_size, max_bytes)
    except FileNotFoundError:
        raise DatasetError(f"{path}: IDX file not found") from None
    except (OSError, EOFError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise DatasetError(f"{path}: cannot read IDX data ({type(err).__name__}: {err})") from None


def _read_stream(stream, path: Path, file_size: int | None, max_bytes: int) -> np.ndarray:
    """Parse header and data from an open binary stream; file_size is known for plain files only."""
    dtype, shape = _read_header(stream, path)
    header_bytes = 4 + 4 * len(shape)
    data_bytes = math.prod(shape) * dtype.itemsize
    if data_bytes > max_bytes:
        raise DatasetError(f"{path}: header promises shape {shape} ({data_bytes} bytes of data), more than the "
                           f"{max_bytes}-byte limit; this is not a plausible IDX file")
    if file_size is not None and file_size != header_bytes + data_bytes:
        # A plain file's length is known up front: refuse before reading anything.
        _size_mismatch(path, shape, data_bytes, file_size - header_bytes)
    data = _read_exactly(stream, data_bytes)
    if len(data) < data_bytes:
        _size_mismatch(path, shape, data_bytes, len(data))
    if stream.read(1):
        _size_mismatch(path, shape, data_bytes, None)
    values = np.frombuffer(data, dtype=dtype).reshape(shape)
    return values.astype(dtype.newbyteorder("="))


def _read_header(stream, path: Path) -> tuple[np.dtype, tuple[int, ...]]:
    """Magic number and sizes; every field is checked against the format before it is used."""
    magic = stream.read(4)
    if len(magic) < 4:
        raise DatasetError(f"{path}: {len(magic)} bytes, too short for an IDX header (4-byte magic number)")
    if magic[0] != 0 or magic[1] != 0:
        raise DatasetError(f"{path}: not an IDX file: magic number must start with two zero bytes, got "
                           f"{magic.hex(' ')}")
    if magic[2] not in IDX_TYPES:
        known = ", ".join(f"0x{code:02X}" for code in IDX_TYPES)
        raise DatasetError(f"{path}: unknown IDX type code 0x{magic[2]:02X} (expected one of {known})")
    ndim = magic[3]
    if ndim == 0:
        raise DatasetError(f"{path}: IDX header declares 0 dimensions (expected at least 1)")
    sizes = stream.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise DatasetError(f"{path}: truncated IDX header: {ndim} dimensions need {4 * ndim} bytes of sizes, "
                           f"found {len(sizes)}")
    shape = tuple(int(size) for size in np.frombuffer(sizes, dtype=">u4"))
    return IDX_TYPES[magic[2]], shape


def _read_exactly(stream, n: int) -> bytes:
    """Up to n bytes in bounded chunks, so a lying header costs only the bytes really present."""
    parts, got = [], 0
    while got < n:
        part = stream.read(min(_CHUNK, n - got))
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _size_mismatch(path: Path, shape, expected: int, found: int | None):
    """Raise the error for data that is shorter or longer than the header says."""
    if found is None or found > expected:
        extra = "" if found is None else f"{found - expected} "
        raise DatasetError(f"{path}: corrupt IDX file: {extra}extra bytes after the {expected} bytes of data "
                           f"its header's shape {shape} calls for")
    raise DatasetError(f"{path}: truncated IDX file: header's shape {shape} calls for {expected} bytes of "
                       f"data, found {max(found, 0)}")


def load_mnist(data_dir, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """MNIST images and labels of one split from the standard IDX files in data_dir.

    For each file the plain name is used if present, else the same name with `.gz` (the form the
    official site serves). The pair is checked as MNIST: uint8 images (N, 28, 28), uint8 labels (N,)
    in 0..9, the same N in both.

    Args:
        data_dir (str or Path): the folder holding the files.
        split (str): "train" (train-*) or "test" (t10k-*).

    Returns:
        images (np.ndarray, float32, (N, 1, 28, 28)): pixel values divided by 255, in [0, 1].
        labels (np.ndarray, int64, (N,)): digits 0-9.

    Raises:
        DatasetError: unknown split, missing file (the message lists the names looked for), or a file
            that is corrupt or not MNIST-shaped (the message names it).

    Example:
        >>> images, labels = load_mnist("~/data/mnist", "test")  # doctest: +SKIP
        >>> images.shape, labels.shape
        ((10000, 1, 28, 28), (10000,))
    """
    if split not in MNIST_FILES:
        raise DatasetError(f"load_mnist: split must be one of {', '.join(MNIST_FILES)}, got {split!r}")
    data_dir = Path(data_dir).expanduser()
    image_name, label_name = MNIST_FILES[split]
    image_path, label_path = _find(data_dir, image_name), _find(data_dir, label_name)
    images, labels = read_idx(image_path), read_idx(label_path)
    _check_images(images, image_path)
    _check_labels(labels, label_path)
    if len(images) != len(labels):
        raise DatasetError(f"{image_path} holds {len(images)} images but {label_path} holds {len(labels)} "
                           f"labels; they must be the same split")
    pixels = (images.astype(np.float32) / np.float32(255.0)).reshape(-1, 1, MNIST_SIDE, MNIST_SIDE)
    return pixels, labels.astype(np.int64)


def _find(data_dir: Path, name: str) -> Path:
    """The plain file if present, else its gzipped twin; name both when neither exists."""
    candidates = (data_dir / name, data_dir / f"{name}.gz")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = " or ".join(str(c) for c in candidates)
    raise DatasetError(f"MNIST file {name} is missing: looked for {looked} (fetch the files with "
                       f"`python -m datasets.formats.download mnist --data-dir {data_dir}`)")


def _check_images(images: np.ndarray, path: Path) -> None:
    expected = f"uint8 images of shape (N, {MNIST_SIDE}, {MNIST_SIDE})"
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (MNIST_SIDE, MNIST_SIDE):
        raise DatasetError(f"{path}: expected {expected}, got {images.dtype} of shape {images.shape}")
    if len(images) == 0:
        raise DatasetError(f"{path}: expected {expected} with N >= 1, got no images")


def _check_labels(labels: np.ndarray, path: Path) -> None:
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DatasetError(f"{path}: expected uint8 labels of shape (N,), got {labels.dtype} of shape "
                           f"{labels.shape}")
    bad = np.flatnonzero(labels >= MNIST_CLASSES)
    if bad.size:
        raise DatasetError(f"{path}: labels must be digits 0-{MNIST_CLASSES - 1}, got {int(labels[bad[0]])} at "
                           f"index {int(bad[0])} ({bad.size} out of range)")
