"""Calibration core on the exact demo mixture: teacher accuracy, improvement, held-out guard, NaN stop."""
import math

import pytest
import torch

from dyweight_core.calibrate import (LOSSES, STARTS, CalibrationConfig, CalibrationError, calibrate, karras_between, lr_at, make_loss,
                                     teacher_sigmas, teacher_solve)
from dyweight_core.solver import unroll
from dyweight_core.table import adams_bashforth_table
from dyweight_core.mixture import GaussianMixture, reference_solve

MIX = GaussianMixture.pictures(count=8, size=8)
SIGMAS = [14.6146, 3.1686, 0.4469, 0.0292, 0.0]  # ComfyUI's karras schedule for SD, 4 steps


def starts(n, seed):
    return torch.randn(n, 3, 8, 8, generator=torch.Generator().manual_seed(seed)) * math.sqrt(1 + SIGMAS[0] ** 2)


def median_err(a, b):
    return (a.double() - b.double()).flatten(1).pow(2).mean(1).sqrt().median().item()


def test_teacher_schedule_is_karras_between_the_student_ends_and_refines_the_end():
    fine = teacher_sigmas(SIGMAS, 64)
    assert len(fine) == 64 + 2 and fine[0] == SIGMAS[0] and fine[-1] == 0.0
    assert fine[-2] == pytest.approx(SIGMAS[-2] * 1e-4)
    assert all(b < a for a, b in zip(fine, fine[1:]))
    ramp = [s ** (1 / 7) for s in fine[:-1]]  # Karras rho 7: even steps in sigma^(1/7)
    assert max(a - b for a, b in zip(ramp, ramp[1:])) == pytest.approx(min(a - b for a, b in zip(ramp, ramp[1:])))
    floored = teacher_sigmas(SIGMAS, 32, floor=0.01)
    assert floored[-2] == 0.01 and floored[-1] == 0.0 and len(floored) == 34
    partial = teacher_sigmas(SIGMAS[:-1], 32)  # no final 0 (img2img stops early): ends where the student ends
    assert partial[0] == SIGMAS[0] and partial[-1] == SIGMAS[-2] and len(partial) == 33


def test_teacher_schedule_even_in_log_sigma_keeps_student_sigmas():
    fine = teacher_sigmas(SIGMAS, 64, rho=0)
    assert all(s in fine for s in SIGMAS)
    assert fine[-1] == 0.0 and 0 < fine[-2] <= SIGMAS[-2] * 1.0001e-4
    assert all(b < a for a, b in zip(fine, fine[1:]))


@pytest.mark.parametrize("solver", ["heun", "ipndm"])
def test_teacher_is_far_more_accurate_than_a_few_step_student(solver):
    D = MIX.denoiser("eps")
    x = starts(16, 0)
    truth = reference_solve(D, "eps", x.double(), SIGMAS[0])
    teacher = teacher_solve(D, x, SIGMAS, solver, 128)
    student = unroll(D, x, SIGMAS, adams_bashforth_table(SIGMAS))
    assert median_err(teacher, truth) < 0.01 * median_err(student, truth)


def test_calibration_improves_held_out_error_and_is_never_worse_than_init():
    D = MIX.denoiser("eps")
    config = CalibrationConfig(iterations=60, lr=3e-3, batch_size=16, teacher_steps=64, eval_every=5)
    table, report = calibrate(D, SIGMAS, starts(64, 1), starts(32, 2), config)
    assert report["holdout_error_best"] < 0.2 * report["holdout_error_init"]
    assert report["test_median_calibrated"] < 0.2 * report["test_median_fallback"]
    test = starts(64, 3)
    truth = reference_solve(D, "eps", test.double(), SIGMAS[0])
    assert median_err(unroll(D, test, SIGMAS, table), truth) < 0.3 * median_err(unroll(D, test, SIGMAS, adams_bashforth_table(SIGMAS)), truth)
    table.validate()
    for i, row in enumerate(table.weights):  # masked to the band after every step
        assert all(w == 0.0 for j, w in enumerate(row) if not (i - config.window < j <= i))
    # with nothing to learn, the guard returns the initialisation itself
    frozen, rep = calibrate(D, SIGMAS, starts(16, 1), starts(8, 2), CalibrationConfig(iterations=3, lr=1e-9, eval_every=1))
    assert rep["holdout_error_best"] <= rep["holdout_error_init"]


def test_calibration_starts_from_the_best_built_in_on_held_out():
    D = MIX.denoiser("eps")
    table, report = calibrate(D, SIGMAS, starts(16, 1), starts(16, 2), CalibrationConfig(iterations=0, teacher_steps=32, learn_sigmas=False))
    errors = report["holdout_error_starts"]
    assert set(errors) == set(STARTS) and len(set(errors.values())) == len(STARTS)  # each measured, all different
    assert report["init"] == min(errors, key=errors.get) and report["holdout_error_init"] == min(errors.values())
    assert table.weights == STARTS[report["init"]](SIGMAS, 3).weights  # no iterations: the start itself
    _, one = calibrate(D, SIGMAS, starts(16, 1), starts(16, 2), CalibrationConfig(iterations=0, teacher_steps=32, init="lms", learn_sigmas=False))
    assert list(one["holdout_error_starts"]) == ["lms"] and one["holdout_error_init"] == errors["lms"]
    with pytest.raises(CalibrationError, match="unknown init"):
        calibrate(D, SIGMAS, starts(8, 1), starts(8, 2), CalibrationConfig(iterations=0, teacher_steps=8, init="dpmpp"))


def test_held_out_error_is_the_geometric_mean_unless_the_median_is_asked_for():
    """The statistic that picks the start and the iteration: a mean of logs is steadier on 16 latents."""
    from dyweight_core.calibrate import per_sample_rmse
    D, hold = MIX.denoiser("eps"), starts(16, 2)
    measured = {}
    for select, statistic in (("geomean", lambda e: e.log().mean().exp().item()), ("median", lambda e: e.median().item())):
        cache = {}
        config = CalibrationConfig(iterations=0, teacher_steps=32, init="lms", select=select, learn_sigmas=False)
        table, report = calibrate(D, SIGMAS, starts(16, 1), hold, config, teacher_cache=cache)
        (_, hold_t, _), = cache.values()
        measured[select] = statistic(per_sample_rmse(unroll(D, hold, SIGMAS, table), hold_t))
        assert report["holdout_error_init"] == pytest.approx(measured[select], rel=1e-6)
        assert table.provenance["holdout_selected_by"] == select
    assert measured["geomean"] != pytest.approx(measured["median"], rel=1e-3)
    with pytest.raises(CalibrationError, match="unknown select"):
        calibrate(D, SIGMAS, starts(8, 1), starts(8, 2), CalibrationConfig(iterations=0, teacher_steps=8, select="mean"))


def test_karras_reshapes_keep_the_ends_unless_lifting_the_last_sigma_before_zero():
    for rho in (3.0, 7.0, 10.0):
        shape = karras_between(SIGMAS, rho)
        assert shape[0] == SIGMAS[0] and shape[-2:] == SIGMAS[-2:] and all(b < a for a, b in zip(shape, shape[1:]))
    assert karras_between(SIGMAS, 7.0) == pytest.approx(SIGMAS, rel=1e-3)  # SIGMAS is ComfyUI's karras (rho 7)
    assert karras_between(SIGMAS, 3.0)[1] > SIGMAS[1]  # smaller rho: more of the steps at high noise
    lifted = karras_between(SIGMAS, 5.0, 4.0)
    assert lifted[-2] == pytest.approx(4 * SIGMAS[-2]) and lifted[-1] == 0.0 and lifted[0] == SIGMAS[0]
    assert karras_between(SIGMAS[:-1], 5.0, 4.0) is None  # no final 0: the last sigma is the endpoint, it stays
    assert karras_between([14.6, 0.03, 0.0], 3.0) is None  # one step: nothing to reshape


def test_learned_sigmas_start_from_the_best_schedule_shape_on_held_out():
    D = MIX.denoiser("eps")
    config = CalibrationConfig(iterations=0, teacher_steps=32, learn_sigmas=True)
    table, report = calibrate(D, SIGMAS, starts(16, 1), starts(16, 2), config)
    errors = report["holdout_error_starts"]
    first = min(STARTS, key=errors.get)  # the best start on the given schedule is the one reshaped
    rhos = [f"{first} @ rho {r:g}" for r in config.schedule_rhos]
    assert set(errors) >= set(STARTS) | set(rhos)
    rho = min(rhos, key=errors.get).split("rho ")[1]
    assert {f"{first} @ rho {rho}, end x{k:g}" for k in config.schedule_lifts} <= set(errors)
    assert report["init"] == min(errors, key=errors.get) and report["holdout_error_init"] == min(errors.values())
    assert len(table.sigmas) == len(SIGMAS) and table.sigmas[0] == SIGMAS[0] and table.sigmas[-1] == 0.0
    _, fixed = calibrate(D, SIGMAS, starts(16, 1), starts(16, 2), CalibrationConfig(iterations=0, teacher_steps=32, learn_sigmas=False))
    assert set(fixed["holdout_error_starts"]) == set(STARTS)  # sigmas not learned: the given schedule only


def test_log_rmse_loss_counts_every_noise_relative_error_alike():
    loss = make_loss(CalibrationConfig(loss="log_rmse"))
    target = torch.zeros(2, 3, 4, 4)
    errors = torch.tensor([0.01, 1.0])  # one easy noise, one hard (a mode switch)
    out = errors[:, None, None, None] * torch.ones(2, 3, 4, 4)
    assert loss(out, target).item() == pytest.approx(math.log(0.01) / 2)
    halved = [loss(out * torch.tensor([0.5, 1.0])[:, None, None, None], target), loss(out * torch.tensor([1.0, 0.5])[:, None, None, None], target)]
    assert halved[0].item() == pytest.approx(halved[1].item()) == pytest.approx(math.log(0.005) / 2)  # same gain either way
    rmse = make_loss(CalibrationConfig(loss="rmse"))  # where halving the hard noise's error counts 100 times more
    assert rmse(out, target).item() - rmse(out * torch.tensor([1.0, 0.5])[:, None, None, None], target).item() == pytest.approx(0.25)
    assert CalibrationConfig().loss in LOSSES
    with pytest.raises(CalibrationError, match="log_rmse"):
        make_loss(CalibrationConfig(loss="mse"))


def test_teacher_cache_is_reused():
    D = MIX.denoiser("eps")
    cache, calls = {}, []
    counting = lambda x, s: (calls.append(1), D(x, s))[1]
    config = CalibrationConfig(iterations=1, batch_size=8, teacher_steps=16)
    calibrate(counting, SIGMAS, starts(8, 1), starts(8, 2), config, teacher_cache=cache)
    first = len(calls)
    calibrate(counting, SIGMAS, starts(8, 1), starts(8, 2), config, teacher_cache=cache)
    teacher_calls = len(teacher_sigmas(SIGMAS, 16)) - 1  # ipndm: one call per interval, all 24 latents in one batch
    assert len(cache) == 1 and first - (len(calls) - first) == teacher_calls


def test_divergence_stops_cleanly_and_keeps_the_initialisation():
    D = MIX.denoiser("eps")
    poisoned = lambda x, s: D(x, s) * (float("nan") if torch.is_grad_enabled() else 1.0)
    table, report = calibrate(poisoned, SIGMAS, starts(8, 1), starts(8, 2), CalibrationConfig(iterations=20, batch_size=4, teacher_steps=16))
    assert report["stopped"].startswith("stopped at iteration 1: non-finite")
    assert report["holdout_error_best"] == report["holdout_error_init"]
    assert all(math.isfinite(w) for row in table.weights for w in row)


def test_schedule_and_options():
    config = CalibrationConfig(iterations=100, lr=1.0, warmup=0.1)
    assert lr_at(0, config) == pytest.approx(0.1) and lr_at(9, config) == pytest.approx(1.0)
    assert lr_at(99, config) < 0.01
    with pytest.raises(CalibrationError, match="VAE"):
        calibrate(MIX.denoiser("eps"), SIGMAS, starts(2, 1), starts(2, 2), CalibrationConfig(loss="perceptual", iterations=1))


def test_report_is_measured_on_a_separate_test_set_and_the_cache_holds_cpu_tensors():
    """The held-out set picks the best iteration, so its error flatters the table; the report's
    figures come from test latents that played no part in the choice."""
    from dyweight_core.calibrate import per_sample_rmse
    D = MIX.denoiser("eps")
    cache = {}
    config = CalibrationConfig(iterations=20, lr=3e-3, batch_size=8, teacher_steps=32, eval_every=2, learn_sigmas=False)
    table, report = calibrate(D, SIGMAS, starts(16, 1), starts(8, 2), config, teacher_cache=cache, test_x=starts(12, 3))
    assert report["test_samples"] == 12 and report["holdout_samples"] == 8
    (_, _, test_t), = cache.values()
    assert test_t.device.type == "cpu" and len(test_t) == 12
    measured = per_sample_rmse(unroll(D, starts(12, 3), SIGMAS, table), test_t).median().item()
    assert report["test_median_calibrated"] == pytest.approx(measured, rel=1e-6)
    assert report["test_median_calibrated"] != pytest.approx(report["holdout_error_best"], rel=1e-3)


def test_analytical_first_step_saves_a_model_call_and_still_improves():
    """AFS (the analytical first step, coefficients/README.md): N steps on N - 1 model calls; the table records it."""
    D = MIX.denoiser("eps")
    config = CalibrationConfig(iterations=40, lr=3e-3, batch_size=16, teacher_steps=64, eval_every=5, afs=True)
    table, report = calibrate(D, SIGMAS, starts(32, 1), starts(16, 2), config)
    assert table.afs and len(table.t_scale) == table.steps - 1 == 3
    calls = []
    unroll(lambda x, s: (calls.append(1), D(x, s))[1], starts(4, 3), SIGMAS, table)
    assert len(calls) == 3
    assert report["holdout_error_best"] < 0.5 * report["holdout_error_init"]
