"""``python -m benchmarks``: the benchmark suite (what ``make bench`` runs)."""

import sys

from benchmarks.suite import main

sys.exit(main())
