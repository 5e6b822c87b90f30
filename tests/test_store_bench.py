"""bench/store_bench.py reports what it measured: figure 4's lines each come from one round.

Its ratios are taken within a round (fsync latency drifts between rounds), so the line
printed for a writer count is one whole round, the one with the median engine ratio; a
ratio beside rates of another round would describe no run at all.
"""

from __future__ import annotations

from types import ModuleType

from bench_support import load_bench


def _bench() -> ModuleType:
    return load_bench("store_bench.py", "store_bench")


def test_the_median_round_is_kept_whole() -> None:
    """Rule: the round with the median engine ratio is chosen with all its own rates, even
    where another round holds the median store ratio (4x) or one-writer rate (1,500/s)."""
    bench = _bench()
    rounds = [
        bench.GroupRound(engine_ratio=1.4, engine=2100, engine_one=1500, cpu=4e-4,
                         store=8000, store_one=2000),
        bench.GroupRound(engine_ratio=3.1, engine=6200, engine_one=2000, cpu=4e-4,
                         store=5000, store_one=1000),
        bench.GroupRound(engine_ratio=1.8, engine=1800, engine_one=1000, cpu=5e-4,
                         store=3000, store_one=1000),
    ]  # fmt: skip

    assert bench.median_round(rounds) is rounds[2]


def test_one_writer_lines_take_the_round_of_the_median_rate() -> None:
    """Rule: with one writer every ratio is 1, so the round of the median one-writer rate
    is chosen rather than whichever sorts in the middle."""
    bench = _bench()
    rounds = [
        bench.GroupRound(1.0, rate, rate, 1e-3, 300.0, 300.0) for rate in (305.0, 203.0, 250.0)
    ]

    assert bench.median_round(rounds).engine == 250.0
