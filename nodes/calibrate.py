"""DyWeight Calibrate: distil a table for the user's model, prompt and schedule inside the graph."""
import dataclasses
import datetime
import logging
import math
import time

import torch

import comfy.model_management
import comfy.model_sampling
import comfy.sample
import comfy.samplers
import comfy.utils
from .api import io

from ..dyweight_core.calibrate import (DEFAULT_PRESET, LOSSES, PRESETS, CalibrationConfig, CalibrationError, calibrate_together,
                                       preset_settings)
from ..dyweight_core import report_picture
from ..dyweight_core.lookup import SCHEDULER
from ..dyweight_core.split_runs import SwitchAtStep, switch_boundary, switching_denoise
from ..dyweight_core.table import TableSet
from .differentiable import (calibration_patcher, clone_conditioning, make_weights_differentiable, updates_activations_in_place,
                             vae_decoder, weight_pointers, with_saved_copies)
from .model_info import model_identity
from .table_folders import TABLE
from .teacher_cache import content_hash, teacher_cache


class CalibrationSampler(comfy.samplers.Sampler):
    """Runs calibration where a sampler would run, so ComfyUI loads the model and applies CFG,
    conditioning and patches exactly as in sampling."""

    def __init__(self, run, checkpoint=False):
        self.run = run
        self.checkpoint = checkpoint
        self.result = None

    def sample(self, model_wrap, sigmas, extra_args, callback, noise, latent_image=None, denoise_mask=None, disable_pbar=False):
        make_weights_differentiable(model_wrap.inner_model)
        denoise = lambda x, s: model_wrap(x, s * x.new_ones([x.shape[0]]), **extra_args)
        # sigmas come from ComfyUI's inference mode; checkpointing saves its inputs, so give it an ordinary copy
        if updates_activations_in_place(denoise, torch.randn_like(noise), sigmas[0].clone(), self.checkpoint):
            logging.info("[DyWeight] this model updates activations in place: calibrating with copies of its activations (more memory)")
            denoise = with_saved_copies(denoise, weight_pointers(model_wrap.inner_model))
        self.result = self.run(denoise, noise.device, self.max_denoise(model_wrap, sigmas))
        return latent_image


def start_latents(sampling, sigmas, latent, count, seed, device, max_denoise):
    """x at sigmas[0] for `count` seeded noises, as ComfyUI's KSAMPLER builds it."""
    noise = torch.randn((count,) + tuple(latent.shape[1:]), generator=torch.Generator().manual_seed(seed))
    base = latent[:1].expand_as(noise)
    return sampling.noise_scaling(sigmas[0], noise, base, max_denoise).to(device)


PHASES = {"teacher": "teacher solve", "choosing": "choosing the start", "student": "fitting"}


def progress_reporter():
    """The node's bar runs over each phase in turn (the teacher's batches, the starts tried, the iterations); the console
    names the phase with an estimate of the time it has left, so a long GPU run is never a silent bar."""
    pbar, began = comfy.utils.ProgressBar(1), {}

    def report(p):
        comfy.model_management.throw_exception_if_processing_interrupted()  # Cancel stops here
        phase, done, total = p["phase"], p.get("done", p.get("iteration")), p["total"]
        began.setdefault((phase, p.get("steps")), (time.time(), done - 1))
        pbar.update_absolute(done, total)
        start, first = began[phase, p.get("steps")]
        left = (time.time() - start) / max(done - first, 1) * (total - done)
        if phase != "student" or done % 25 == 0 or done == total:
            extra = f", loss {p['loss']:.4g}, best held-out {p['best_holdout']:.4g}" if phase == "student" else ""
            count = f" for {p['steps']} steps" if p.get("steps") else ""
            logging.info(f"[DyWeight] calibrate: {PHASES[phase]}{count} {done}/{total}{extra}, about {left:.0f} s left")
    return report


def conditioning_period(*conditionings):
    """ComfyUI guides latent i of a batch with row i mod n of a conditioning of n rows (a batch of prompts):
    the number of rows after which the pairing of latents and rows repeats."""
    period = 1
    for cond in conditionings:
        for c in cond:
            period = math.lcm(period, int(c[0].shape[0]))
    return period


def teacher_floor(model):
    """Where the teacher jumps to 0, as every ComfyUI sampler does: the model's smallest sigma (a discrete model
    has no timestep below it), unless its diffusion model says it is exact at any sigma (the demo mixture)."""
    if getattr(model.model.diffusion_model, "exact_at_any_sigma", False):
        return 0.0
    return float(model.get_model_object("model_sampling").sigma_min)


def calibration_settings(model, steps, cfg, quality=DEFAULT_PRESET, samples=0, holdout=0, batch_size=0, iterations=0,
                         learning_rate=0.0, teacher_steps=0, window=CalibrationConfig.window, loss=CalibrationConfig.loss,
                         checkpointing="auto", seed=0, afs=False, learn_sigmas=True, **core):
    """DyWeight Calibrate's inputs as (CalibrationConfig, training noises, held-out noises): the preset fills every
    knob left at 0; `core` sets CalibrationConfig fields the node does not show (benchmarks)."""
    flow = isinstance(model.get_model_object("model_sampling"), comfy.model_sampling.CONST)
    gpu = model.load_device.type != "cpu"
    knobs = preset_settings(quality, steps, gpu, guided=not math.isclose(cfg, 1.0), samples=samples, holdout=holdout,
                            batch_size=batch_size, iterations=iterations, lr=learning_rate, teacher_steps=teacher_steps)
    config = CalibrationConfig(iterations=knobs["iterations"], lr=knobs["lr"], batch_size=knobs["batch_size"],
                               window=min(window, steps), convention="velocity" if flow else "denoiser", loss=loss,
                               teacher=knobs["teacher"], teacher_steps=knobs["teacher_steps"],
                               checkpoint=checkpointing == "on" or (checkpointing == "auto" and gpu),
                               seed=seed, afs=afs, learn_sigmas=learn_sigmas, **core)
    return config, knobs["samples"], knobs["holdout"]


def parse_step_counts(text, steps):
    """DyWeight Calibrate's step_counts ("4,6,8"; empty: `steps`) as sorted distinct counts."""
    if not str(text or "").strip():
        return [steps]
    try:
        counts = sorted({int(part) for part in str(text).replace(";", ",").replace(" ", ",").split(",") if part.strip()})
    except ValueError:
        raise CalibrationError(f"step_counts {text!r}: write whole numbers separated by commas, e.g. 4,6,8") from None
    if not counts or not all(1 <= n <= 50 for n in counts):
        raise CalibrationError(f"step_counts {text!r}: every count must be from 1 to 50")
    return counts


def calibrate_with_inputs(model, positive, negative, latent_image, steps, scheduler, cfg, denoise=1.0, vae=None,
                          step_counts="", minutes=0.0, fit=calibrate_together, start=start_latents, core=None,
                          model_low_noise=None, switch_step=0, **inputs):
    """What DyWeight Calibrate does with its inputs: [(table, the core's report)], one per step count. `fit` and `start`
    default to the calibration core and the seeded noises; benchmarks pass their own (the in-sample ceiling)."""
    counts = parse_step_counts(step_counts, steps)
    pair = None
    if model_low_noise is not None:
        check_pair(counts, switch_step)
        pair, inputs = (model_low_noise, switch_step), {**inputs, "learn_sigmas": False}  # the switch step's sigma stays put
    runs = []
    for count in counts:
        config, samples, holdout = calibration_settings(model, count, cfg, **inputs, **(core or {}))
        runs.append((count, config))
    return run_calibrations(model, positive, negative, latent_image, runs, scheduler, cfg, samples, holdout, denoise=denoise,
                            vae=vae, fit=fit, start=start, budget_seconds=60 * minutes, pair=pair)


def check_pair(counts, switch_step):
    """A pair of models (model for the first switch_step steps, model_low_noise for the rest) is one split run."""
    if len(counts) != 1:
        raise CalibrationError("with model_low_noise, calibrate one step count at a time (the switch step belongs to it): "
                               "leave step_counts empty")
    if not 1 <= switch_step < counts[0]:
        raise CalibrationError(f"with model_low_noise, switch_step must be from 1 to {counts[0] - 1}: the step at which the second "
                               f"KSamplerAdvanced starts (its start_at_step, the first one's end_at_step)")


def run_calibration(model, positive, negative, latent_image, steps, scheduler, cfg, config, samples, holdout, denoise=1.0,
                    vae=None):
    """Calibrate `model` for one step count on the stock schedule; returns (table, report dict)."""
    return run_calibrations(model, positive, negative, latent_image, [(steps, config)], scheduler, cfg, samples, holdout,
                            denoise=denoise, vae=vae)[0]


def run_calibrations(model, positive, negative, latent_image, runs, scheduler, cfg, samples, holdout, denoise=1.0, vae=None,
                     fit=calibrate_together, start=start_latents, budget_seconds=0.0, pair=None):
    """Calibrate `model` on the stock schedule for each (steps, config) in `runs`, together (one teacher, shared
    model calls); returns [(table, report dict)]. `pair`: (second model, switch step): `model` runs the steps
    before the switch, the second model the rest, as two KSamplerAdvanced nodes split the run."""
    config = runs[0][1]
    period = conditioning_period(positive, negative)
    whole = lambda n: -(-n // period) * period  # every row of a prompt batch gets the same number of noises
    samples, holdout = whole(samples), whole(holdout)
    runs = [(steps, dataclasses.replace(c, period=period, batch_size=whole(c.batch_size), teacher_floor=teacher_floor(model)))
            for steps, c in runs]
    schedules = [comfy.samplers.KSampler(model, steps, model.load_device, scheduler=scheduler, denoise=denoise).sigmas.cpu()
                 for steps, _ in runs]
    sigmas = schedules[0]
    if pair is not None:  # the teacher's fine steps land on the switch sigma (CalibrationConfig.switch_sigma)
        switch_sigma = float(sigmas[pair[1]])
        runs = [(steps, dataclasses.replace(c, switch_sigma=switch_sigma)) for steps, c in runs]
    sampling = model.get_model_object("model_sampling")
    latent = comfy.sample.fix_empty_latent_channels(model, latent_image["samples"]).float()  # as KSampler: FLUX/SD3/Wan
    if torch.count_nonzero(latent) > 0:
        latent = model.model.process_latent_in(latent)
    with torch.inference_mode(False), torch.enable_grad():
        latent = latent.clone()
        guider, timestep_mode = calibration_guider(model, positive, negative, cfg)
        batch = torch.zeros((config.batch_size * len(runs),) + tuple(latent.shape[1:]))  # what one shared model call holds

        def run(denoise_fn, device, max_denoise, low=None):
            identity = model_identity(model)  # now loaded with its patches (LoRAs), as when sampling
            train = start(sampling, sigmas, latent, samples, config.seed, device, max_denoise)
            hold = start(sampling, sigmas, latent, holdout, config.seed + 1_000_003, device, max_denoise)
            test = start(sampling, sigmas, latent, holdout, config.seed + 2_000_003, device, max_denoise)
            decode = vae_decoder(vae, model) if vae is not None and config.loss == "perceptual" else None
            key = (identity["fingerprint"], content_hash([positive, negative, latent]), float(cfg), config.seed, samples, holdout,
                   config.batch_size, timestep_mode)
            pairing = {}
            if low is not None:  # the teacher and the student switch models at the split run's step
                low_denoise, low_identity = low
                key += (low_identity["fingerprint"], pair[1])
                pairing = {"student_denoise": SwitchAtStep(denoise_fn, low_denoise, pair[1])}
                denoise_fn = switching_denoise(denoise_fn, low_denoise, switch_boundary(switch_sigma))
            results = fit(denoise_fn, [(s.tolist(), c) for s, (_, c) in zip(schedules, runs)], train, hold, decode=decode,
                          progress=progress_reporter(), teacher_cache=teacher_cache(key), test_x=test,
                          budget_seconds=budget_seconds, **pairing)
            for table, _ in results:
                table.model = identity if low is None else {**identity, "low_noise_model": pair_identity(low[1])}
            return results

        def run_pair(denoise_fn, device, max_denoise):
            """Inside the first model's sampling, the second's: both loaded, each guided with its own patches."""
            low_guider, _ = calibration_guider(pair[0], positive, negative, cfg)
            inner = lambda low_fn, *_: run(denoise_fn, device, max_denoise, (low_fn, model_identity(pair[0])))
            return run_inside(low_guider, batch, sigmas, config, inner)

        try:
            results = run_inside(guider, batch, sigmas, config, run if pair is None else run_pair)
        except torch.OutOfMemoryError as e:
            raise CalibrationError(out_of_memory(model, runs[0][1], latent)) from e  # as run: period and batch set
    for (table, info), (_, c) in zip(results, runs):
        table.provenance.update({"scheduler": SCHEDULER if c.learn_sigmas else scheduler, "cfg": float(cfg), "timestep": timestep_mode,
                                 "denoise": float(denoise), "date": datetime.datetime.now().isoformat(timespec="seconds"),
                                 "seconds": round(info["seconds"], 1)})
        if c.learn_sigmas:  # its own sigmas: the `dyweight` scheduler serves them (lookup.owns_schedule)
            table.provenance["sigmas_learned_from"] = scheduler
        if pair is not None:
            table.provenance["switch_step"] = pair[1]
    return results


def out_of_memory(model, config, latent):
    """What to change when calibration does not fit the device: the settings that cut its memory, most first."""
    device = model.load_device
    free = comfy.model_management.get_free_memory(device) / 2 ** 30
    size = "x".join(map(str, latent.shape[2:]))
    fixes = [] if config.checkpoint else ["checkpointing on (about 3.5x less memory, 1.8x the time)"]
    if config.batch_size > max(1, config.period):
        fixes.append(f"a smaller batch_size (now {config.batch_size}; memory grows with it)")
    fixes.append(f"a smaller latent_image (now {size}: fewer frames or a lower resolution)")
    return (f"DyWeight Calibrate ran out of memory on {device} ({free:.1f} GiB free now). Try " + "; or ".join(fixes) +
            "." + (" The teacher solve, once finished, is kept: the rerun with checkpointing on skips it." if not config.checkpoint else "") +
            " Nothing was saved.")


def calibration_guider(model, positive, negative, cfg):
    """A CFGGuider over the differentiable clone of `model`, and the clone's timestep mode."""
    patcher, timestep_mode = calibration_patcher(model)
    guider = comfy.samplers.CFGGuider(patcher)
    guider.set_conds(clone_conditioning(positive), clone_conditioning(negative))
    guider.set_cfg(cfg)
    return guider, timestep_mode


def run_inside(guider, batch, sigmas, config, run):
    """run(denoise, device, max_denoise) where `guider`'s model is loaded and guided, as CalibrationSampler does it."""
    work = CalibrationSampler(run, config.checkpoint)
    guider.sample(batch, batch, work, sigmas, seed=config.seed)
    return work.result


def pair_identity(identity):
    """What a pair's table records of its low-noise model: enough for lookup to give the table to that model too."""
    return {k: identity.get(k) for k in ("family", "model_type", "shift", "fingerprint", "weights")}


def format_report(results):
    """The report of a calibration, one block per step count."""
    blocks = [count_report(table, info) for table, info in results]
    first = results[0][1]
    lines = []
    if len(results) > 1:
        lines.append(f"DyWeight calibration of {len(results)} step counts together "
                     f"({', '.join(str(t.steps) for t, _ in results)}): one teacher solve, shared model calls, {first['seconds']:.1f}s")
    if first["budget_seconds"]:
        iterations = ", ".join(f"{info['iterations_run']} ({table.steps} steps)" for table, info in results)
        lines.append(f"budget {first['budget_seconds'] / 60:g} min bought {iterations} iterations on {first['train_samples']} training "
                     f"noises (+ {first['holdout_samples']} held-out, {first['test_samples']} test); took {first['seconds']:.1f}s "
                     f"(teacher {first['teacher_seconds']:.1f}s, choosing the starts {first['start_seconds']:.1f}s, fitting {first['fit_seconds']:.1f}s)")
    return "\n\n".join(["\n".join(lines)] * bool(lines) + blocks)


def count_report(table, info):
    r = info
    gain = lambda ref: f"{ref / max(r['test_median_calibrated'], 1e-12):.1f}x"
    teacher = {"earlier": "reused from an earlier calibration", "this run": "shared with the other step counts"}.get(
        r.get("teacher"), f"{r['teacher_seconds']:.1f}s")
    lines = [
        f"DyWeight calibration: {table.steps} steps{f' ({table.steps - 1} model calls, AFS)' if table.afs else ''}, "
        f"window {table.window}, {table.model.get('family')} ({table.model.get('model_type')})",
        f"median error vs the teacher on {r['test_samples']} test latents (not used to fit or choose the table):",
        f"  calibrated    {r['test_median_calibrated']:.5f}  (chosen at iteration {r['best_iteration']}/{r['iterations_run']} "
        f"on {r['holdout_samples']} held-out latents)",
        f"  fallback      {r['test_median_fallback']:.5f}  ({gain(r['test_median_fallback'])} better)",
        f"  euler         {r['test_median_euler']:.5f}  ({gain(r['test_median_euler'])} better)",
        f"started from {r['init']} (held-out error of the starts: "
        + ", ".join(f"{k} {v:.5f}" for k, v in r["holdout_error_starts"].items()) + ")",
        f"time: {r['seconds']:.1f}s (teacher {teacher})",
    ]
    low = table.model.get("low_noise_model")
    if low:
        k = table.provenance["switch_step"]
        lines.append(f"a pair: this model for steps 1-{k}, the low-noise model ({low.get('family')}) for steps {k + 1}-{table.steps}: "
                     f"sample with two KSamplerAdvanced nodes, the first ending and the second starting at step {k}")
    lines.append(where_it_runs(table))
    if r["stopped"]:
        lines.append(r["stopped"])
    return "\n".join(lines)


def previews(model, vae, latents):
    """Latents (B, C, ...) of the model -> [HxWx3 pictures in [0, 1]]: decoded by the VAE when one is connected, else
    the family's latent preview (its latent_rgb_factors, as ComfyUI's live preview draws; the first frame of video)."""
    latent_format = model.get_model_object("latent_format")
    if vae is not None:
        images = vae.decode(latent_format.process_out(latents.to(torch.float32)))
        return [image.reshape(-1, *image.shape[-3:])[0].float().cpu().numpy() for image in images]
    z = latents.float()
    if getattr(latent_format, "latent_rgb_factors_reshape", None) is not None:
        z = latent_format.latent_rgb_factors_reshape(z)
    z = z[:, :, 0] if z.ndim == 5 else z
    factors = latent_format.latent_rgb_factors
    if factors is None:  # no preview factors: the first three channels, each picture stretched to [0, 1]
        rgb = z[:, :3].movedim(1, -1)
        low, high = rgb.amin((1, 2, 3), keepdim=True), rgb.amax((1, 2, 3), keepdim=True)
        rgb = (rgb - low) / (high - low).clamp_min(1e-6)
    else:
        bias = latent_format.latent_rgb_factors_bias
        rgb = torch.nn.functional.linear(z.movedim(1, -1), torch.tensor(factors).t(), None if bias is None else torch.tensor(bias))
        rgb = ((rgb + 1) / 2).clamp(0, 1)
    return list(rgb.numpy())


def report_image(model, vae, results):
    """The report as an IMAGE (1, H, W, 3): per count, fallback / calibrated / teacher on a few test noises with
    their errors, and bars of the held-out error ratio over the fallback and the best built-in start."""
    panels, ratios = [], []
    for table, info in results:
        shown, errors = info["examples"], info["examples"]["errors"]
        panels.append(report_picture.count_panel(table.steps, [
            ("fallback (ipndm)", previews(model, vae, shown["fallback"]), errors["fallback"]),
            ("calibrated", previews(model, vae, shown["calibrated"]), errors["calibrated"]),
            ("teacher", previews(model, vae, shown["teacher"]), None)]))
        starts, best = info["holdout_error_starts"], max(info["holdout_error_best"], 1e-12)
        builtin = info["best_builtin_start"]
        ratios.append((table.steps, starts["adams_bashforth"] / best, starts[builtin] / best, builtin))
    return torch.from_numpy(report_picture.render(panels, ratios).copy()).float().div(255).unsqueeze(0)


def where_it_runs(table):
    """The schedule lookup applies the table on, in words: on any other it takes the fallback."""
    learned_from = table.provenance.get("sigmas_learned_from")
    if learned_from:
        return (f"runs on its own learned sigmas: sample with scheduler '{SCHEDULER}' (KSampler) or DyWeight Scheduler; "
                f"on scheduler '{learned_from}' or any other the dyweight sampler takes the ipndm fallback")
    return (f"runs on scheduler '{table.provenance.get('scheduler')}' at {table.steps} steps; "
            f"on any other schedule the dyweight sampler takes the ipndm fallback")


class DyWeightCalibrate(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="DyWeightCalibrate", display_name="DyWeight Calibrate", category="sampling/dyweight",
            description="Learns a DyWeight table for this model, prompt, CFG, scheduler and step count: a high-step "
                        "teacher solve, then the few-step student fitted to it. Save the table and the dyweight "
                        "sampler uses it automatically.",
            inputs=[
                io.Model.Input("model", tooltip="The model to calibrate (LoRAs and patches applied as in sampling)."),
                io.Conditioning.Input("positive", tooltip="Positive conditioning used during calibration."),
                io.Conditioning.Input("negative", tooltip="Negative conditioning (used when cfg > 1)."),
                io.Latent.Input("latent_image", tooltip="Sets the resolution; an empty latent calibrates text-to-image."),
                io.Int.Input("steps", default=6, min=1, max=50, tooltip="Sampling steps the table is for."),
                io.Combo.Input("scheduler", options=comfy.samplers.SCHEDULER_NAMES, default="karras",
                               tooltip="The schedule calibration starts from. With learn_sigmas off the table is fitted to these "
                                       "sigmas: sample with this scheduler. With learn_sigmas on (the default) the table learns "
                                       "its own sigmas from them and runs only on those: sample with scheduler 'dyweight'; "
                                       "on this one the dyweight sampler takes the ipndm fallback."),
                io.Float.Input("cfg", default=7.0, min=0.0, max=100.0, step=0.1, round=0.01, tooltip="CFG scale you will sample with."),
                io.Int.Input("teacher_steps", default=0, min=0, max=1000, optional=True,
                             tooltip="Steps of the high-accuracy teacher solve (ipndm: one model call each). 0: from quality."),
                io.Int.Input("iterations", default=0, min=0, max=20000, optional=True, tooltip="Optimiser steps. 0: from quality."),
                io.Int.Input("seed", default=0, min=0, max=2**31 - 1, optional=True, control_after_generate=False,
                             tooltip="Seed of the calibration noises and batches. Fixed: a new seed would recalibrate on every queue."),
                io.Int.Input("samples", default=0, min=0, max=4096, optional=True,
                             tooltip="Training noises (teacher solves are cached). 0: from quality."),
                io.Int.Input("holdout", default=0, min=0, max=1024, optional=True,
                             tooltip="Held-out noises that pick the best table (as many again measure it). 0: from quality."),
                io.Int.Input("batch_size", default=0, min=0, max=256, optional=True,
                             tooltip="Noises per optimiser step; memory grows with it. 0: from quality."),
                io.Int.Input("window", default=CalibrationConfig.window, min=1, max=8, optional=True,
                             tooltip="History window K: how many earlier derivatives each step may combine (8: all of them, "
                                     "up to 8 steps). At least 4 lets it start from lms and ipndm exactly."),
                io.Float.Input("learning_rate", default=0.0, min=0.0, max=1.0, step=1e-4, round=False, optional=True,
                               tooltip="Adam learning rate (cosine decay, 10% warm-up). 0: from quality."),
                io.Combo.Input("loss", options=list(LOSSES), default=CalibrationConfig.loss, optional=True,
                               tooltip="log_rmse: mean log of the per-sample latent error, so every noise's relative error "
                                       "counts alike; rmse: mean per-sample error; l2: mean squared; huber; "
                                       "perceptual: SSIM + L1 on decoded images (needs vae, slower)."),
                io.Vae.Input("vae", optional=True, tooltip="Decodes latents to images: for the perceptual loss, and for the report "
                                                           "picture (without it the picture shows the latent preview)."),
                io.Combo.Input("checkpointing", options=["auto", "on", "off"], default="auto", optional=True,
                               tooltip="Recompute each model call in backward: 3.5x less memory, ~1.8x the time. auto: on for GPUs."),
                # new inputs go last: saved UI workflows list widget values by position
                io.Float.Input("denoise", default=1.0, min=0.01, max=1.0, step=0.01, optional=True,
                               tooltip="As in KSampler: below 1 calibrates the img2img schedule from latent_image."),
                io.Boolean.Input("afs", default=False, optional=True,
                                 tooltip="Analytical first step: step 0 uses a unit-variance Gaussian data model instead of a "
                                         "model call, so N steps cost N - 1 calls (the authors use it for pixel models)."),
                io.Boolean.Input("learn_sigmas", default=True, optional=True,
                                 tooltip="Also learn the step sigmas (the first stays), from the best of a few Karras shapes of the "
                                         "scheduler's sigmas. The table then keeps its own schedule and runs only on it: "
                                         "sample with scheduler 'dyweight' (KSampler) or DyWeight Scheduler. On the scheduler "
                                         "you calibrated from, the dyweight sampler takes the ipndm fallback."),
                io.Combo.Input("quality", options=list(PRESETS), default=DEFAULT_PRESET, optional=True,
                               tooltip="How much work: sets every knob left at 0 (noises, batch, iterations, learning rate, "
                                       "teacher). best takes about 4 times as long as balanced. "
                                       "At CFG 1 (one model call per step) 1.5 times the iterations. "
                                       "On a GPU: a quarter of the batch, four times the iterations (memory)."),
                io.String.Input("step_counts", default="", optional=True,
                                tooltip="Several step counts in one run, e.g. 4,6,8: one teacher solve and shared model calls, "
                                        "one table per count (Save Table writes each; DyWeight Sampler runs the one for the "
                                        "run's steps). Empty: steps."),
                io.Float.Input("minutes", default=0.0, min=0.0, max=1440.0, step=0.5, optional=True,
                               tooltip="A time budget for the whole calibration, teacher included: the teacher gets at most "
                                       "a third, the iterations are fitted to the rest after the first few are timed. "
                                       "0: the counts quality sets. The report says what the budget bought."),
                io.Model.Input("model_low_noise", optional=True,
                               tooltip="A second model for the last steps of a split run (Wan 2.2's low-noise expert, an SDXL "
                                       "refiner): calibrates the pair as two KSamplerAdvanced nodes run it, `model` before "
                                       "switch_step and this one from there. One step count; the sigmas are not learned."),
                io.Int.Input("switch_step", default=0, min=0, max=49, optional=True,
                             tooltip="With model_low_noise: the step the second model starts at (the second KSamplerAdvanced's "
                                     "start_at_step, the first one's end_at_step)."),
            ],
            outputs=[TABLE.Output(display_name="table"), io.String.Output(display_name="report"),
                     io.Image.Output(display_name="report_image", tooltip="For a few test noises: the fallback, the calibrated "
                                     "table and the teacher, with each one's error; and per step count the held-out error "
                                     "ratio over the fallback and over the best built-in it checked.")],
        )

    @classmethod
    def execute(cls, model, positive, negative, latent_image, steps, scheduler, cfg, **inputs) -> io.NodeOutput:
        results = calibrate_with_inputs(model, positive, negative, latent_image, steps, scheduler, cfg, **inputs)
        text = format_report(results)
        logging.info(text)
        tables = [table for table, _ in results]
        picture = report_image(model, inputs.get("vae"), results)
        return io.NodeOutput(tables[0] if len(tables) == 1 else TableSet(tables), text, picture, ui={"text": [text]})
