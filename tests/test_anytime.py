"""Anytime curves and method comparisons (garay.results.anytime): pure functions over history."""

from __future__ import annotations

import numpy as np
import pytest

from garay.results.anytime import (bootstrap_difference, bootstrap_mean, compare_table, curves_table, group_label,
                           difference_from_baseline, run_curve, value_at)


def _h(fitness, test, seconds, h, status="ok"):
    return {"fitness": fitness, "test_accuracy": test, "seconds": seconds, "hash": h, "status": status}


HISTORY = [_h(0.5, 0.4, 2.0, "b"), _h(0.0, 0.0, 1.0, "a", "failed"), _h(0.7, 0.6, 3.0, "c"),
           _h(0.7, 0.9, 1.0, "0"), _h(0.6, 0.8, 1.0, "d")]


def test_run_curve_follows_the_incumbent_as_the_run_ranks_it():
    c = run_curve(HISTORY)
    assert c["evaluations"].tolist() == [1, 2, 3, 4, 5]
    assert c["worker_seconds"].tolist() == [2, 3, 6, 7, 8]
    assert c["best"].tolist() == [0.5, 0.5, 0.7, 0.7, 0.7]
    assert c["test"].tolist() == [0.4, 0.4, 0.6, 0.9, 0.9]  # a tie goes to the lower hash, as in the run


def test_value_at_is_a_step_function_with_zero_before_the_first_result():
    c = run_curve(HISTORY)
    assert value_at(c, "worker_seconds", 1.0, "best") == 0.0
    assert value_at(c, "worker_seconds", 5.9, "best") == 0.5
    assert value_at(c, "worker_seconds", 6.0, "best") == 0.7
    assert value_at(c, "evaluations", 99, "test") == 0.9


def test_bootstrap_intervals_hold_the_mean_and_shrink_with_more_runs():
    rng = np.random.default_rng(0)
    few, many = rng.normal(0.6, 0.05, 5), rng.normal(0.6, 0.05, 200)
    m, lo, hi = bootstrap_mean(few)
    assert lo <= m <= hi and m == pytest.approx(few.mean())
    m2, lo2, hi2 = bootstrap_mean(many)
    assert hi2 - lo2 < hi - lo
    d, dlo, dhi = bootstrap_difference(many + 0.1, many)
    assert d == pytest.approx(0.1) and dlo > 0


def test_groups_compare_with_random_search_under_equal_other_settings():
    runs = []
    for mode, level in (("generational", 0.7), ("random", 0.6)):
        for fitness in (1, 3):
            for seed in range(4):
                label = group_label({"ga.mode": mode, "fitness.rounds": fitness, "seed": seed},
                                    ["fitness.rounds", "ga.mode", "seed"])
                runs.append({"group": label, "best_val": level, "best_test": level + 0.01 * seed + 0.01 * fitness,
                             "evaluations": 28, "worker_seconds": 3600.0, "seed": seed})
    rows = {r["group"]: r for r in compare_table(runs)}
    ga3 = rows["fitness.rounds=3,ga.mode=generational"]
    assert ga3["baseline"] == "fitness.rounds=3,ga.mode=random" and ga3["runs"] == 4
    assert ga3["test_vs_baseline"] == pytest.approx(0.1) and ga3["worker_hours"] == 1.0
    # Paired by seed, the seed's shared luck (0.01 x seed here) cancels: a zero-width interval.
    assert ga3["paired_by_seed"] and ga3["test_vs_baseline_lo"] == pytest.approx(0.1) == ga3["test_vs_baseline_hi"]
    assert "baseline" not in rows["fitness.rounds=1,ga.mode=random"]
    table = curves_table({"x": [run_curve(HISTORY)], "y": [run_curve(HISTORY[:2])]})
    evals = [r for r in table if r["group"] == "y" and r["axis"] == "evaluations"]
    assert [r["best_mean"] for r in evals] == [0.5] * 5  # a run that stopped early keeps its last value


def test_a_difference_is_paired_by_seed_only_when_both_hold_the_same_seeds():
    ga = [{"seed": s, "best_test": 0.8 + 0.05 * s} for s in range(4)]
    rnd = [{"seed": s, "best_test": 0.75 + 0.05 * s} for s in range(4)]
    (d, lo, hi), paired = difference_from_baseline(ga, rnd)
    assert paired and d == pytest.approx(0.05) and lo == pytest.approx(0.05) and hi == pytest.approx(0.05)
    (d, lo, hi), paired = difference_from_baseline(ga, rnd[:3])  # seed 3 missing: independent resamples
    assert not paired and d == pytest.approx(0.075) and lo < 0.05 < hi
