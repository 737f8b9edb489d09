"""The DyWeight multistep update (Zhao et al. 2026, arXiv 2603.11607; written out in coefficients/README.md) with the
k-diffusion signature.

One loop serves sampling (no grad, in-place, fast) and calibration (autograd reaches the
weights and the time scales). Coefficient arithmetic (tau, step sizes) runs in float64 on
the CPU; latent arithmetic accumulates in float32 (float64 if x is) whatever the model's dtype.
"""
from collections import deque
from dataclasses import dataclass

import torch
from tqdm.auto import trange

from .table import TableError, adams_bashforth_table



class NonFiniteError(RuntimeError):
    """Sampling produced NaN/inf: the table does not fit this model or schedule."""


def step_plan(table, sigmas):
    """Per-step float64 CPU scalars: model-call time, derivative divisor and history coefficients.

    Differentiable in table.weights / table.t_scale (and sigmas) when they require grad.
    """
    sigmas = torch.as_tensor(sigmas, dtype=torch.float64).cpu()  # not detached: calibration may learn them
    n = len(sigmas) - 1
    if n != table.steps:
        raise TableError(f"table '{table.label}' is for {table.steps} steps, the schedule has {n}")
    weights = torch.as_tensor(table.weights, dtype=torch.float64)
    t_scale = torch.as_tensor(table.t_scale, dtype=torch.float64)
    tau = sigmas[0]
    plan = []
    for i in range(n):
        # Phase 1: where to call the model (implicit time calibration, times the learned scale).
        if table.afs and i == 0:
            scale = None
        else:
            scale = t_scale[i - 1] if table.afs else t_scale[i]
        eval_sigma = None if scale is None else scale * tau
        divisor = eval_sigma if table.convention == "velocity" and scale is not None else tau
        # Phase 2: history weights times the step from the calibrated time to the next sigma.
        lo = max(0, i - table.window + 1)
        row = weights[i, lo:i + 1]
        step = sigmas[i + 1] - tau
        plan.append({"tau": tau, "eval_sigma": eval_sigma, "divisor": divisor, "coeffs": step * row})
        # Phase 3: the row sum is the effective step multiplier along the trajectory.
        tau = tau + row.sum() * step
    return plan


def check_positive_times(plan, table):
    """Row sums above 1 move tau past the next sigma; on a schedule the table was not made for that can
    reach sigma <= 0, where a model call gives garbage or NaN. Refuse before calling the model."""
    for i, p in enumerate(plan):
        times = [("tau", p["tau"])] + ([("model call sigma", p["eval_sigma"])] if p["eval_sigma"] is not None else [])
        for what, value in times:
            if not float(value) > 0:
                raise TableError(f"table '{table.label}' on this schedule reaches {what} {float(value):.4g} <= 0 at step {i} "
                                 f"(its row sums overshoot these sigmas); sample it on its own sigmas (scheduler dyweight "
                                 f"or DyWeight Scheduler) or calibrate a table for this schedule")
    return plan


def model_at(denoise, i):
    """The denoiser step i calls: `denoise`, or for a pair of models (split_runs.SwitchAtStep) the one whose half of the
    split run step i is in."""
    return denoise.at_step(i) if hasattr(denoise, "at_step") else denoise


def unroll(denoise, x, sigmas, table, callback=None, disable=None, checkpoint=None, plan=None, start=0, stop=None,
           history=None):
    """Run the DyWeight solve of `table` from x at sigmas[0]; `denoise(x, sigma_tensor)` -> D(x, sigma).

    Under grad the result is differentiable in table.weights / table.t_scale and x.
    `checkpoint(fn, *args)` (e.g. torch.utils.checkpoint) may wrap each model call.
    Steps `start` to `stop` only (a part of a split run): x is then the solve at step `start`, and `history` (a deque,
    updated in place) holds the derivatives of the steps before it.
    """
    plan = step_plan(table, sigmas) if plan is None else plan
    stop = len(plan) if stop is None else stop
    out_dtype = x.dtype
    acc = torch.promote_types(x.dtype, torch.float32)  # never accumulate in fp16/bf16
    largest = torch.finfo(acc).max  # in-place steps take the coefficient as a scalar of this dtype
    x = x.to(acc)
    differentiable = torch.is_grad_enabled()
    if not differentiable:
        x = x.clone()  # updated in place below
    history = deque(maxlen=table.window) if history is None else history
    for i in trange(start, stop, disable=disable):
        p = plan[i]
        tau = p["tau"].to(x.device, acc)
        # Phase 1: the derivative, analytical (AFS) or from one model call.
        if p["eval_sigma"] is None:
            d = x / torch.sqrt(1 + tau * tau)  # unit-variance Gaussian data model
            denoised = x - tau * d
        else:
            sigma = p["eval_sigma"].to(x.device, acc)
            model = model_at(denoise, i)
            call = model if checkpoint is None else (lambda xx, ss: checkpoint(model, xx, ss))
            denoised = call(x, sigma).to(acc)
            d = (x - denoised) / p["divisor"].to(x.device, acc)
        history.append(d)
        if callback is not None:
            callback({"x": x, "i": i - start, "sigma": p["tau"], "sigma_hat": p["eval_sigma"] if p["eval_sigma"] is not None else p["tau"], "denoised": denoised})
        # Phase 2: the weighted history step, x += sum_j (h * W[i, j]) d_j.
        coeffs = p["coeffs"]
        derivs = list(history)[-len(coeffs):]
        if differentiable:
            x = history_step(x, coeffs, derivs)
        else:
            for c, dj in zip(coeffs.tolist(), derivs):
                if abs(c) > largest or c != c:
                    raise NonFiniteError(f"DyWeight table '{table.label}' gives step {i} a coefficient of {c:.3g}, "
                                         f"beyond {acc}; use another table or sampler")
                if c != 0.0:
                    x.add_(dj, alpha=c)
        if len(history) == table.window:
            history.popleft()  # the oldest derivative is dead: don't hold it through the next model call
        del d, denoised, derivs
    return x.to(out_dtype)


def history_step(x, coeffs, derivs):
    """x + sum_j c_j d_j out of place: the weighted history step in the form autograd differentiates."""
    for c, dj in zip(coeffs, derivs):
        x = x + c.to(x.device, x.dtype) * dj
    return x


def unroll_together(denoise, xs, sigmas_list, tables, checkpoint=None):
    """Differentiable solves of several tables (step counts) from their own latents, with one model call per step
    index for every solve still running: calibrating three counts calls the model as often as the longest count
    alone, each call on the solves' latents together (a call at three times the batch costs far less than three
    calls). `denoise(x, sigma)` then gets a per-sample sigma. Each solve's numbers are unroll()'s; one solve is
    unroll() exactly."""
    plans = [step_plan(t, s) for t, s in zip(tables, sigmas_list)]
    dtypes = [x.dtype for x in xs]
    acc = torch.promote_types(xs[0].dtype, torch.float32)
    xs = [x.to(acc) for x in xs]
    histories = [deque(maxlen=t.window) for t in tables]
    for i in range(max(len(p) for p in plans)):
        model = model_at(denoise, i)
        call = model if checkpoint is None else (lambda xx, ss: checkpoint(model, xx, ss))
        running = [k for k, p in enumerate(plans) if i < len(p)]
        # Phase 1: one model call for every solve that calls the model at this step (AFS steps need none).
        calling = [k for k in running if plans[k][i]["eval_sigma"] is not None]
        denoised = {}
        if len(calling) == 1:
            k = calling[0]
            denoised[k] = call(xs[k], plans[k][i]["eval_sigma"].to(xs[k].device, acc)).to(acc)
        elif calling:
            sigma = torch.cat([plans[k][i]["eval_sigma"].to(xs[k].device, acc).expand(len(xs[k])) for k in calling])
            out = call(torch.cat([xs[k] for k in calling]), sigma).to(acc)
            denoised = dict(zip(calling, out.split([len(xs[k]) for k in calling])))
        # Phase 2: each solve's derivative and weighted history step.
        for k in running:
            p, x = plans[k][i], xs[k]
            if k in denoised:
                d = (x - denoised[k]) / p["divisor"].to(x.device, acc)
            else:
                tau = p["tau"].to(x.device, acc)
                d = x / torch.sqrt(1 + tau * tau)  # unit-variance Gaussian data model (AFS)
            histories[k].append(d)
            xs[k] = history_step(x, p["coeffs"], list(histories[k])[-len(p["coeffs"]):])
            if len(histories[k]) == tables[k].window:
                histories[k].popleft()
    return [x.to(dtype) for x, dtype in zip(xs, dtypes)]


@dataclass
class Part:
    """A run that is one part of the table's schedule (KSamplerAdvanced's start/end steps): the whole schedule, the
    index of the part's first step in it, and the derivatives of the steps before (a deque; None: none carried)."""
    sigmas: list
    start: int
    history: deque = None


@torch.no_grad()
def sample_with_table(model, x, sigmas, extra_args=None, callback=None, disable=None, table=None, part=None):
    """DyWeight with a given table (Adams-Bashforth = ipndm without one): learned multistep ODE solver (Zhao et al. 2026).
    With `part`, `sigmas` are steps part.start on of the table's schedule part.sigmas; part.history is left holding
    the derivatives a following part continues from."""
    extra_args = {} if extra_args is None else extra_args
    table = adams_bashforth_table(sigmas) if table is None else table
    part = Part([float(s) for s in sigmas], 0) if part is None else part
    if part.history is None:
        part.history = deque(maxlen=table.window)
    s_in = x.new_ones([x.shape[0]])
    plan = check_positive_times(step_plan(table, part.sigmas), table)
    x = unroll(lambda xx, sigma: model(xx, sigma * s_in, **extra_args), x, part.sigmas, table, callback=callback,
               disable=disable, plan=plan, start=part.start, stop=part.start + len(sigmas) - 1, history=part.history)
    if not torch.isfinite(x).all():
        raise NonFiniteError(f"DyWeight table '{table.label}' produced non-finite values "
                             f"(NaN/inf) on this model and schedule; use another table or sampler")
    return x
