"""Generate TinyDigits (train.npz, test.npz) from scikit-learn's bundled 8x8 digits.

scikit-learn ships 1,797 handwritten digits (8 x 8 pixels, values 0-16; the UCI "Optical
Recognition of Handwritten Digits" test set). TinyDigits takes 120 of each class, chosen with a
fixed seed: 100 for training and 20 for testing (1,000 / 200, stratified), scales pixels to [0, 1]
as float32 and stores int64 labels, each split shuffled with the same seed. The output is fully
determined by the seed and the bundled data, so running this again reproduces the committed files
byte for byte (tests check it). scikit-learn is needed only here, never by students.

Run:  .venv/bin/python -m datasets.tinydigits.generate [--out datasets/tinydigits]
"""
from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np

SEED = 20260101
PER_CLASS = {"train": 100, "test": 20}
HERE = Path(__file__).resolve().parent


def bundled_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits: (1797, 8, 8) pixel counts 0-16 and their labels."""
    from sklearn.datasets import load_digits  # generator-only dependency

    digits = load_digits()
    return digits.images, digits.target


def stratified_splits(images: np.ndarray, labels: np.ndarray, seed: int = SEED) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """PER_CLASS examples of every class per split, disjoint, each split shuffled."""
    rng = np.random.default_rng(seed)
    chosen = {split: [] for split in PER_CLASS}
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        start = 0
        for split, count in PER_CLASS.items():
            chosen[split].append(members[start:start + count])
            start += count
    splits = {}
    for split, parts in chosen.items():
        order = rng.permutation(np.concatenate(parts))
        splits[split] = ((images[order] / 16.0).astype(np.float32), labels[order].astype(np.int64))
    return splits


def npz_bytes(images: np.ndarray, labels: np.ndarray) -> bytes:
    """The .npz file's bytes (NumPy writes fixed zip timestamps, so equal arrays give equal bytes)."""
    buffer = io.BytesIO()
    np.savez(buffer, images=images, labels=labels)
    return buffer.getvalue()


def generate(out_dir: Path = HERE) -> list[Path]:
    """Write train.npz and test.npz into out_dir; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for split, (images, labels) in stratified_splits(*bundled_digits()).items():
        path = out_dir / f"{split}.npz"
        path.write_bytes(npz_bytes(images, labels))
        written.append(path)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args(argv)
    paths = generate(args.out)
    if args.out.resolve() == HERE:
        from datasets.checksums import record

        record(paths)
    for path in paths:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
