"""Core modules 01-13: tensors, layers, autograd, training, vision and language architectures."""
