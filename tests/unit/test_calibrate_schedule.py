"""Learned sigmas, prompt batches (conditioning periods) and the quality presets of the calibration core."""
import math
import random

import pytest
import torch

from dyweight_core.calibrate import (PRESETS, CalibrationConfig, CalibrationError, LearnedSigmas, calibrate, eval_batch,
                                     preset_settings, student_batch)
from dyweight_core import schedules
from dyweight_core.lookup import choose_table, scheduler_sigmas, sigmas_match
from dyweight_core.table import adams_bashforth_table
from dyweight_core.mixture import GaussianMixture

MIX = GaussianMixture.pictures(count=8, size=8)
SIGMAS = [14.6146, 3.1686, 0.4469, 0.0292, 0.0]  # ComfyUI's karras schedule for SD, 4 steps


def starts(n, seed):
    return torch.randn(n, 3, 8, 8, generator=torch.Generator().manual_seed(seed)) * math.sqrt(1 + SIGMAS[0] ** 2)


def test_learned_sigma_parametrisation_starts_exact_and_stays_a_schedule():
    fixed = LearnedSigmas(SIGMAS, learn=False)()
    assert fixed.tolist() == SIGMAS
    learned = LearnedSigmas(SIGMAS, learn=True)
    assert learned().tolist() == pytest.approx(SIGMAS, rel=1e-12)
    with torch.no_grad():
        learned.u.copy_(torch.tensor([3.0, -4.0, 1.5]))  # any values: still positive, decreasing, same start, final 0
    s = learned().tolist()
    assert s[0] == SIGMAS[0] and s[-1] == 0.0 and all(b < a for a, b in zip(s, s[1:])) and min(s[:-1]) > 0


def test_calibration_learns_sigmas_and_records_them():
    D = MIX.denoiser("eps")
    config = CalibrationConfig(iterations=40, lr=2e-2, batch_size=16, teacher_steps=64, eval_every=5, learn_sigmas=True)
    table, report = calibrate(D, SIGMAS, starts(32, 1), starts(16, 2), config)
    assert table.sigmas[0] == SIGMAS[0] and table.sigmas[-1] == 0.0
    assert max(abs(a / b - 1) for a, b in zip(table.sigmas[1:-1], SIGMAS[1:-1])) > 1e-3  # they moved
    assert report["holdout_error_best"] < 0.5 * report["holdout_error_init"]
    assert table.provenance["learned_sigmas"] is True


def test_student_batches_keep_each_latent_on_its_prompt_row():
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        idx = student_batch(48, 12, 4, gen)
        assert len(idx) == 12 and (idx % 4 == torch.arange(12) % 4).all() and len(set(idx.tolist())) == 12
    assert eval_batch(CalibrationConfig(batch_size=3, period=4)) == 12  # whole periods


def test_a_prompt_batch_calibrates_each_latent_against_its_own_row():
    """Latent i is guided by row i mod 2 (as ComfyUI does): a student that mixed rows up would fit garbage."""
    picked = lambda rows: torch.tensor([[4.0 if k in r else 0.0 for k in range(len(MIX.means))] for r in rows], dtype=torch.float64)
    logits = picked([[0], [5]])

    def D(x, sigma):  # the denoiser of prompt row i mod 2
        rows = logits.repeat(math.ceil(len(x) / 2), 1)[:len(x)]
        return MIX.posterior_mean(x.double(), 1.0, sigma.double(), rows).to(x.dtype)
    config = CalibrationConfig(iterations=30, lr=2e-2, batch_size=8, teacher_steps=64, eval_every=5, period=2)
    table, report = calibrate(D, SIGMAS, starts(32, 1), starts(16, 2), config)
    assert report["holdout_error_best"] < 0.5 * report["holdout_error_init"]


def test_presets_are_ordered_by_work_and_explicit_knobs_win():
    work = lambda p: p["step_iterations"] * p["batch_size"]
    assert work(PRESETS["fast"]) < work(PRESETS["balanced"]) < work(PRESETS["best"])
    cpu = preset_settings("balanced", 8)
    assert cpu["iterations"] == 50 and preset_settings("balanced", 5)["iterations"] == 80  # about the same time at any count
    assert {k: v for k, v in cpu.items() if k != "iterations"} == {k: v for k, v in PRESETS["balanced"].items() if k != "step_iterations"}
    gpu = preset_settings("balanced", 8, gpu=True)
    assert gpu["batch_size"] * gpu["iterations"] == cpu["batch_size"] * cpu["iterations"]
    assert gpu["batch_size"] == 2  # SD1.5 at 512 px: 4.7 GiB with checkpointing (README, GPU calibration cost)
    unguided = preset_settings("balanced", 8, guided=False)  # CFG 1: one model call per step, the time buys iterations
    assert unguided["iterations"] == 75 and {k: v for k, v in unguided.items() if k != "iterations"} == \
        {k: v for k, v in cpu.items() if k != "iterations"}
    assert preset_settings("balanced", 8, guided=False, iterations=9)["iterations"] == 9
    mine = preset_settings("fast", 6, iterations=7, lr=0.0)  # 0 = from the preset
    assert mine["iterations"] == 7 and mine["lr"] == PRESETS["fast"]["lr"]
    with pytest.raises(CalibrationError, match="unknown quality"):
        preset_settings("ultra", 6)


def learned_table(model_type, start=14.6146):
    table = adams_bashforth_table([start, 2.5, 0.3, 0.01, 0.0])
    table.model = {"family": "X", "model_type": model_type}
    table.provenance = {"scheduler": "dyweight"}
    return table


def test_the_dyweight_scheduler_serves_learned_sigmas_only_to_the_same_family_and_prediction_type():
    grid = torch.linspace(0.0292, 14.6146, 1000, dtype=torch.float64)
    sampling = {"kind": "discrete", "sigma_min": 0.0292, "sigma_max": 14.6146, "shift": 1.0, "grid": grid}
    v_table = learned_table("V_PREDICTION")
    sigmas, message = scheduler_sigmas([v_table], dict(sampling, model_type="V_PREDICTION"), 4)
    assert sigmas == v_table.sigmas and "sigmas of table" in message
    sigmas, message = scheduler_sigmas([v_table], dict(sampling, model_type="EPS"), 4)  # an SD1.5 model: not these
    assert sigmas != v_table.sigmas and "no table" in message
    sigmas, message = scheduler_sigmas([v_table], dict(sampling, model_type="V_PREDICTION", family="Y"), 4)  # another family
    assert sigmas != v_table.sigmas and "no table" in message
    sigmas, _ = scheduler_sigmas([learned_table("V_PREDICTION", start=10.0)], dict(sampling, model_type="V_PREDICTION"), 4)
    assert sigmas[0] == pytest.approx(14.6146, rel=1e-4)  # another range is not served


def random_learned_table(rng, steps, start, model, ends_at_zero):
    """A table as Calibrate with learned sigmas saves it: the first sigma kept, the rest anywhere below it
    (the last one too, where the schedule had no final 0: above or below the model's sigma_min)."""
    inner = sorted((start * math.exp(-rng.uniform(0.05, 9.0)) for _ in range(steps - (1 if ends_at_zero else 0))), reverse=True)
    table = adams_bashforth_table([start] + inner + ([0.0] if ends_at_zero else []))
    table.model = dict(model)
    table.provenance = {"scheduler": "dyweight", "learned_sigmas": True, "sigmas_learned_from": rng.choice(["karras", "dyweight"])}
    return table


SAMPLINGS = {  # (the scheduler's view of a model, the identity lookup sees)
    "discrete": ({"kind": "discrete", "sigma_min": 0.0292, "sigma_max": 14.6146, "shift": 1.0, "model_type": "EPS", "family": "SD15",
                  "grid": schedules.ldm_sigmas()}, {"family": "SD15", "model_type": "EPS", "shift": None}),
    "flux": ({"kind": "flux", "sigma_min": 0.0, "sigma_max": 1.0, "shift": 1.15, "model_type": "FLUX", "family": "Flux"},
             {"family": "Flux", "model_type": "FLUX", "shift": 1.15}),
    "flow": ({"kind": "flow", "sigma_min": 0.0, "sigma_max": 1.0, "shift": 3.0, "model_type": "FLOW", "family": "SD3"},
             {"family": "SD3", "model_type": "FLOW", "shift": 3.0}),
    "continuous": ({"kind": "continuous", "sigma_min": 0.002, "sigma_max": 80.0, "shift": 1.0, "model_type": "EDM", "family": "SDXL"},
                   {"family": "SDXL", "model_type": "EDM", "shift": None}),
}


@pytest.mark.parametrize("kind", list(SAMPLINGS))
def test_every_learned_table_runs_on_its_own_sigmas_through_the_dyweight_scheduler(kind):
    """Calibrate (learned sigmas) -> Save Table -> KSampler dyweight + dyweight: whatever the learned schedule, the
    scheduler gives the table's sigmas and lookup then picks the table; other models and schedules never get it."""
    sampling, identity = SAMPLINGS[kind]
    rng = random.Random(kind)
    for _ in range(300):
        steps = rng.randint(2, 10)
        start = scheduler_sigmas([], sampling, steps)[0][0]
        table = random_learned_table(rng, steps, start, identity, ends_at_zero=rng.random() < 0.5)
        sigmas, message = scheduler_sigmas([table], sampling, steps)
        assert sigmas == table.sigmas and "sigmas of table" in message, (table.sigmas, message)
        chosen, message = choose_table([table], identity, sigmas)
        assert chosen is table and message.startswith("[DyWeight] using table"), message
        # the schedule it started from (any other) takes the fallback and names the scheduler that would use the table
        other = scheduler_sigmas([], sampling, steps)[0]
        if not sigmas_match(other, table.sigmas):
            chosen, message = choose_table([table], identity, other)
            assert chosen is None and "scheduler=dyweight would use table" in message, message
        # another step count, family, prediction type or flow shift gets the formula, not this table's sigmas
        for other_sampling, n in ((sampling, steps + 1), (dict(sampling, family="Other"), steps),
                                  (dict(sampling, model_type="V_PREDICTION"), steps), (dict(sampling, shift=sampling["shift"] * 1.5), steps)):
            if other_sampling["shift"] != sampling["shift"] and kind not in ("flux", "flow"):
                continue  # a discrete or EDM model has no shift
            assert scheduler_sigmas([table], other_sampling, n) == scheduler_sigmas([], other_sampling, n)
