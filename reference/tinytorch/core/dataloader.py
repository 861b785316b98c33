"""Module 05 -- DataLoader: datasets, shuffling and mini-batches.

A Dataset answers "how many examples?" and "give me example i". A DataLoader walks a dataset
in mini-batches, optionally shuffled with a seed, and stacks examples into Tensors whose first
dimension is the batch. Systems lesson: collating by indexing whole arrays at once costs one
NumPy call per batch; building a Tensor per example costs one Python object per example.
"""
from __future__ import annotations

import math

import numpy as np

from tinytorch.core.tensor import Tensor


class Dataset:
    """Base class: subclasses define `__len__` and `__getitem__(index)` returning a tuple of values.

    Example:
        >>> len(TensorDataset(Tensor(np.zeros((3, 2)))))
        3
    """

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index: int) -> tuple:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


class TensorDataset(Dataset):
    """Examples stored as aligned arrays: example i is (t[i] for t in tensors).

    Args:
        *tensors (Tensor | np.ndarray): arrays with the same first dimension (e.g. inputs, labels).

    Raises:
        ValueError: no arrays, a 0-d array, or first dimensions that differ (all sizes are named).

    Example:
        >>> ds = TensorDataset(Tensor(np.zeros((4, 2))), np.arange(4))
        >>> len(ds), ds[1][1].item()
        (4, 1)
    """

    def __init__(self, *tensors):
        ### BEGIN SOLUTION
        if not tensors:
            raise ValueError("TensorDataset needs at least one array")
        self.arrays = [t.data if isinstance(t, Tensor) else np.asarray(t) for t in tensors]
        if any(a.ndim == 0 for a in self.arrays):
            raise ValueError("TensorDataset arrays need a first (example) dimension, got a 0-d array")
        lengths = [a.shape[0] for a in self.arrays]
        if len(set(lengths)) != 1:
            raise ValueError(f"TensorDataset arrays must have the same first dimension, got {lengths}")
        ### END SOLUTION

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index: int) -> tuple:
        return tuple(Tensor(a[index]) for a in self.arrays)

    def batch(self, indices: np.ndarray) -> tuple:
        """Collate many examples at once by indexing every array with an index array.

        Args:
            indices (np.ndarray, int, shape (B,)): example numbers.

        Returns:
            tuple[Tensor, ...]: one Tensor per stored array, each with first dimension B; integer
            arrays (labels) stay integer.

        Example:
            >>> TensorDataset(np.arange(10)).batch(np.array([3, 1]))[0].data
            array([3, 1])
        """
        ### BEGIN SOLUTION
        return tuple(Tensor(a[indices]) for a in self.arrays)
        ### END SOLUTION


class DataLoader:
    """Iterate over a dataset in mini-batches.

    Args:
        dataset (Dataset): what to load; a TensorDataset is collated with one indexing call per array.
        batch_size (int): examples per batch (the last batch may be smaller unless drop_last).
        shuffle (bool): visit examples in a random order, a fresh order every epoch.
        seed (int | None): makes the shuffled orders reproducible (epoch k's order depends only on seed and k).
        drop_last (bool): skip a final batch smaller than batch_size.

    Raises:
        TypeError: dataset lacks __len__/__getitem__.
        ValueError: batch_size is not a positive integer.

    Example:
        >>> loader = DataLoader(TensorDataset(np.arange(10)), batch_size=4)
        >>> [len(batch[0]) for batch in loader]
        [4, 4, 2]
    """

    def __init__(self, dataset, batch_size: int = 32, shuffle: bool = False, seed: int | None = None,
                 drop_last: bool = False):
        ### BEGIN SOLUTION
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(f"DataLoader needs a dataset with __len__ and __getitem__, got {type(dataset).__name__}")
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"DataLoader batch_size must be a positive integer, got {batch_size!r}")
        self.dataset, self.batch_size = dataset, int(batch_size)
        self.shuffle, self.seed, self.drop_last = bool(shuffle), seed, bool(drop_last)
        self.epoch = 0
        ### END SOLUTION

    def __len__(self) -> int:
        """Number of batches one pass yields.

        Returns:
            int: ceil(N / batch_size), or floor(N / batch_size) with drop_last.

        Example:
            >>> len(DataLoader(TensorDataset(np.arange(10)), batch_size=4, drop_last=True))
            2
        """
        ### BEGIN SOLUTION
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        ### END SOLUTION

    def order(self, epoch: int) -> np.ndarray:
        """The example order of one epoch.

        Args:
            epoch (int): epoch number, counted from 0.

        Returns:
            np.ndarray: int64 permutation of range(N) (the identity when shuffle is False).

        Example:
            >>> DataLoader(TensorDataset(np.arange(3))).order(0)
            array([0, 1, 2])
        """
        ### BEGIN SOLUTION
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n, dtype=np.int64)
        # Seeding from (seed, epoch) makes every epoch reproducible on its own.
        seed_sequence = None if self.seed is None else [self.seed, epoch]
        return np.random.default_rng(seed_sequence).permutation(n).astype(np.int64)
        ### END SOLUTION

    def _collate(self, indices: np.ndarray) -> tuple:
        """Stack examples into batch Tensors (fast path for datasets with a `batch` method)."""
        if hasattr(self.dataset, "batch"):
            return self.dataset.batch(indices)
        examples = [self.dataset[int(i)] for i in indices]
        if not isinstance(examples[0], tuple):
            examples = [(example,) for example in examples]
        return tuple(
            Tensor(np.stack([v.data if isinstance(v, Tensor) else np.asarray(v) for v in column]))
            for column in zip(*examples)
        )

    def __iter__(self):
        """Yield batches (tuples of Tensors, batch first) for one epoch, then advance the epoch.

        Returns:
            Iterator[tuple[Tensor, ...]]: len(self) batches.

        Example:
            >>> next(iter(DataLoader(TensorDataset(np.arange(5)), batch_size=2)))[0].data
            array([0, 1])
        """
        ### BEGIN SOLUTION
        order = self.order(self.epoch)
        self.epoch += 1
        for batch_number in range(len(self)):
            yield self._collate(order[batch_number * self.batch_size:(batch_number + 1) * self.batch_size])
        ### END SOLUTION

    def batch_bytes(self) -> int:
        """Memory of one full batch: batch_size times the bytes of one example.

        Returns:
            int: bytes of the Tensors in one full-size batch.

        Example:
            >>> DataLoader(TensorDataset(np.zeros((8, 4), dtype=np.float32)), batch_size=2).batch_bytes()
            32
        """
        ### BEGIN SOLUTION
        first = self._collate(np.arange(min(self.batch_size, len(self.dataset))))
        per_example = sum(t.memory_footprint() for t in first) // max(first[0].shape[0], 1)
        return per_example * self.batch_size
        ### END SOLUTION
