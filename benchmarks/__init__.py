"""The benchmark suite: ``make bench`` / ``python -m benchmarks`` (see ``benchmarks.suite``)."""
