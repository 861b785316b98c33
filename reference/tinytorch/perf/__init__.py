"""Optimization modules 14-20: profiling, quantization, compression, acceleration, caching, benchmarking."""
