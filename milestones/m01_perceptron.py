"""Milestone 1 (1958): Rosenblatt's perceptron learns AND, OR and two separable clouds of points.

No gradients and no loss function: the 1958 learning rule nudges the weights towards every example
it gets wrong, w <- w + lr * (target - prediction) * x, and stops after a pass over the data without
mistakes.
Rosenblatt proved it always stops when a straight line can separate the classes.
Criterion: 100% training accuracy on all three tasks. Needs modules 01-04 (a Linear layer holds the
weights; nothing is differentiated).

Run:  python -m milestones.m01_perceptron [--submission DIR] [--seed 0] [--epochs 50]
"""
from __future__ import annotations

import numpy as np

from milestones._common import main, parser, text_plot

REQUIRES = (1, 2, 3, 4)  # the modules it needs (the manifest's [[milestone]] requires; kata lint checks imports)
NUMBER = 1


def tasks(seed: int, quick: bool) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """AND, OR and two Gaussian clouds a straight line separates (labels 0 and 1)."""
    corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    rng = np.random.default_rng(seed)
    count = 20 if quick else 100
    clouds = np.concatenate([rng.normal((-1.5, -1.0), 0.5, (count, 2)), rng.normal((1.5, 1.0), 0.5, (count, 2))])
    labels = np.repeat([0, 1], count)
    # Keep the clouds strictly apart (a margin the perceptron can find), as the theorem assumes.
    keep = np.where(labels == 1, clouds.sum(axis=1) > 0.5, clouds.sum(axis=1) < -0.5)
    return {"AND": (corners, np.array([0, 0, 0, 1])), "OR": (corners, np.array([0, 1, 1, 1])),
            "clouds": (clouds[keep].astype(np.float32), labels[keep])}


def predict(layer, Tensor, x: np.ndarray) -> np.ndarray:
    """The perceptron fires (1) when w . x + b > 0."""
    return (layer(Tensor(x)).data[:, 0] > 0).astype(np.int64)


def train(layer, Tensor, x, y, epochs: int, lr: float = 0.1) -> list[int]:
    """Rosenblatt's rule, one example at a time; returns the mistakes of each pass over the data."""
    mistakes = []
    for _ in range(epochs):
        wrong = 0
        for xi, yi in zip(x, y):
            error = int(yi) - int(predict(layer, Tensor, xi[None])[0])
            if error:
                wrong += 1
                layer.weight.data = layer.weight.data + lr * error * xi[:, None]
                layer.bias.data = layer.bias.data + lr * error
        mistakes.append(wrong)
        if wrong == 0:
            break
    return mistakes


def boundary_plot(layer, Tensor, x, y, width: int = 56, height: int = 18) -> str:
    """The plane as characters: '.' where the perceptron says 0, ':' where it says 1; o and x mark the points."""
    (x0, y0), (x1, y1) = x.min(axis=0) - 0.5, x.max(axis=0) + 0.5
    xs, ys = np.linspace(x0, x1, width), np.linspace(y1, y0, height)
    grid = np.array([[cx, cy] for cy in ys for cx in xs], dtype=np.float32)
    cells = np.where(predict(layer, Tensor, grid).reshape(height, width) == 1, ":", ".").astype(object)
    for (px, py), label in zip(x, y):
        col = int(round((px - x0) / (x1 - x0) * (width - 1)))
        row = int(round((y1 - py) / (y1 - y0) * (height - 1)))
        cells[row, col] = "x" if label == 1 else "o"
    return "\n".join("    " + "".join(row) for row in cells)


def run(run) -> int:
    from tinytorch import Linear, Tensor

    results, layer = {}, None
    for index, (name, (x, y)) in enumerate(tasks(run.args.seed, run.args.quick).items()):
        layer = Linear(2, 1, seed=run.args.seed + index)
        mistakes = train(layer, Tensor, x, y, run.args.epochs)
        accuracy = float((predict(layer, Tensor, x) == y).mean())
        results[name] = {"accuracy": accuracy, "passes": len(mistakes), "examples": int(len(y))}
        run.curves[f"{name} mistakes"] = mistakes
        run.say(f"  {name:<7} {len(y):>4} examples: {len(mistakes):>3} pass(es), mistakes per pass "
                f"{mistakes[:8]}{' ...' if len(mistakes) > 8 else ''} -> accuracy {accuracy:.0%}")
    x, y = tasks(run.args.seed, run.args.quick)["clouds"]
    run.say("\n  Decision boundary on the clouds (. says 0, : says 1; o and x are the points):")
    run.say(boundary_plot(layer, Tensor, x, y))
    if len(run.curves["clouds mistakes"]) > 1:
        run.say("\n  Mistakes per pass on the clouds:\n" + text_plot(run.curves["clouds mistakes"], label="pass"))
    passed = all(task["accuracy"] == 1.0 for task in results.values())
    return run.finish("100% training accuracy on AND, OR and the separable clouds", passed, results)


def build_parser():
    return parser(NUMBER, __doc__.splitlines()[0], epochs=50)


if __name__ == "__main__":
    raise SystemExit(main(NUMBER, build_parser, run))
