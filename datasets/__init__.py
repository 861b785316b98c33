"""Offline datasets for the milestones and tests, behind one loader API.

    from datasets import load_tinydigits, load_tinytalks, load_mnist, load_cifar10

  * load_tinydigits(split)          -> images float32 (N, 8, 8) in [0, 1], labels int64 (N,)
                                       (1,000 train / 200 test, 100 / 20 per class; committed)
  * load_tinytalks(split)           -> list of conversations, each a list of (question, answer)
                                       (train / validation / test; committed)
  * load_mnist(data_dir, split)     -> images float32 (N, 1, 28, 28) in [0, 1], labels int64
  * load_cifar10(data_dir, split)   -> images float32 (N, 3, 32, 32) in [0, 1], labels int64
                                       (bring your own files: see datasets/formats/)

Every committed file is checked against datasets/SHA256SUMS before it is read, and every problem
is a DatasetError that names the file. Each dataset has a DATASHEET.md beside its files.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from datasets.checksums import verify
from datasets.errors import DatasetError

ROOT = Path(__file__).resolve().parent
TINYDIGITS_SPLITS = ("train", "test")
TINYTALKS_SPLITS = ("train", "validation", "test")

__all__ = ["DatasetError", "load_cifar10", "load_mnist", "load_tinydigits", "load_tinytalks"]


def _split(split: str, allowed: tuple[str, ...], name: str) -> str:
    if split not in allowed:
        raise DatasetError(f"{name}: split must be one of {', '.join(allowed)}, got {split!r}")
    return split


def load_tinydigits(split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """TinyDigits images (N, 8, 8) float32 in [0, 1] and labels (N,) int64, checksum verified."""
    path = verify(ROOT / "tinydigits" / f"{_split(split, TINYDIGITS_SPLITS, 'load_tinydigits')}.npz")
    with np.load(path, allow_pickle=False) as archive:
        images, labels = archive["images"], archive["labels"]
    if images.dtype != np.float32 or images.ndim != 3 or images.shape[1:] != (8, 8) or labels.shape != images.shape[:1]:
        raise DatasetError(f"{path}: expected float32 images (N, 8, 8) and N labels, got {images.dtype} "
                           f"{images.shape} and {labels.shape}")
    return images, labels.astype(np.int64, copy=False)


def load_tinytalks(split: str = "train") -> list[list[tuple[str, str]]]:
    """TinyTalks conversations of one split, each a list of (question, answer) turns, checksum verified."""
    from datasets.tinytalks.validate import read_blocks

    return read_blocks(verify(ROOT / "tinytalks" / f"{_split(split, TINYTALKS_SPLITS, 'load_tinytalks')}.txt"))


def load_mnist(data_dir, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """MNIST from the four IDX files in data_dir (gzipped or not); see datasets/formats/idx.py."""
    from datasets.formats.idx import load_mnist as load

    return load(data_dir, split)


def load_cifar10(data_dir, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 from the python-version tarball or its extracted folder; see datasets/formats/cifar10.py."""
    from datasets.formats.cifar10 import load_cifar10 as load

    return load(data_dir, split)
