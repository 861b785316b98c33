"""Module 05 -- DataLoader: held-out properties and edge cases."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from spec.support import values
from tinytorch.core.dataloader import DataLoader, Dataset, TensorDataset
from tinytorch.core.tensor import Tensor

pytestmark = pytest.mark.module(5)


def test_batch_larger_than_dataset():
    loader = DataLoader(TensorDataset(np.arange(3)), batch_size=10)
    assert len(loader) == 1 and next(iter(loader))[0].shape == (3,)
    assert len(DataLoader(TensorDataset(np.arange(3)), batch_size=10, drop_last=True)) == 0
    assert list(DataLoader(TensorDataset(np.arange(3)), batch_size=10, drop_last=True)) == []


def test_order_of_an_epoch_is_reproducible_on_its_own():
    loader = DataLoader(TensorDataset(np.arange(30)), batch_size=5, shuffle=True, seed=11)
    for _ in loader:
        pass
    again = DataLoader(TensorDataset(np.arange(30)), batch_size=5, shuffle=True, seed=11)
    np.testing.assert_array_equal(loader.order(1), again.order(1))
    assert sorted(loader.order(4).tolist()) == list(range(30))


@given(st.integers(0, 1000), st.integers(0, 1000))
def test_different_seeds_give_different_orders(a, b):
    if a == b:
        b = a + 1
    first = DataLoader(TensorDataset(np.arange(64)), shuffle=True, seed=a).order(0)
    second = DataLoader(TensorDataset(np.arange(64)), shuffle=True, seed=b).order(0)
    assert not np.array_equal(first, second)


def test_single_array_dataset_yields_one_tuple_element():
    (batch,) = next(iter(DataLoader(TensorDataset(Tensor(np.ones((4, 2)))), batch_size=2)))
    assert batch.shape == (2, 2)


def test_dataset_item_is_a_tuple_of_tensors():
    features, label = TensorDataset(np.arange(6.0).reshape(3, 2), np.array([7, 8, 9]))[2]
    np.testing.assert_array_equal(values(features), [4.0, 5.0])
    assert label.item() == 9


def test_non_dataset_is_a_type_error_and_base_dataset_is_abstract():
    with pytest.raises(TypeError, match="dataset"):
        DataLoader(42)
    with pytest.raises(NotImplementedError):
        len(Dataset())
    with pytest.raises(ValueError):
        TensorDataset()
    with pytest.raises(ValueError):
        TensorDataset(np.float32(1.0))


def test_generic_dataset_of_single_values():
    class Numbers(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, index):
            return Tensor(float(index))

    (batch,) = next(iter(DataLoader(Numbers(), batch_size=5)))
    np.testing.assert_array_equal(values(batch), np.arange(5.0))


def test_tensor_dataset_batch_collates_in_one_call():
    dataset = TensorDataset(np.arange(20).reshape(10, 2), np.arange(10))
    features, labels = dataset.batch(np.array([9, 0, 4]))
    np.testing.assert_array_equal(values(features), [[18, 19], [0, 1], [8, 9]])
    np.testing.assert_array_equal(values(labels), [9, 0, 4])


def test_iterating_twice_without_shuffle_repeats_the_order():
    loader = DataLoader(TensorDataset(np.arange(7)), batch_size=3)
    first = [values(b[0]).tolist() for b in loader]
    assert first == [values(b[0]).tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6]]


@given(st.integers(1, 40), st.integers(1, 9))
def test_unseeded_shuffle_is_still_a_permutation(n, batch_size):
    loader = DataLoader(TensorDataset(np.arange(n)), batch_size=batch_size, shuffle=True)
    assert sorted(np.concatenate([values(b[0]) for b in loader]).tolist()) == list(range(n))


def test_float64_features_and_int8_labels_keep_their_dtypes():
    dataset = TensorDataset(np.zeros((6, 2), dtype=np.float64), np.zeros(6, dtype=np.int8))
    features, labels = next(iter(DataLoader(dataset, batch_size=3)))
    assert features.dtype == np.float64 and labels.dtype == np.int8


def test_len_does_not_depend_on_shuffle():
    dataset = TensorDataset(np.arange(23))
    assert len(DataLoader(dataset, batch_size=5, shuffle=True, seed=1)) == len(DataLoader(dataset, batch_size=5)) == 5
