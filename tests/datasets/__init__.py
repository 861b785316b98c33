"""Tests of datasets/: the committed data, the TinyTalks splits, the MNIST and CIFAR-10 readers."""
