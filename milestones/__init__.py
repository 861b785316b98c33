"""The six historical milestones (paper section 3.4), each a program that runs on the student's own
tinytorch: `kata milestone N` or `python -m milestones.<name>`.

Each one recreates a landmark with only `tinytorch` (and NumPy for data handling), states its
success criterion, prints progress and a final verdict, and writes a JSON result (see _common.py).
"""
# number -> module name; titles, years and the modules each needs live in grading/curriculum.toml.
MILESTONES = {
    1: "m01_perceptron",
    2: "m02_xor",
    3: "m03_mlp",
    4: "m04_cnn",
    5: "m05_transformer",
    6: "m06_mlperf",
}
