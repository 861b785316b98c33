"""Readers for datasets users bring themselves: MNIST (IDX files), CIFAR-10 (python batches), and their downloader."""
