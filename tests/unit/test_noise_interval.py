"""The Photos-32 benchmark's interval over the held-out noises (benchmarks/photos_quality.py noise_interval)."""

import pytest
import torch

from benchmarks import photos_quality
from benchmarks.photos_bench import EVAL_COUNT
from tooling.samplers import BUILTINS


def rows(ours, builtin_errors, steps=(3, 4, 5, 6, 7, 8)):
    """Benchmark rows on the same noises at every count: the built-ins' errors and ours (per noise)."""
    out = []
    for s in steps:
        errors = {name: builtin_errors(k).tolist() for k, name in enumerate(BUILTINS)}
        errors["dyweight (dyweight)"] = ours.tolist()
        out.append({"cfg": 5.0, "steps": s, "noise_errors": errors})
    return out


def noise(seed):
    return torch.rand(EVAL_COUNT, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) + 0.5


def test_a_ratio_the_same_on_every_noise_has_no_spread():
    base = noise(0)
    per_row, by_cfg = photos_quality.noise_interval(rows(base / 2, lambda k: base * (1 + k)), "dyweight")
    assert all(low == pytest.approx(2) and high == pytest.approx(2) for low, high in per_row.values())
    assert by_cfg[5.0] == pytest.approx((2, 2))


def test_the_interval_holds_the_ratio_and_a_closer_builtin_only_lowers_it():
    ours, first, second = noise(1) / 2, noise(2), noise(3)
    alone = rows(ours, lambda k: first if k == 0 else first * 100)  # only the first built-in competes
    both = rows(ours, lambda k: first if k == 0 else second if k == 1 else first * 100)
    point = first.median() / ours.median()  # torch's median, as the benchmark's table
    per_row, mean = photos_quality.noise_interval(alone, "dyweight")
    low, high = per_row[5.0, 4]
    assert low < point < high and high / low > 1.1  # 64 noises leave a spread of more than a tenth
    # the best built-in is chosen again in every draw: a second one can only take ratios down, and here does
    for (low2, high2), (low1, high1) in zip(photos_quality.noise_interval(both, "dyweight")[0].values(), per_row.values()):
        assert low2 <= low1 and high2 <= high1 and (low2, high2) != (low1, high1)
    # only 4-8 steps make the geometric mean: with the same ratios at every count it is one row's interval
    assert mean[5.0] == pytest.approx((low, high))
