"""Benchmarks (`make bench`) and the soak run (`make soak`): loopback only, bounded in time."""
