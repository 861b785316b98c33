"""Milestone 4 (1998): a small CNN reads TinyDigits with fewer weights than the MLP."""
import pytest

from hidden_tests.milestones.bounded import program, quiet_run

pytestmark = pytest.mark.module(1, 2, 3, 4, 5, 6, 7, 8, 9)

BOUNDED_EPOCHS, BOUNDED_TARGET = 3, 0.90


@pytest.mark.points(4)
def test_cnn_reads_held_out_digits_with_fewer_parameters_than_the_mlp(tmp_path):
    from tinytorch import enable_autograd

    milestone, mlp = program(4), program(3)
    enable_autograd()
    run = quiet_run(4, tmp_path, data_dir=None)
    name, x, y, tx, ty = milestone.load(run)
    model = milestone.cnn(channels=1, side=8, seed=0)
    accuracy = mlp.fit(run, model, x, y, tx, ty, BOUNDED_EPOCHS, "CNN")
    assert accuracy >= BOUNDED_TARGET, (
        f"the milestone's CNN trained for {BOUNDED_EPOCHS} epochs should reach {BOUNDED_TARGET:.0%} on the {name} test "
        f"images; it reached {run.curves['CNN test accuracy']} by epoch")
    assert model.num_parameters() == 16 * 9 + 16 + 32 * 16 * 9 + 32 + 32 * 2 * 2 * 10 + 10 < 64 * 128 + 128 + 1290
