"""Distil a DyWeight table for one model and schedule (Zhao et al. 2026, arXiv 2603.11607: the coefficients are
learned by distilling a high-step teacher; docs/how-it-works.md says how this implementation does it).

Data-free: a high-step teacher solves the ODE from a set of start latents once; the DyWeight
student is unrolled from the same latents with gradients reaching its weights and time scales;
Adam fits them. A held-out set selects the best table by the geometric mean of the per-sample errors, so
the result is never worse than the initialisation.
"""
import copy
import dataclasses
import functools
import math
import time
from dataclasses import dataclass

import torch

from .schedules import polynomial_sigmas
from .solver import unroll, unroll_together
from .table import adams_bashforth_table, euler_table, gradient_estimation_table, lms_table


# What DyWeight Calibrate's `quality` sets, chosen by measurements on the trained Photos-32 network (the numbers are in
# benchmarks/results/photos_what_moved.md). Teacher: ipndm, one call per step: at 32 steps it is already many times
# closer to the ODE's endpoint than any few-step student, so more teacher steps buy nothing the student can use.
# `step_iterations` is iterations x steps: an iteration unrolls every step, so a preset takes about the same time at
# any step count. lr 2e-2: with the whole history in the window, larger rates overshoot and smaller ones stop short.
PRESETS = {
    "fast": dict(samples=32, holdout=8, batch_size=8, step_iterations=240, lr=2e-2, teacher="ipndm", teacher_steps=32),
    "balanced": dict(samples=64, holdout=16, batch_size=8, step_iterations=400, lr=2e-2, teacher="ipndm", teacher_steps=32),
    "best": dict(samples=128, holdout=32, batch_size=16, step_iterations=1200, lr=2e-2, teacher="ipndm", teacher_steps=64),
}
DEFAULT_PRESET = "balanced"
# At CFG 1 ComfyUI calls the model once per step, not twice (cond and uncond), so a calibration takes about two thirds
# of the time; the time saved buys iterations, which CFG 1 turns into lower error (photos_what_moved.md).
UNGUIDED_ITERATIONS = 1.5


DEFAULT_STEPS = 6  # DyWeight Calibrate's default step count
BALANCED = PRESETS[DEFAULT_PRESET]


@dataclass
class CalibrationConfig:
    """One calibration's settings. The defaults are DyWeight Calibrate's (the balanced preset at 6 steps, learned
    sigmas), so code that builds a config gets what users get."""
    iterations: int = math.ceil(BALANCED["step_iterations"] / DEFAULT_STEPS)
    lr: float = BALANCED["lr"]
    batch_size: int = BALANCED["batch_size"]
    window: int = 8                 # every earlier derivative up to 8 steps (4 is enough for the lms and ipndm starts)
    init: str = "best"              # a name in STARTS, or "best": whichever of them does best on the held-out noises
    afs: bool = False               # analytical first step: one model call fewer (coefficients/README.md, the update)
    convention: str = "denoiser"    # or "velocity" (flow models, like the FLUX tables)
    learn_t_scale: bool = True
    learn_sigmas: bool = True       # also move the inner step sigmas (the first and the final 0 stay), as LD3/GITS do
    schedule_rhos: tuple = (3.0, 5.0, 7.0, 10.0)  # learned sigmas may start from Karras reshapes of these rho,
    schedule_lifts: tuple = (2.0, 4.0, 8.0)        # then with the last sigma before 0 raised by these factors
    loss: str = "log_rmse"          # a name in LOSSES; "perceptual" needs a decoder
    huber_delta: float = 0.05
    warmup: float = 0.1             # fraction of iterations
    grad_clip: float = 1.0
    eval_every: int = 10
    select: str = "geomean"         # the held-out statistic that picks the table: a name in SELECTIONS
    teacher: str = BALANCED["teacher"]            # "ipndm" (Adams-Bashforth 4), "heun" or "euler"
    teacher_steps: int = BALANCED["teacher_steps"]  # schedule intervals of the teacher solve
    teacher_floor: float = 0.0      # smallest sigma the model knows: the teacher jumps to 0 from there (see teacher_sigmas)
    teacher_rho: float = 7.0        # the teacher's step spacing (Karras rho; 0: even in log sigma)
    checkpoint: bool = False        # recompute each model call in backward (memory for time)
    eval_batch_size: int = 0        # teacher and held-out solves need no gradients: 0 = 4 x batch_size
    period: int = 1                 # conditioning rows: latent i is guided by row i mod period, as in ComfyUI
    seed: int = 0
    switch_sigma: float = 0.0       # a pair of models switches here: the teacher's fine steps land on it (teacher_sigmas)


class CalibrationError(RuntimeError):
    pass


def preset_settings(quality, steps, gpu=False, guided=True, **explicit):
    """The preset's settings for `steps` with every explicit non-zero knob kept. Unguided (CFG 1): 1.5 times the
    iterations, about the same time as guided. On a GPU the student's batch is a quarter (2 for balanced: SD1.5
    at 512 px then peaks at 4.7 GiB, see the README) and the iterations four times as many, so it sees as many
    trajectories within a consumer card's memory."""
    if quality not in PRESETS:
        raise CalibrationError(f"unknown quality {quality!r} ({', '.join(PRESETS)})")
    settings = dict(PRESETS[quality])
    step_iterations = settings.pop("step_iterations") * (1 if guided else UNGUIDED_ITERATIONS)
    settings["iterations"] = math.ceil(step_iterations / max(1, steps))
    if gpu:
        settings.update(batch_size=max(1, settings["batch_size"] // 4), iterations=4 * settings["iterations"])
    settings.update({k: v for k, v in explicit.items() if v})
    return settings


# --- teacher -------------------------------------------------------------------------------------
def teacher_sigmas(sigmas, steps, floor=0.0, rho=7.0, keep=0.0):
    """The teacher's schedule: `steps` intervals of a Karras schedule of `rho` from the student's first sigma to its
    last nonzero one, or, where it ends at 0, down to `floor` and then one jump to 0: floor = the model's smallest
    sigma, where every ComfyUI sampler makes that jump (below it a discrete model knows no timestep), or 0 for a
    model exact at any sigma: then down to 1e-4 of the last nonzero sigma. Karras rather than even in log sigma:
    steps go where a guided trajectory bends, which lands a few times closer to a 200-step solve at the same cost
    (photos_what_moved.md). rho 0: spacing even in log sigma, which the mixture benchmark keeps. `keep` (a pair's
    switch sigma) replaces the fine sigma nearest it, so no teacher step straddles the switch."""
    fine = _teacher_sigmas([float(s) for s in sigmas], steps, floor, rho)
    if keep:
        inner = range(1, len(fine) - 1 - (fine[-1] == 0))
        nearest = min(inner, key=lambda i: abs(math.log(fine[i] / keep)))
        fine[nearest] = float(keep)
    return fine


def _teacher_sigmas(sigmas, steps, floor, rho):
    if rho == 0:
        return _log_even_sigmas(sigmas, steps, floor)
    ends_at_zero = sigmas[-1] == 0
    last = sigmas[-2] if ends_at_zero else sigmas[-1]
    end = min(last, max(floor, last * 1e-4)) if ends_at_zero else last
    fine = polynomial_sigmas(max(2, steps + 1), end, sigmas[0], rho) if end < sigmas[0] else [sigmas[0]]
    fine[0], fine[-1] = sigmas[0], end  # the ends exactly
    return fine + ([0.0] if ends_at_zero else [])


def _log_even_sigmas(sigmas, steps, floor):
    """About `steps` intervals even in log sigma, every student sigma kept."""
    spans = [(a, b if b > 0 else min(a, max(floor, a * 1e-4)), b) for a, b in zip(sigmas[:-1], sigmas[1:])]
    total = sum(math.log(a / lo) for a, lo, _ in spans) or 1.0
    out = [sigmas[0]]
    for a, lo, b in spans:
        if lo < a:
            per = max(1, round(steps * math.log(a / lo) / total))
            out += [a * (lo / a) ** (k / per) for k in range(1, per)] + [lo]  # student sigmas kept exactly
        if b == 0:
            out.append(0.0)
    return out


@torch.no_grad()
def teacher_solve(denoise, x, sigmas, solver="ipndm", steps=64, floor=0.0, rho=7.0, keep=0.0):
    """A high-accuracy solve to the schedule's end: ipndm (Adams-Bashforth 4), Heun (EDM) or Euler."""
    fine = teacher_sigmas(sigmas, steps, floor, rho, keep)
    x = x.to(torch.float32)
    if solver == "ipndm":
        return unroll(denoise, x, fine, adams_bashforth_table(fine))
    if solver not in ("heun", "euler"):
        raise CalibrationError(f"unknown teacher solver {solver!r} (heun, ipndm, euler)")
    ones = lambda s: torch.tensor(s, dtype=torch.float32, device=x.device)
    for a, b in zip(fine[:-1], fine[1:]):
        d = (x - denoise(x, ones(a))) / a
        x_next = x + (b - a) * d
        if solver == "heun" and b > 0:
            d2 = (x_next - denoise(x_next, ones(b))) / b
            x_next = x + (b - a) * (d + d2) / 2
        x = x_next
    return x


# --- losses --------------------------------------------------------------------------------------
LOSSES = ("rmse", "log_rmse", "l2", "huber", "perceptual")


def per_sample_rmse(a, b):
    """Root-mean-square difference per sample, in the higher precision of the two."""
    dtype = torch.promote_types(torch.promote_types(a.dtype, b.dtype), torch.float32)
    return (a.to(dtype) - b.to(dtype)).flatten(1).pow(2).mean(1).sqrt()


def mean_log(errors):
    """The mean of the per-sample errors' logs: what log_rmse trains and, exponentiated, what the held-out picks by."""
    return errors.clamp_min(1e-12).log().mean()


def make_loss(config, decode=None):
    if config.loss == "l2":
        return lambda out, target: (out - target).pow(2).mean()
    if config.loss == "rmse":  # mean of per-sample errors: the few mode-switching trajectories cannot dominate
        return lambda out, target: per_sample_rmse(out, target).mean()
    if config.loss == "log_rmse":  # each sample's relative error counts alike, as for the median a user sees
        return lambda out, target: mean_log(per_sample_rmse(out, target))
    if config.loss == "huber":
        return lambda out, target: torch.nn.functional.huber_loss(out, target, delta=config.huber_delta)
    if config.loss == "perceptual":
        if decode is None:
            raise CalibrationError("the perceptual loss needs a VAE to decode latents")
        import kornia

        def perceptual(out, target):
            a, b = decode(out), decode(target)  # images in [0, 1], (B, C, H, W)
            return kornia.losses.ssim_loss(a, b, window_size=7) + (a - b).abs().mean()
        return perceptual
    raise CalibrationError(f"unknown loss {config.loss!r} ({', '.join(LOSSES)})")


# What picks the start and the iteration on the held-out latents. The geometric mean (what log_rmse trains) rather
# than the median: on 16 latents the median is noisy enough to pick a table worse than its start, which the
# geometric mean does not (photos_what_moved.md, "held-out statistic").
SELECTIONS = {
    "geomean": lambda errors: mean_log(errors).exp().item(),
    "median": lambda errors: errors.median().item(),
}


# --- the student ---------------------------------------------------------------------------------
# Built-in samplers a DyWeight table expresses exactly, to start from. Which is best depends on the model and
# the guidance: on Photos-32 (karras, 6 steps) gradient_estimation is best at CFG 1 and lms at CFG 5.
STARTS = {
    "adams_bashforth": lambda sigmas, window: adams_bashforth_table(sigmas, window=min(4, window)),
    "lms": lambda sigmas, window: lms_table(sigmas, window=min(4, window)),
    "gradient_estimation": lambda sigmas, window: gradient_estimation_table(sigmas),
    "euler": lambda sigmas, window: euler_table(sigmas),
}


def karras_between(sigmas, rho, lift=1.0):
    """A Karras schedule of `rho` with the steps and first sigma of `sigmas`, ending at its last nonzero sigma
    times `lift` (then 0, if it ends there), or None where that end would not stay well below the first."""
    ends_at_zero = sigmas[-1] == 0
    nonzero = sigmas[:-1] if ends_at_zero else sigmas
    end = nonzero[-1] * lift
    if len(nonzero) < 3 or not end < nonzero[0] / 8 or (lift != 1 and not ends_at_zero):
        return None  # too few steps to reshape, or an endpoint (no final 0) that the teacher's target pins
    reshaped = polynomial_sigmas(len(nonzero), end, nonzero[0], rho)
    reshaped[0], reshaped[-1] = nonzero[0], end  # the ends exactly
    return reshaped + ([0.0] if ends_at_zero else [])


def initial_table(sigmas, config, init):
    if init not in STARTS:
        raise CalibrationError(f"unknown init {init!r} ({', '.join(STARTS)}, best)")
    table = STARTS[init](sigmas, config.window)
    n = table.steps
    weights = torch.tensor(table.weights, dtype=torch.float64)
    band = torch.zeros(n, n, dtype=torch.float64)
    for i in range(n):
        band[i, max(0, i - config.window + 1):i + 1] = 1
    t_scale = table.t_scale[1:] if config.afs else table.t_scale  # no model call, so no time scale, at step 0
    return table.replace(window=config.window, convention=config.convention, afs=config.afs, t_scale=t_scale, name=""), \
        weights * band, band


def table_from(base, weights, t_scale, sigmas):
    return base.replace(weights=weights.detach().tolist(), t_scale=t_scale.detach().tolist(),
                        sigmas=[float(x) for x in sigmas.detach()])


class LearnedSigmas:
    """The schedule as log-gaps: sigma_i = sigma_0 * exp(-sum_{j<=i} exp(u_j)) stays positive and decreasing
    whatever Adam does to u; sigma_0 and a final 0 are kept as they are."""

    def __init__(self, sigmas, learn):
        self.fixed = None if learn else torch.tensor(sigmas, dtype=torch.float64)  # exactly as given
        self.start = torch.tensor(sigmas[0], dtype=torch.float64)
        self.ends_at_zero = sigmas[-1] == 0
        inner = torch.tensor(sigmas[:-1] if self.ends_at_zero else sigmas, dtype=torch.float64)
        self.u = torch.log(-torch.diff(torch.log(inner))).requires_grad_(learn)

    def __call__(self):
        if self.fixed is not None:
            return self.fixed
        inner = self.start * torch.exp(-torch.cat([self.u.new_zeros(1), torch.cumsum(torch.exp(self.u), 0)]))
        return torch.cat([inner, inner.new_zeros(1)]) if self.ends_at_zero else inner


def solve_each(denoise, table, x, batch_size):
    """The table's solves from every latent of x, in batches, without gradients."""
    with torch.no_grad():
        return torch.cat([unroll(denoise, xb, table.sigmas, table) for xb in x.split(batch_size)])


def holdout_errors(denoise, table, x, target, batch_size):
    return per_sample_rmse(solve_each(denoise, table, x, batch_size), target)


def eval_batch(config):
    """Batch of the gradient-free solves (teacher, held-out, test): a whole number of conditioning periods."""
    size = config.eval_batch_size or 4 * config.batch_size
    return -(-size // config.period) * config.period


def student_batch(count, batch_size, period, gen):
    """Random training latents whose positions keep their conditioning row: whole blocks of `period`
    (ComfyUI guides latent i of a batch with row i mod period, and so did the teacher)."""
    blocks = torch.randperm(count // period, generator=gen)[:max(1, batch_size // period)]
    return (blocks[:, None] * period + torch.arange(period)).flatten()


def lr_at(step, config):
    """Linear warm-up, then cosine decay to zero."""
    warm = max(1, int(config.warmup * config.iterations))
    if step < warm:
        return config.lr * (step + 1) / warm
    t = (step - warm) / max(1, config.iterations - warm)
    return config.lr * 0.5 * (1 + math.cos(math.pi * t))


def teacher_key(config, sigmas, sets):
    """What a teacher_cache entry (the train, held-out and test endpoints) is filed under: the teacher's settings, the
    schedule's ends and the sets' shapes (the cache itself is per model, conditioning and noises)."""
    return (config.teacher, config.teacher_steps, config.teacher_floor, config.teacher_rho, config.switch_sigma, float(sigmas[0]),
            float(sigmas[-1])) + tuple(tuple(x.shape) for x in sets)


def teacher_endpoints(denoise, sigmas, sets, config, progress=None, teacher_cache=None, seconds=None, keep_at_least=1):
    """Phase 1: the teacher's endpoints of each set of start latents (train, held-out, test), computed once (cached
    across calls when given a cache, on the CPU, so a cached setup keeps no accelerator memory).

    With `seconds` (a time budget's share), the held-out and test sets are solved first and the training set only as
    far as the time allows, at least `keep_at_least` of it. Returns (endpoints, cached); the training endpoints may be
    fewer than its latents, the first ones."""
    key = teacher_key(config, sigmas, sets)
    if teacher_cache is not None and key in teacher_cache:
        return [t.to(sets[0].device) for t in teacher_cache[key]], True
    solve = lambda xb: teacher_solve(denoise, xb, sigmas, config.teacher, config.teacher_steps, config.teacher_floor, config.teacher_rho,
                                    config.switch_sigma)
    size = eval_batch(config)
    if seconds is None:
        batches = list(torch.cat(sets).split(size))
        ends = []
        for k, xb in enumerate(batches):
            ends.append(solve(xb))
            if progress is not None:
                progress({"phase": "teacher", "done": k + 1, "total": len(batches)})
        endpoints = list(torch.cat(ends).split([len(x) for x in sets]))
    else:
        started, train = time.time(), sets[0]
        batches = list(torch.cat(sets[1:]).split(size)) + list(train.split(size))
        first_train, ends = len(batches) - len(train.split(size)), []
        for k, xb in enumerate(batches):
            solved_train = sum(len(e) for e in ends[first_train:])
            per_batch = (time.time() - started) / max(k, 1)
            if k >= first_train and solved_train >= keep_at_least and time.time() - started + per_batch > seconds:
                break
            ends.append(solve(xb))
            if progress is not None:
                progress({"phase": "teacher", "done": k + 1, "total": len(batches)})
        held = torch.cat(ends[:first_train]).split([len(x) for x in sets[1:]])
        endpoints = [torch.cat(ends[first_train:])] + list(held)
        if len(endpoints[0]) < len(train):
            return endpoints, False  # cut by the budget: not what another calibration of this setup would solve
    if teacher_cache is not None:
        teacher_cache[key] = tuple(t.cpu() for t in endpoints)
    return endpoints, False


@dataclass
class Start:
    """A candidate to start the fit from: a built-in sampler as a table on some schedule, and its held-out error."""
    error: float
    label: str
    sigmas: list
    base: object       # the CoefficientTable the fit varies
    weights: object    # its weights, band-masked
    band: object       # the history window's mask
    table: object      # the start as a table, to keep if nothing beats it


def choose_start(sigmas, config, holdout_error, progress=None):
    """Phase 2: the bar to beat. "best": the best of the built-in starts on the given schedule; with learned sigmas
    also that start on Karras reshapes of it by rho, then the best of those with its last sigma before 0 raised,
    which gradient steps would not reach: a reshaped schedule can err a third less than the given one before any
    fitting (photos_what_moved.md). Returns (the best start, {label: held-out error})."""
    planned = (len(STARTS) if config.init == "best" else 1) + (len(config.schedule_rhos) + len(config.schedule_lifts)) * config.learn_sigmas
    tried = []

    def start(init, start_sigmas, label):
        base, weights, band = initial_table(start_sigmas, config, init)
        table = table_from(base, weights, torch.tensor(base.t_scale, dtype=torch.float64), torch.tensor(start_sigmas, dtype=torch.float64))
        candidate = Start(holdout_error(table), label, start_sigmas, base, weights, band, table)
        if progress is not None:
            progress({"phase": "choosing", "done": len(tried) + 1, "total": max(planned, len(tried) + 1), "steps": len(sigmas) - 1})
        tried.append(candidate)
        return candidate

    for init in (STARTS if config.init == "best" else [config.init]):
        start(init, sigmas, init)
    init = min(tried, key=lambda t: t.error).label
    if config.learn_sigmas:
        by_rho = {rho: start(init, shape, f"{init} @ rho {rho:g}") for rho in config.schedule_rhos
                  if (shape := karras_between(sigmas, rho)) is not None}
        if by_rho:
            rho = min(by_rho, key=lambda r: by_rho[r].error)
            for lift in config.schedule_lifts:
                if (shape := karras_between(sigmas, rho, lift)) is not None:
                    start(init, shape, f"{init} @ rho {rho:g}, end x{lift:g}")
    return min(tried, key=lambda t: t.error), {t.label: t.error for t in tried}


class Student:
    """One step count's fit: its parameters (W, s and the learned sigmas), Adam, its batches, the best table seen."""

    def __init__(self, start, config, holdout_error):
        self.start, self.config, self.holdout_error = start, config, holdout_error
        self.gen = torch.Generator().manual_seed(config.seed)
        self.schedule = LearnedSigmas(start.sigmas, config.learn_sigmas)
        self.best = {"table": start.table, "error": start.error, "iteration": 0}
        self.W = start.weights.clone().requires_grad_(True)
        self.s = torch.tensor(start.base.t_scale, dtype=torch.float64, requires_grad=config.learn_t_scale)
        self.params = [self.W] + ([self.s] if config.learn_t_scale else []) + ([self.schedule.u] if config.learn_sigmas else [])
        self.opt = torch.optim.Adam(self.params, lr=config.lr)
        self.history, self.stopped = [], None

    def runs_at(self, it):
        return self.stopped is None and it < self.config.iterations

    def table(self):
        return self.start.base.replace(weights=self.W * self.start.band, t_scale=self.s)

    def batch(self, it, count):
        for group in self.opt.param_groups:
            group["lr"] = lr_at(it, self.config)
        return student_batch(count, self.config.batch_size, self.config.period, self.gen)

    def step(self, it, loss, started):
        """Adam's step after backward, band-masked; the held-out check every eval_every iterations."""
        grads_finite = all(p.grad is None or torch.isfinite(p.grad).all() for p in self.params)
        if not math.isfinite(loss.item()) or not grads_finite:
            self.stopped = f"stopped at iteration {it + 1}: non-finite loss or gradient (diverged); kept the best table seen"
            return
        torch.nn.utils.clip_grad_norm_(self.params, self.config.grad_clip)
        self.opt.step()
        with torch.no_grad():
            self.W.mul_(self.start.band)
            self.s.clamp_(0.5, 1.5)
        entry = {"iteration": it + 1, "loss": loss.item(), "seconds": time.time() - started}
        if (it + 1) % self.config.eval_every == 0 or it + 1 == self.config.iterations:
            candidate = table_from(self.start.base, self.W, self.s, self.schedule())
            entry["holdout_error"] = error = self.holdout_error(candidate)
            if error < self.best["error"]:
                self.best = {"table": candidate, "error": error, "iteration": it + 1}
        self.history.append(entry)


BUDGET_PROBE = 3  # iterations timed before a budget sets how many fit
EXAMPLES = 4      # test noises whose endpoints the report keeps, to show


def fit(denoise, students, train_x, targets, loss_fn, progress=None, started=0.0, deadline=None, reserve=0.0):
    """Phase 3: Adam on every student at once (`targets`: each one's teacher endpoints of train_x): one unrolled solve
    per student and iteration, their model calls shared (unroll_together), so several step counts cost little more
    than the longest. With a `deadline`, the first iterations are timed and the students' iteration counts (their
    learning-rate schedules with them) are fitted to the time left before it, less `reserve` for the test phase,
    keeping their ratio; the fit is re-checked against the deadline at every held-out check."""
    if deadline is not None:  # provisional counts until the first iterations are timed
        for st in students:
            st.config = dataclasses.replace(st.config, iterations=max(st.config.iterations, BUDGET_PROBE))
    checkpoint = students[0].config.checkpoint
    ckpt = (lambda fn, *a: torch.utils.checkpoint.checkpoint(fn, *a, use_reentrant=False)) if checkpoint else None
    it, probe_started = 0, time.time()
    while True:
        running = [st for st in students if st.runs_at(it)]
        if not running:
            break
        batches = [st.batch(it, len(train_x)) for st in running]
        with torch.enable_grad():
            outs = unroll_together(denoise, [train_x[idx] for idx in batches], [st.schedule() for st in running],
                                   [st.table() for st in running], checkpoint=ckpt)
            targets_now = [t for st, t in zip(students, targets) if st in running]
            losses = [loss_fn(out, t[idx].to(out.dtype)) for out, t, idx in zip(outs, targets_now, batches)]
            for st in running:
                st.opt.zero_grad(set_to_none=True)
            (losses[0] if len(losses) == 1 else torch.stack(losses).sum()).backward()
        for st, loss in zip(running, losses):
            st.step(it, loss, started)
        it += 1
        # The pace is re-measured at every held-out check: it then counts the checks' own solves, and a machine that
        # slows down (another job, thermal limits) shortens the fit instead of overrunning the budget.
        if deadline is not None and (it == BUDGET_PROBE or it % students[0].config.eval_every == 0):
            fit_to_deadline(students, it, (time.time() - probe_started) / it, deadline - reserve)
        if progress is not None:
            longest = max(st.config.iterations for st in students)
            progress({"phase": "student", "iteration": it, "total": longest, "loss": sum(l.item() for l in losses) / len(losses),
                      "best_holdout": min(st.best["error"] for st in running)})


def fit_to_deadline(students, done, seconds_per_iteration, deadline):
    """Rescale the students' iteration counts to what fits before `deadline` at the measured pace (the longest
    student sets the pace; the others keep their share), never below what already ran."""
    longest = max(st.config.iterations for st in students)
    fits = done + max(0, int((deadline - time.time()) / max(seconds_per_iteration, 1e-9)))
    for st in students:
        st.config = dataclasses.replace(st.config, iterations=max(done, round(fits * st.config.iterations / longest)))


def calibrate(denoise, sigmas, train_x, holdout_x, config=None, decode=None, progress=None,
              teacher_cache=None, test_x=None):
    """Fit a table to `denoise` on `sigmas` from start latents train_x; select on holdout_x; report the
    calibrated table, the fallback and Euler on test_x (latents that played no part in the choice;
    holdout_x when not given).

    progress(dict) is called after every teacher batch, start tried and iteration (and may raise to cancel).
    teacher_cache: a dict reused across calls (same model, noises and schedule end) to skip the teacher.
    Returns (table, report dict).
    """
    return calibrate_together(denoise, [(sigmas, config or CalibrationConfig())], train_x, holdout_x, decode, progress,
                              teacher_cache, test_x)[0]


def calibrate_together(denoise, runs, train_x, holdout_x, decode=None, progress=None, teacher_cache=None, test_x=None,
                       budget_seconds=0.0, student_denoise=None):
    """calibrate() for several step counts at once: `runs` is [(sigmas, config)], one per count, all from the same
    start latents. The teacher is solved once where the schedules share their ends (every stock scheduler's do),
    and the fits share their model calls. With `budget_seconds`, the whole run is bounded: the teacher takes at most
    a third of it (training noises beyond that are dropped), the iterations are fitted to the rest.
    `student_denoise` (default `denoise`) is what every few-step solve calls: a pair of models switches at a sigma in
    the teacher's fine steps and at a step in the student's (split_runs.switching_denoise, SwitchAtStep).
    Returns [(table, report dict)], in the order of `runs`."""
    teacher_denoise, denoise = denoise, student_denoise or denoise
    for _, config in runs:
        if config.select not in SELECTIONS:
            raise CalibrationError(f"unknown select {config.select!r} ({', '.join(SELECTIONS)})")
    started = time.time()
    deadline = started + budget_seconds if budget_seconds else None
    runs = [([float(s) for s in sigmas], config) for sigmas, config in runs]
    loss_fn = make_loss(runs[0][1], decode)
    test_x = holdout_x if test_x is None else test_x
    cache = {} if teacher_cache is None else teacher_cache

    if len({sigmas[0] for sigmas, _ in runs}) > 1:
        raise CalibrationError("several step counts are calibrated together from the same start latents, so their "
                               "schedules must start at the same sigma (denoise 1)")

    # Phase 1: teacher endpoints, solved once for the counts whose schedules share their ends.
    ends, teacher_seconds, solved_here = [], [], {}
    for sigmas, config in runs:
        before, key = time.time(), teacher_key(config, sigmas, [train_x, holdout_x, test_x])
        if key in solved_here:
            ends.append((solved_here[key], "this run"))
            continue
        share = (deadline - before) / 3 if deadline else None
        keep = max(c.batch_size for _, c in runs)
        endpoints, cached = teacher_endpoints(teacher_denoise, sigmas, [train_x, holdout_x, test_x], config, progress, cache, share, keep)
        ends.append((endpoints, "earlier" if cached else "solved"))
        solved_here[key] = endpoints
        teacher_seconds.append(time.time() - before)
    solved = min(len(e[0][0]) for e in ends)  # a budget may have cut the training noises
    train_x = train_x[:solved]

    # Phase 2: each count's start, the bar to beat.
    starts_began = time.time()
    students, start_errors, eval_seconds = [], [], []
    for (sigmas, config), ((train_t, hold_t, test_t), _) in zip(runs, ends):
        holdout_error = functools.partial(held_out_statistic, denoise, holdout_x, hold_t, config)
        before = time.time()
        start, errors = choose_start(sigmas, config, holdout_error, progress)
        eval_seconds.append((time.time() - before) / max(len(errors), 1))
        students.append(Student(start, config, holdout_error))
        start_errors.append(errors)

    # Phase 3: the fits, together, keeping each count's best table on the held-out latents.
    start_seconds = time.time() - starts_began
    reserve = 3 * sum(eval_seconds) * len(test_x) / max(len(holdout_x), 1)  # phase 4's three solves per count
    fit_started = time.time()
    fit(denoise, students, train_x, [e[0][0][:solved] for e in ends], loss_fn, progress, started, deadline, reserve)
    fit_seconds = time.time() - fit_started

    # Phase 4: what a user compares, on test latents that played no part in choosing the table.
    results = []
    for (sigmas, config), ((_, _, test_t), teacher), st, errors in zip(runs, ends, students, start_errors):
        compared = {"calibrated": st.best["table"], "fallback": adams_bashforth_table(sigmas), "euler": euler_table(sigmas)}
        ends_of = {name: solve_each(denoise, t, test_x, eval_batch(config)) for name, t in compared.items()}
        per_noise = {name: per_sample_rmse(e, test_t) for name, e in ends_of.items()}
        test = {name: e.median().item() for name, e in per_noise.items()}
        shown = ("calibrated", "fallback")  # a few test noises' endpoints, for DyWeight Calibrate's report picture
        examples = {"teacher": test_t[:EXAMPLES].cpu(), **{name: ends_of[name][:EXAMPLES].cpu() for name in shown},
                    "errors": {name: per_noise[name][:EXAMPLES].tolist() for name in shown}}
        builtin_starts = {k: v for k, v in errors.items() if k in STARTS}  # the built-ins on the given schedule
        report = {
            "test_median_calibrated": test["calibrated"], "test_median_fallback": test["fallback"], "test_median_euler": test["euler"],
            "init": st.start.label, "holdout_error_starts": errors, "holdout_error_init": st.start.error,
            "holdout_error_best": st.best["error"], "best_iteration": st.best["iteration"], "iterations_run": len(st.history),
            "history": st.history, "teacher_seconds": sum(teacher_seconds), "teacher_cached": teacher == "earlier",
            "teacher": teacher, "start_seconds": start_seconds, "fit_seconds": fit_seconds, "counts": len(runs),
            "seconds": time.time() - started, "stopped": st.stopped, "budget_seconds": budget_seconds,
            "train_samples": len(train_x), "holdout_samples": len(holdout_x), "test_samples": len(test_x),
            "examples": examples, "best_builtin_start": min(builtin_starts, key=builtin_starts.get),
        }
        table = copy.deepcopy(st.best["table"])
        table.provenance = {
            "source": "DyWeight Calibrate", "teacher": f"{config.teacher} {config.teacher_steps} steps", "learned_sigmas": config.learn_sigmas,
            "loss": config.loss, "init": st.start.label, "iterations": len(st.history), "samples": len(train_x),
            "holdout_selected_by": config.select, "holdout_error_init": st.start.error, "holdout_error_after": st.best["error"],
            "test_median_after": test["calibrated"], "test_median_fallback": test["fallback"], "test_median_euler": test["euler"],
        }
        results.append((table, report))
    return results


def held_out_statistic(denoise, holdout_x, hold_t, config, table):
    """What picks starts and iterations: the configured statistic of the table's held-out errors."""
    return SELECTIONS[config.select](holdout_errors(denoise, table, holdout_x, hold_t, eval_batch(config)))
