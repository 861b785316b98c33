"""Module 05 -- DataLoader: the visible specification.

Run just this module:  pytest spec/test_05_dataloader.py     (or: kata test 05)
"""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from spec.support import values
from tinytorch.core.dataloader import DataLoader, Dataset, TensorDataset
from tinytorch.core.tensor import Tensor

pytestmark = pytest.mark.module(5)

SIZES = st.integers(1, 60)
BATCHES = st.integers(1, 16)


def dataset_of(n):
    features = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    labels = np.arange(n, dtype=np.int64)
    return TensorDataset(Tensor(features), labels), features, labels


def seen_labels(loader):
    return np.concatenate([values(labels) for _, labels in loader])


@pytest.mark.points(3)
@given(n=SIZES, batch_size=BATCHES, shuffle=st.booleans(), seed=st.integers(0, 100))
def test_every_example_exactly_once_per_epoch(n, batch_size, shuffle, seed):
    dataset, _, _ = dataset_of(n)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, seed=seed)
    for _ in range(2):
        assert sorted(seen_labels(loader).tolist()) == list(range(n))


@pytest.mark.points(2)
@given(n=SIZES, batch_size=BATCHES, drop_last=st.booleans())
def test_batch_sizes_and_length(n, batch_size, drop_last):
    dataset, _, _ = dataset_of(n)
    loader = DataLoader(dataset, batch_size=batch_size, drop_last=drop_last)
    sizes = [features.shape[0] for features, _ in loader]
    expected_batches = n // batch_size if drop_last else math.ceil(n / batch_size)
    assert len(loader) == len(sizes) == expected_batches
    assert all(size == batch_size for size in sizes[:-1] if sizes)
    if drop_last:
        assert all(size == batch_size for size in sizes)
    elif sizes:
        assert sizes[-1] == n - batch_size * (expected_batches - 1)


@given(n=SIZES, batch_size=BATCHES)
def test_unshuffled_batches_keep_dataset_order_and_pair_features_with_labels(n, batch_size):
    dataset, features, labels = dataset_of(n)
    batches = list(DataLoader(dataset, batch_size=batch_size))
    np.testing.assert_array_equal(np.concatenate([values(f) for f, _ in batches]), features)
    np.testing.assert_array_equal(np.concatenate([values(y) for _, y in batches]), labels)


@given(n=st.integers(2, 60), batch_size=BATCHES, seed=st.integers(0, 1000))
def test_shuffled_features_stay_paired_with_labels(n, batch_size, seed):
    dataset, features, _ = dataset_of(n)
    for x, y in DataLoader(dataset, batch_size=batch_size, shuffle=True, seed=seed):
        np.testing.assert_array_equal(values(x), features[values(y)])


@pytest.mark.points(2)
@given(seed=st.integers(0, 10_000))
def test_same_seed_same_order(seed):
    dataset, _, _ = dataset_of(40)
    first = seen_labels(DataLoader(dataset, batch_size=7, shuffle=True, seed=seed))
    second = seen_labels(DataLoader(dataset, batch_size=7, shuffle=True, seed=seed))
    np.testing.assert_array_equal(first, second)


def test_epochs_reshuffle_and_shuffling_changes_order():
    dataset, _, labels = dataset_of(50)
    loader = DataLoader(dataset, batch_size=8, shuffle=True, seed=3)
    epoch_one, epoch_two = seen_labels(loader), seen_labels(loader)
    assert not np.array_equal(epoch_one, epoch_two), "each epoch needs a fresh order"
    assert not np.array_equal(epoch_one, labels), "shuffle=True must change the order"


def test_labels_stay_integer_and_features_keep_dtype():
    dataset, _, _ = dataset_of(10)
    features, labels = next(iter(DataLoader(dataset, batch_size=4)))
    assert labels.dtype == np.int64 and features.dtype == np.float32
    assert isinstance(features, Tensor) and isinstance(labels, Tensor)


def test_tensor_dataset_rejects_mismatched_lengths():
    with pytest.raises(ValueError) as caught:
        TensorDataset(np.zeros((4, 2)), np.zeros(5))
    assert "4" in str(caught.value) and "5" in str(caught.value)


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_batch_size_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(TensorDataset(np.zeros(3)), batch_size=bad)


class Squares(Dataset):
    def __len__(self):
        return 9

    def __getitem__(self, index):
        return Tensor([float(index)]), index * index


def test_generic_dataset_items_are_stacked():
    batches = list(DataLoader(Squares(), batch_size=4))
    assert [x.shape for x, _ in batches] == [(4, 1), (4, 1), (1, 1)]
    np.testing.assert_array_equal(np.concatenate([values(y) for _, y in batches]), np.arange(9) ** 2)


def test_batch_bytes_counts_one_full_batch():
    loader = DataLoader(TensorDataset(np.zeros((100, 8), dtype=np.float32), np.zeros(100, dtype=np.int64)), batch_size=16)
    assert loader.batch_bytes() == 16 * (8 * 4 + 8)
