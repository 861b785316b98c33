"""Milestone 3 (1986): a backpropagation-trained MLP reads TinyDigits."""
import pytest

from hidden_tests.milestones.bounded import run_whole

pytestmark = pytest.mark.module(1, 2, 3, 4, 5, 6, 7, 8)

BOUNDED_EPOCHS, BOUNDED_TARGET = 3, 0.90


@pytest.mark.points(4)
def test_mlp_reads_held_out_digits_after_a_few_epochs(tmp_path):
    _, result = run_whole(3, tmp_path, "--epochs", str(BOUNDED_EPOCHS), "--seed", "0")
    curve = result["curves"]["MLP test accuracy"]
    assert len(curve) == BOUNDED_EPOCHS
    assert result["metrics"]["test_accuracy"] >= BOUNDED_TARGET, (
        f"a 64-128-10 MLP trained with Adam for {BOUNDED_EPOCHS} epochs should reach {BOUNDED_TARGET:.0%} on the 200 "
        f"TinyDigits test images; it reached {curve} by epoch. Unit tests pass one step at a time; this trains "
        "for about a hundred steps: look at what carries over from one step to the next")
