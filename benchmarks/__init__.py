"""Benchmark scripts and suites: measure quality, speed and memory; they print their figures."""
