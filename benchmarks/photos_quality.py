"""Sampler quality on a trained network: the built-in DyWeight Photos-32 UNet, loaded by ComfyUI.

For 3-8 steps on karras (and on the `dyweight` scheduler for tables that learned their sigmas), CFG 1
and 5: the median endpoint error on held-out noise against a 200-step reference, for every
deterministic one-call-per-step built-in sampler and for dyweight calibrated by DyWeight Calibrate's
own code (run_calibration) at its default settings; calibration seconds and peak memory. Then the
transfer test: a table calibrated on four classes, evaluated on the other four.

    python -m benchmarks.photos_quality            # the whole table (about 40 minutes on 2 CPUs)
    python -m benchmarks.photos_quality --sweep    # calibration settings compared (what set the defaults)
    python -m benchmarks.photos_quality --seeds 0 1 --select geomean median   # the defaults over calibration seeds
    python -m benchmarks.photos_quality --curve 8  # held-out error against time, balanced and best (about 25 minutes)
    python -m benchmarks.photos_quality --ceiling --quality best   # what a table can reach at all (about 80 minutes)
"""
import argparse
import copy
import json
import math
import os
import time

import torch

from tooling.measure import PeakRSS
from tooling.pack import load_pack
from tooling.paths import ROOT
from tooling.samplers import BUILTINS

HERE = os.path.dirname(os.path.realpath(__file__))

STEPS, CFGS = [3, 4, 5, 6, 7, 8], [1.0, 5.0]
EVAL_SEED, EVAL_COUNT, REFERENCE_STEPS = 777, 64, 200
ALL, GROUP_A, GROUP_B = list(range(8)), [0, 1, 2, 3], [4, 5, 6, 7]
CACHE = os.path.join(ROOT, ".cache", "photos_reference")


class Bench:
    """The loaded model, held-out noises and references; sampling and calibrating on them."""

    def __init__(self):
        load_pack()
        import comfy.sample
        import comfy.samplers
        from comfyui_dyweight.nodes.photos import class_conditioning, load_photos_model
        from comfyui_dyweight.dyweight_core import photos
        self.comfy_sample, self.samplers = comfy.sample, comfy.samplers
        with torch.inference_mode():
            self.model = load_photos_model()
        self.sampling = self.model.get_model_object("model_sampling")
        size = photos.IMAGE_SIZE // photos.PATCH
        self.shape = (photos.LATENT_CHANNELS, size, size)
        self.prompt = lambda classes: [[torch.cat([photos.class_context([k]) for k in classes]), {}]]
        self.negative = class_conditioning([])
        self.use_noises(EVAL_SEED)

    def use_noises(self, eval_seed):
        """The held-out noises everything is judged on (and their references, computed when first asked for)."""
        self.eval_seed, self.references = eval_seed, {}
        self.noise = torch.randn((EVAL_COUNT,) + self.shape, generator=torch.Generator().manual_seed(eval_seed))

    def on_other_noises(self, eval_seed):
        """The same loaded model judged on another set of held-out noises."""
        other = copy.copy(self)
        other.use_noises(eval_seed)
        return other

    def sigmas(self, scheduler, steps):
        return self.samplers.calculate_sigmas(self.sampling, scheduler, steps).cpu()

    def run(self, sampler, sigmas, cfg, classes):
        """Sample the held-out noises: latent i asks for classes[i mod len(classes)]."""
        with torch.inference_mode():
            return self.comfy_sample.sample_custom(self.model, self.noise, cfg, sampler, sigmas.clone(), self.prompt(classes),
                                                   self.negative, torch.zeros_like(self.noise), disable_pbar=True, seed=0)

    def reference(self, cfg, classes):
        """The ODE's endpoint: 200 ipndm (fourth-order) steps on karras, cached on disk."""
        key = f"cfg{cfg:g}_{'-'.join(map(str, classes))}_{self.eval_seed}_{EVAL_COUNT}_{REFERENCE_STEPS}"
        path = os.path.join(CACHE, key + ".pt")
        if key not in self.references:
            if os.path.exists(path):
                self.references[key] = torch.load(path)
            else:
                ref = self.run(self.samplers.sampler_object("ipndm"), self.sigmas("karras", REFERENCE_STEPS), cfg, classes)
                os.makedirs(CACHE, exist_ok=True)
                torch.save(ref, path)
                self.references[key] = ref
        return self.references[key]

    def noise_errors(self, sampler, sigmas, cfg, classes):
        """Each held-out noise's endpoint error (RMSE against the reference)."""
        from comfyui_dyweight.dyweight_core.calibrate import per_sample_rmse
        return per_sample_rmse(self.run(sampler, sigmas, cfg, classes).double(), self.reference(cfg, classes)).cpu()

    def error(self, sampler, sigmas, cfg, classes):
        return self.noise_errors(sampler, sigmas, cfg, classes).median().item()

    def builtin_noise_errors(self, scheduler, steps, cfg, classes=ALL):
        sigmas = self.sigmas(scheduler, steps)
        return {name: self.noise_errors(self.samplers.sampler_object(name), sigmas, cfg, classes) for name in BUILTINS}

    def builtin_errors(self, scheduler, steps, cfg, classes=ALL):
        """Every built-in's error, and the name of the best."""
        return medians(self.builtin_noise_errors(scheduler, steps, cfg, classes))

    def calibrate(self, steps, cfg, classes=ALL, scheduler="karras", core=None, **settings):
        """DyWeight Calibrate's own code path, with the node's defaults unless `settings` (node inputs) or
        `core` (CalibrationConfig fields the node does not expose) override them."""
        import functools
        from comfyui_dyweight.nodes import calibrate as node
        original, fit, reports = node.CalibrationConfig, node.calibrate, []

        def keep_report(*args, **kwargs):  # the core's report (held-out history); the node returns only its text
            table, report = fit(*args, **kwargs)
            reports.append(report)
            return table, report
        node.CalibrationConfig, node.calibrate = functools.partial(original, **(core or {})), keep_report
        try:
            table, info = self._calibrate(node.DyWeightCalibrate, steps, cfg, classes, scheduler, settings)
            return table, dict(info, core=reports[-1])
        finally:
            node.CalibrationConfig, node.calibrate = original, fit

    def _calibrate(self, DyWeightCalibrate, steps, cfg, classes, scheduler, settings):
        from comfyui_dyweight.nodes.calibrate import TEACHER_CACHES
        TEACHER_CACHES.clear()  # every timing is a first calibration, teacher included
        with PeakRSS() as mem:
            started = time.time()
            table, report = DyWeightCalibrate.execute(self.model, self.prompt(classes), self.negative,
                                                      {"samples": torch.zeros((1,) + self.shape)}, steps, scheduler, cfg,
                                                      **settings).result
            seconds = time.time() - started
        return table, {"seconds": seconds, "peak_mb": mem.peak / 2 ** 20, "report": report}

    def ceiling(self, steps, cfg, **settings):
        """What a table can reach at all: DyWeight Calibrate's code path trained, chosen and tested on the benchmark's
        own 64 noises against the 200-step reference itself (chosen by the median, the benchmark's statistic), so
        neither the teacher's error nor generalisation to other noises limits it. Not a calibration a user can run."""
        from comfyui_dyweight.nodes import calibrate as node
        from comfyui_dyweight.dyweight_core.calibrate import teacher_key
        reference = self.reference(cfg, ALL).cpu()

        def own_noises(sampling, sigmas, latent, count, seed, device, max_denoise):
            return sampling.noise_scaling(sigmas[0], self.noise, latent[:1].expand_as(self.noise), max_denoise).to(device)

        fit = node.calibrate

        def against_reference(denoise, sigmas, train, hold, config, teacher_cache=None, **kwargs):
            cache = {teacher_key(config, sigmas, [train, hold, kwargs["test_x"]]): (reference,) * 3}
            return fit(denoise, sigmas, train, hold, config, teacher_cache=cache, **kwargs)
        originals = node.start_latents, node.calibrate
        node.start_latents, node.calibrate = own_noises, against_reference
        try:
            return self.calibrate(steps, cfg, core={"select": "median"}, **settings)
        finally:
            node.start_latents, node.calibrate = originals

    def table_noise_errors(self, table, cfg, classes=ALL):
        from comfyui_dyweight.nodes.sampler import DyWeightSampler
        sampler = DyWeightSampler.execute(table=table).result[0]
        return self.noise_errors(sampler, torch.tensor(table.sigmas), cfg, classes)

    def table_error(self, table, cfg, classes=ALL):
        return self.table_noise_errors(table, cfg, classes).median().item()


def medians(noise_errors):
    """Each sampler's median error over the held-out noises, and the name of the best built-in among them."""
    errors = {name: e.median().item() for name, e in noise_errors.items()}
    return errors, min(BUILTINS, key=errors.get)


def gmean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values))


def run_benchmark(bench, steps_list, cfgs, out):
    """Every built-in and calibrated dyweight (karras; learned sigmas on the `dyweight` scheduler) per (cfg, steps).
    Each row keeps every held-out noise's error (for noise_interval) and the calibrated tables themselves, so the
    tables can be judged again on other noises without calibrating again."""
    rows = []
    for cfg in cfgs:
        for steps in steps_list:
            per_noise = bench.builtin_noise_errors("karras", steps, cfg)
            errors, best = medians(per_noise)
            row = {"cfg": cfg, "steps": steps, "errors": errors, "best_builtin": best, "calibrations": {}}
            for label, settings in (("karras", {"learn_sigmas": False}), ("dyweight", {"learn_sigmas": True})):
                table, info = bench.calibrate(steps, cfg, **settings)
                per_noise[f"dyweight ({label})"] = bench.table_noise_errors(table, cfg)
                err = per_noise[f"dyweight ({label})"].median().item()
                row["errors"][f"dyweight ({label})"] = err
                row["calibrations"][label] = {"seconds": info["seconds"], "peak_mb": info["peak_mb"],
                                              "ratio": errors[best] / err, "table": table.to_dict()}
                print(f"cfg {cfg:g} {steps} steps: dyweight/{label} {err:.4f} vs {best} {errors[best]:.4f}: "
                      f"{errors[best] / err:.2f}x, calibration {info['seconds']:.0f}s {info['peak_mb']:.0f} MB", flush=True)
            row["noise_errors"] = {name: e.tolist() for name, e in per_noise.items()}
            rows.append(row)
            json.dump(rows, open(os.path.join(out, "photos_quality.json"), "w"), indent=1)
    return rows


def run_transfer(bench, steps, cfg, out):
    """Calibrate on classes A (astronaut, cat, coffee, galaxies), evaluate on B (cells, motorcycle, retina, rocket)."""
    errors, best = bench.builtin_errors("karras", steps, cfg, GROUP_B)
    result = {"steps": steps, "cfg": cfg, "best_builtin": best, "best_builtin_error": errors[best]}
    for label, classes in (("calibrated on A, tested on B", GROUP_A), ("calibrated on B, tested on B", GROUP_B),
                           ("calibrated on all, tested on B", ALL)):
        table, _ = bench.calibrate(steps, cfg, classes=classes, learn_sigmas=True)
        result[label] = bench.table_error(table, cfg, GROUP_B)
        print(f"transfer {label}: {result[label]:.4f} (best built-in {best} {errors[best]:.4f})", flush=True)
    json.dump(result, open(os.path.join(out, "photos_transfer.json"), "w"), indent=1)
    return result


def noise_interval(rows, label, draws=2000, level=0.95):
    """How much the ratios owe to which 64 noises judge them: each ratio and the 4-8 step geometric mean recomputed on
    the held-out noises resampled with replacement (one draw for every sampler and count, as they share the noises;
    the best built-in chosen again in each draw). Returns {(cfg, steps): (low, high)} and {cfg: (low, high)}.
    The calibration seed's spread is not in it (see --seeds)."""
    gen = torch.Generator().manual_seed(0)
    picks = torch.randint(0, EVAL_COUNT, (draws, EVAL_COUNT), generator=gen)
    quantiles = torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64)
    bounds = lambda samples: tuple(torch.quantile(samples, quantiles).tolist())
    per_row, by_cfg = {}, {}
    for r in rows:
        builtins = torch.tensor([r["noise_errors"][n] for n in BUILTINS], dtype=torch.float64)[:, picks]
        ours = torch.tensor(r["noise_errors"][f"dyweight ({label})"], dtype=torch.float64)[picks]
        ratios = builtins.median(-1).values.min(0).values / ours.median(-1).values  # torch's median, as the table's
        per_row[r["cfg"], r["steps"]] = bounds(ratios)
        if 4 <= r["steps"] <= 8:
            by_cfg.setdefault(r["cfg"], []).append(ratios.log())
    return per_row, {cfg: bounds(torch.stack(logs).mean(0).exp()) for cfg, logs in by_cfg.items()}


def write_results(rows, transfer, out):
    names = BUILTINS + ["dyweight (karras)", "dyweight (dyweight)"]
    intervals = {label: noise_interval(rows, label) for label in ("karras", "dyweight")}
    lines = ["| cfg | steps | " + " | ".join(names) + " | best built-in / dyweight | 95% interval over the noises | "
             "calibration s | peak MB |", "|---" * (len(names) + 6) + "|"]
    for r in rows:
        best = r["errors"][r["best_builtin"]]
        cal = r["calibrations"]["dyweight"]
        low, high = intervals["dyweight"][0][r["cfg"], r["steps"]]
        cells = [f"**{r['errors'][n]:.4f}**" if r["errors"][n] == best or n.startswith("dyweight") else f"{r['errors'][n]:.4f}"
                 for n in names]
        lines.append(f"| {r['cfg']:g} | {r['steps']} | " + " | ".join(cells) +
                     f" | {cal['ratio']:.2f}x | {low:.2f}-{high:.2f}x | {cal['seconds']:.0f} | {cal['peak_mb']:.0f} |")
    lines.append("")
    for label in ("karras", "dyweight"):
        for cfg in sorted({r["cfg"] for r in rows}):
            goal = [r["calibrations"][label]["ratio"] for r in rows if r["cfg"] == cfg and 4 <= r["steps"] <= 8]
            if goal:
                low, high = intervals[label][1][cfg]
                lines.append(f"- dyweight calibrated on {label}, CFG {cfg:g}, 4-8 steps: beats the best built-in in "
                             f"{sum(g > 1 for g in goal)}/{len(goal)}, geometric-mean ratio {gmean(goal):.2f} "
                             f"(95% interval over the held-out noises {low:.2f}-{high:.2f})")
    if transfer:
        t = transfer
        lines += ["", f"Transfer ({t['steps']} steps, CFG {t['cfg']:g}, tested on classes cells, motorcycle, retina, rocket; "
                      f"best built-in {t['best_builtin']} {t['best_builtin_error']:.4f}):", ""]
        lines += [f"- {k}: {t[k]:.4f} ({t['best_builtin_error'] / t[k]:.2f}x)" for k in t if k.startswith("calibrated")]
    text = "\n".join(lines)
    open(os.path.join(out, "photos_quality.md"), "w").write(text + "\n")
    print(text)
    plot(rows, os.path.join(out, "photos_quality.png"))


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cfgs = sorted({r["cfg"] for r in rows})
    fig, axes = plt.subplots(1, len(cfgs), figsize=(6 * len(cfgs), 4.5), squeeze=False)
    for ax, cfg in zip(axes[0], cfgs):
        sel = [r for r in rows if r["cfg"] == cfg]
        steps = [r["steps"] for r in sel]
        for name in BUILTINS + ["dyweight (karras)", "dyweight (dyweight)"]:
            style = dict(lw=3, color="crimson" if name.endswith("(dyweight)") else "darkorange") if name.startswith("dyweight") \
                else dict(lw=1, alpha=0.6)
            ax.semilogy(steps, [r["errors"][name] for r in sel], marker="o", label=name, **style)
        ax.set_title(f"DyWeight Photos-32, CFG {cfg:g}: error vs a {REFERENCE_STEPS}-step solve")
        ax.set_xlabel("steps (= model calls)")
        ax.set_ylabel("median endpoint error (RMSE, pixels in [-1, 1])")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# What moved the number: each variant against the node's defaults (quality balanced, learned sigmas), 6 model calls.
# (The defaults before this benchmark, and the teacher that solved below sigma_min, are measured in
# results/photos_what_moved.md from development runs; the previous table is in the git history of photos_quality.md.)
SWEEP = [
    ("node defaults (quality balanced, learned sigmas, window 8, lr 0.02, best of the starts and schedule shapes, "
     "log_rmse loss, teacher on Karras spacing, table chosen by the held-out geometric mean)", dict(steps=6), {}),
    ("Adams-Bashforth (= ipndm) start only, all else default", dict(steps=6), dict(init="adams_bashforth")),
    ("window 4, lr 0.05 (the defaults before)", dict(steps=6, window=4, learning_rate=0.05), {}),
    ("window 4 (lr 0.02)", dict(steps=6, window=4), {}),
    ("AFS: 7 steps on 6 model calls", dict(steps=7, afs=True), {}),
    ("quality best", dict(steps=6, quality="best"), {}),
    ("rmse loss (the loss before)", dict(steps=6, loss="rmse"), {}),
    ("the given karras schedule as the only start for the sigmas", dict(steps=6), dict(schedule_rhos=())),
]  # (label, node inputs, CalibrationConfig fields the node does not expose)


def run_sweep(bench, cfgs, out, variants=None):
    """Calibration variants at 6 model calls (`variants`: indices into SWEEP, default all)."""
    results = []
    for cfg in cfgs:
        errors, best = bench.builtin_errors("karras", 6, cfg)
        for label, settings, core in [SWEEP[i] for i in (variants or range(len(SWEEP)))]:
            settings = dict(settings)
            table, info = bench.calibrate(settings.pop("steps"), cfg, core=core, **settings)
            err = bench.table_error(table, cfg)
            results.append({"cfg": cfg, "variant": label, "error": err, "best_builtin": best, "ratio": errors[best] / err,
                            "seconds": info["seconds"]})
            print(f"sweep cfg {cfg:g}: {label}: {err:.4f} ({errors[best] / err:.2f}x {best}), {info['seconds']:.0f}s", flush=True)
            json.dump(results, open(os.path.join(out, "photos_sweep.json"), "w"), indent=1)
    # no seconds column: the calibration times that count are the main table's, on an otherwise idle machine
    lines = ["| CFG | variant (6 model calls) | error | vs best built-in |", "|---|---|---|---|"]
    lines += [f"| {r['cfg']:g} | {r['variant']} | {r['error']:.4f} | {r['ratio']:.2f}x ({r['best_builtin']}) |" for r in results]
    open(os.path.join(out, "photos_sweep.md"), "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


def run_seeds(bench, seeds, variants, cfgs, steps_list, out):
    """The defaults (learned sigmas) over calibration seeds, 4-8 steps, for each (preset, held-out statistic, learning
    rate, iterations x steps or 0 for the preset's) in `variants`: how far one benchmark run is from the next,
    whether a change is more than that, and how close the default preset comes to `best` over every count. Resumable:
    finished runs are read back from the json. Each row records its iterations x steps (rows from before CFG 1 got 1.5
    times as many have none: 400; rows without a preset are balanced)."""
    path = os.path.join(out, "photos_seeds.json")
    done = {seed_key(r): r for r in (json.load(open(path)) if os.path.exists(path) else [])}
    for cfg in cfgs:
        builtins = {steps: bench.builtin_errors("karras", steps, cfg) for steps in steps_list}
        for quality, select, lr, step_iterations in variants:
            budget = step_iterations or preset_budget(quality, cfg)
            for seed in seeds:
                for steps in steps_list:
                    if (quality, budget, select, lr, cfg, seed, steps) in done:
                        continue
                    iterations = math.ceil(step_iterations / steps) if step_iterations else 0  # 0: the preset's
                    table, info = bench.calibrate(steps, cfg, core={"select": select}, learn_sigmas=True, seed=seed,
                                                  learning_rate=lr, quality=quality, iterations=iterations)
                    errors, best = builtins[steps]
                    err = bench.table_error(table, cfg)
                    row = {"quality": quality, "step_iterations": budget, "select": select, "lr": lr, "cfg": cfg, "seed": seed,
                           "steps": steps, "error": err, "ratio": errors[best] / err, "seconds": info["seconds"]}
                    done[seed_key(row)] = row
                    print(f"{quality} {select} lr {lr:g} cfg {cfg:g} seed {seed} {steps} steps: {err:.4f}, {row['ratio']:.2f}x "
                          f"{best}, {info['seconds']:.0f}s", flush=True)
                    json.dump(list(done.values()), open(path, "w"), indent=1)
    write_seeds(done, steps_list, out)


def preset_budget(quality, cfg):
    """The preset's iterations x steps at this CFG (what a --seeds row records)."""
    load_pack()
    from comfyui_dyweight.dyweight_core.calibrate import preset_settings
    return preset_settings(quality, 1, guided=not math.isclose(cfg, 1.0))["iterations"]


def seed_key(row):
    return (row.get("quality", "balanced"), row.get("step_iterations", 400), row["select"], row["lr"], row["cfg"], row["seed"],
            row["steps"])


def write_seeds(done, steps_list, out):
    """photos_seeds.md from the runs in `done` (seed_key -> row): one line per seed, the mean per variant."""
    lines = ["| quality | iterations x steps | held-out statistic | lr | CFG | seed | " + " | ".join(f"{s} steps" for s in steps_list) +
             " | geometric mean |", "|---" * (len(steps_list) + 7) + "|"]
    for variant in sorted({seed_key(r)[:5] for r in done.values()}, key=lambda k: (k[0], -k[1], k[2], -k[3], -k[4])):
        means, label = [], "| {} | {} | {} | {:g} | {:g} |".format(*variant)
        for seed in sorted({r["seed"] for r in done.values() if seed_key(r)[:5] == variant}):
            ratios = [done[k]["ratio"] for s in steps_list if (k := variant + (seed, s)) in done]
            if len(ratios) == len(steps_list):
                means.append(gmean(ratios))
                lines.append(f"{label} {seed} | " + " | ".join(f"{r:.2f}x" for r in ratios) + f" | {means[-1]:.2f}x |")
        if means:
            lines.append(f"{label} mean of {len(means)} |" + " |" * len(steps_list) +
                         f" **{gmean(means):.2f}x** (min {min(means):.2f}x, max {max(means):.2f}x) |")
    lines += [""] + default_share(done, steps_list)
    open(os.path.join(out, "photos_seeds.md"), "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


def default_share(done, steps_list):
    """How close the default preset comes to `best` over every step count, for each (CFG, seed) that has both at
    today's budgets: the issue's goal is 90% of the gain (ratio - 1)."""
    load_pack()
    from comfyui_dyweight.dyweight_core.calibrate import DEFAULT_PRESET, PRESETS, CalibrationConfig
    select = CalibrationConfig().select
    lines = []
    for cfg in sorted({r["cfg"] for r in done.values()}):
        for seed in sorted({r["seed"] for r in done.values()}):
            keys = {q: [(q, preset_budget(q, cfg), select, PRESETS[q]["lr"], cfg, seed, s) for s in steps_list]
                    for q in (DEFAULT_PRESET, "best")}
            if all(k in done for q in keys for k in keys[q]):
                ours, best = (gmean([done[k]["ratio"] for k in keys[q]]) for q in (DEFAULT_PRESET, "best"))
                lines.append(f"- CFG {cfg:g}, seed {seed}, {steps_list[0]}-{steps_list[-1]} steps: {DEFAULT_PRESET} {ours:.2f}x, best "
                             f"{best:.2f}x: {DEFAULT_PRESET} reaches {(ours - 1) / (best - 1):.0%} of best's gain, "
                             f"{ours / best:.0%} of its ratio")
    return lines


def run_ceiling(bench, cfgs, steps_list, quality, out):
    """The in-sample ceiling (Bench.ceiling) at 4-8 steps; each table also judged on 64 other noises, which tells
    how much of it is a fit to those 64 noises rather than to the model."""
    path = os.path.join(out, "photos_ceiling.json")
    done = {(r["quality"], r["cfg"], r["steps"]): r for r in (json.load(open(path)) if os.path.exists(path) else [])}
    other = bench.on_other_noises(EVAL_SEED + 1)
    for cfg in cfgs:
        for steps in steps_list:
            if "other_ratio" in done.get((quality, cfg, steps), {}):
                continue
            errors, best = bench.builtin_errors("karras", steps, cfg)
            table, info = bench.ceiling(steps, cfg, learn_sigmas=True, quality=quality)
            err = bench.table_error(table, cfg)
            other_errors, other_best = other.builtin_errors("karras", steps, cfg)
            other_err = other.table_error(table, cfg)
            row = {"quality": quality, "cfg": cfg, "steps": steps, "error": err, "ratio": errors[best] / err, "best_builtin": best,
                   "other_error": other_err, "other_ratio": other_errors[other_best] / other_err, "other_best_builtin": other_best,
                   "core_median": info["core"]["test_median_calibrated"], "kept_iteration": info["core"]["best_iteration"],
                   "iterations": info["core"]["iterations_run"], "init": info["core"]["init"], "seconds": info["seconds"]}
            done[(quality, cfg, steps)] = row
            print(f"ceiling {quality} cfg {cfg:g} {steps} steps: {err:.4f} (the core's own median {row['core_median']:.4f}), "
                  f"{row['ratio']:.2f}x {best}; on other noises {other_err:.4f}, {row['other_ratio']:.2f}x {other_best}; "
                  f"kept {row['kept_iteration']}/{row['iterations']}, {info['seconds']:.0f}s", flush=True)
            json.dump(list(done.values()), open(path, "w"), indent=1)
    write_ceiling(done, steps_list, out)


def write_ceiling(done, steps_list, out):
    lines = ["| training budget | CFG | judged on | " + " | ".join(f"{s} steps" for s in steps_list) + " | geometric mean |",
             "|---" * (len(steps_list) + 4) + "|"]
    for q, cfg in sorted({k[:2] for k in done}):
        for key, label in (("ratio", "the 64 noises it was fitted to"), ("other_ratio", "64 other noises")):
            ratios = [done.get((q, cfg, s), {}).get(key) for s in steps_list]
            cells = [f"{r:.2f}x" if r else "-" for r in ratios]
            mean = f"**{gmean(ratios):.2f}x**" if all(ratios) else ""
            lines.append(f"| {q} | {cfg:g} | {label} | " + " | ".join(cells) + f" | {mean} |")
    open(os.path.join(out, "photos_ceiling.md"), "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


def run_curve(bench, steps, cfgs, out):
    """Held-out error against time for the default preset and `best` at one step count: where the time goes."""
    from comfyui_dyweight.dyweight_core.calibrate import DEFAULT_PRESET
    runs = []
    for cfg in cfgs:
        errors, best = bench.builtin_errors("karras", steps, cfg)
        for quality in (DEFAULT_PRESET, "best"):
            table, info = bench.calibrate(steps, cfg, learn_sigmas=True, quality=quality)
            err, report = bench.table_error(table, cfg), info["core"]
            runs.append({"cfg": cfg, "steps": steps, "quality": quality, "error": err, "ratio": errors[best] / err,
                         "best_builtin": best, "seconds": info["seconds"], "teacher_seconds": report["teacher_seconds"],
                         "kept_iteration": report["best_iteration"], "kept_error": report["holdout_error_best"], "holdout_samples": report["holdout_samples"],
                         "curve": [(h["iteration"], h["seconds"], h["holdout_error"]) for h in report["history"] if "holdout_error" in h]})
            print(f"curve cfg {cfg:g} {steps} steps {quality}: {err:.4f}, {runs[-1]['ratio']:.2f}x {best}, {info['seconds']:.0f}s", flush=True)
            json.dump(runs, open(os.path.join(out, "photos_curve.json"), "w"), indent=1)
    write_curve(runs, out)


def lowest_by(curve, seconds):
    """The (iteration, seconds, held-out error) a calibration stopped at `seconds` would have kept."""
    return min((c for c in curve if c[1] <= seconds), key=lambda c: c[2], default=None)


def write_curve(runs, out):
    marks = (60, 90, 120)
    lines = ["| CFG | steps | quality | vs best built-in | seconds | teacher s | kept iteration | lowest held-out error by "
             + ", ".join(f"{m} s" for m in marks) + " | held-out error kept |", "|---" * 9 + "|"]
    for r in runs:
        cells = ", ".join(f"{c[2]:.4f} (it {c[0]})" if (c := lowest_by(r["curve"], m)) else "-" for m in marks)
        lines.append(f"| {r['cfg']:g} | {r['steps']} | {r['quality']} | {r['ratio']:.2f}x ({r['best_builtin']}) | {r['seconds']:.0f} | "
                     f"{r['teacher_seconds']:.0f} | {r['kept_iteration']} | {cells} | {r['kept_error']:.4f} |")
    text = "\n".join(lines)
    open(os.path.join(out, "photos_curve.md"), "w").write(text + "\n")
    print(text)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cfgs = sorted({r["cfg"] for r in runs})
    fig, axes = plt.subplots(1, len(cfgs), figsize=(6 * len(cfgs), 4.2), squeeze=False)
    for ax, cfg in zip(axes[0], cfgs):
        for r in (r for r in runs if r["cfg"] == cfg):
            ax.semilogy([c[1] for c in r["curve"]], [c[2] for c in r["curve"]], marker="o", ms=3,
                        label=f"{r['quality']} ({r['ratio']:.2f}x {r['best_builtin']} in the benchmark)")
        ax.axvline(120, color="grey", ls="--", lw=1)
        ax.set_title(f"Photos-32, CFG {cfg:g}, {runs[0]['steps']} steps: calibration progress")
        ax.set_xlabel("seconds since the calibration started (2 CPUs; dashed: 2 minutes)")
        ax.set_ylabel("held-out error vs the teacher (geometric mean)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "photos_curve.png"), dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, nargs="+", default=STEPS)
    ap.add_argument("--cfg", type=float, nargs="+", default=CFGS)
    ap.add_argument("--no-transfer", action="store_true")
    ap.add_argument("--sweep", action="store_true", help="only the calibration variants (photos_sweep.md)")
    ap.add_argument("--variants", type=int, nargs="+", help="with --sweep: indices into SWEEP (default all)")
    ap.add_argument("--seeds", type=int, nargs="+", help="only the defaults over these calibration seeds (photos_seeds.md)")
    ap.add_argument("--lr", type=float, nargs="+", default=[0.02], help="with --seeds: the learning rates to compare")
    ap.add_argument("--select", nargs="+", default=["geomean"], help="with --seeds: the held-out statistics to compare")
    ap.add_argument("--quality", nargs="+", default=["balanced"], help="with --seeds: the presets to compare")
    ap.add_argument("--step-iterations", type=int, nargs="+", default=[0],
                    help="with --seeds: the iterations x steps to compare (an iteration unrolls every step; 0: the preset's)")
    ap.add_argument("--curve", type=int, metavar="STEPS", help="only held-out error against time, balanced and best (photos_curve.md)")
    ap.add_argument("--ceiling", action="store_true",
                    help="only the in-sample ceiling: tables fitted to the benchmark's own noises and reference "
                         "(photos_ceiling.md; --quality sets the training budget)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)
    bench = Bench()
    if args.sweep:
        return run_sweep(bench, args.cfg, args.out, args.variants)
    if args.curve:
        return run_curve(bench, args.curve, args.cfg, args.out)
    if args.ceiling:
        return run_ceiling(bench, args.cfg, [s for s in args.steps if 4 <= s <= 8], args.quality[0], args.out)
    if args.seeds:
        variants = [(quality, select, lr, budget) for quality in args.quality for select in args.select for lr in args.lr
                    for budget in args.step_iterations]
        return run_seeds(bench, args.seeds, variants, args.cfg, [s for s in args.steps if 4 <= s <= 8], args.out)
    rows = run_benchmark(bench, args.steps, args.cfg, args.out)
    transfer = None if args.no_transfer else run_transfer(bench, 6, 5.0, args.out)
    write_results(rows, transfer, args.out)


if __name__ == "__main__":
    main()
