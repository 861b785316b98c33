"""Milestone 1 (1958): the perceptron learning rule, run on the package's Linear layer."""
import pytest

from hidden_tests.milestones.bounded import run_whole

pytestmark = pytest.mark.module(1, 2, 3, 4)


@pytest.mark.points(2)
def test_perceptron_separates_and_or_and_the_clouds(tmp_path):
    status, result = run_whole(1, tmp_path, "--quick", "--seed", "3")
    accuracies = {task: result["metrics"][task]["accuracy"] for task in ("AND", "OR", "clouds")}
    assert accuracies == {"AND": 1.0, "OR": 1.0, "clouds": 1.0}, (
        f"the perceptron rule should separate every linearly separable task; training accuracy: {accuracies}")
    assert status == 0
