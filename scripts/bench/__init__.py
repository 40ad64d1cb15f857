"""Benchmarks, run by hand (commands and results in docs/benchmarks.md); tests only check that they run."""
