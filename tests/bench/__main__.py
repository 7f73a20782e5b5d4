"""``python -m tests.bench``: every scenario benchmark in one run, one table (bench_scenarios.py).

The focused benchmarks (bench_validate.py, bench_inventory.py, bench_emulator.py,
test_bench_state_save.py) keep their own commands; docs/performance.md lists them.
"""

from __future__ import annotations

import sys

from tests.bench.bench_scenarios import main

sys.exit(main())
