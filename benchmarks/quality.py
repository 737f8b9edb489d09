"""Quality vs steps on the exact demo mixture: calibrated dyweight against every deterministic one-call-per-step
built-in ComfyUI sampler, by median per-sample endpoint error against the exact ODE solution on held-out
noise. Also calibration wall time and peak memory (CPU). Writes benchmarks/results/quality.{md,json,png}.

    .venv/bin/python -m benchmarks.quality [--quick]
"""
import argparse
import json
import math
import os
import time

import torch

from tooling.measure import PeakRSS
from tooling.pack import load_pack
from tooling.samplers import BUILTINS

HERE = os.path.dirname(os.path.realpath(__file__))

SETTINGS = [("eps", "karras"), ("eps", "normal"), ("flow", "simple")]
STEPS = [3, 4, 5, 6, 8]
TEST_SEED, TEST_COUNT = 12345, 128


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer iterations and settings (smoke run)")
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    load_pack()
    import comfy.sample
    import comfy.samplers
    from comfyui_dyweight.dyweight_core.calibrate import CalibrationConfig, per_sample_rmse
    from comfyui_dyweight.dyweight_core.table import adams_bashforth_table
    from comfyui_dyweight.dyweight_core.mixture import GaussianMixture, reference_solve
    from comfyui_dyweight.nodes.calibrate import run_calibration
    from comfyui_dyweight.nodes.sampler import DyWeightSampler
    from comfyui_dyweight.nodes.mixture import prompt_conditioning, mixture_model

    mix = GaussianMixture.pictures()
    median_error = lambda out, truth: per_sample_rmse(out.double(), truth).median().item()
    cond = prompt_conditioning(mix, [])  # uniform prior: the unconditional mixture
    latent = torch.zeros((TEST_COUNT,) + mix.shape)
    noise = torch.randn(latent.shape, generator=torch.Generator().manual_seed(TEST_SEED))
    steps_list = [4, 6] if args.quick else STEPS
    rows, truths = [], {}
    for kind, scheduler in (SETTINGS[:1] + SETTINGS[2:] if args.quick else SETTINGS):
        model = mixture_model(kind, 3.0, mix)
        sampling = model.get_model_object("model_sampling")
        for steps in steps_list:
            sigmas = comfy.samplers.calculate_sigmas(sampling, scheduler, steps)
            x_T = sampling.noise_scaling(sigmas[0], noise.clone(), torch.zeros_like(noise), True)
            key = (kind, float(sigmas[0]))
            if key not in truths:
                truths[key] = reference_solve(mix.denoiser(kind), kind, x_T.double(), float(sigmas[0]))
            truth = truths[key]
            # a fresh copy each run: ComfyUI's uni_pc samplers overwrite the last sigma in place
            run = lambda sampler: comfy.sample.sample_custom(model, noise, 1.0, sampler, sigmas.clone(), cond, cond, latent, disable_pbar=True)
            errors = {name: median_error(run(comfy.samplers.sampler_object(name)), truth) for name in BUILTINS}
            fallback = adams_bashforth_table(sigmas.tolist())  # explicit: a shipped demo table would be found otherwise
            errors["dyweight (fallback)"] = median_error(run(DyWeightSampler.execute(table=fallback).result[0]), truth)
            config = CalibrationConfig(iterations=100 if args.quick else 400, lr=1e-2 if kind == "flow" else 3e-3,
                                       batch_size=16, window=min(3, steps), teacher="heun", teacher_steps=256,
                                       init="adams_bashforth", loss="rmse", teacher_rho=0, select="median", learn_sigmas=False,  # as the mixture numbers were made
                                       convention="velocity" if kind == "flow" else "denoiser", seed=0)
            with PeakRSS() as mem:
                started = time.time()
                table, info = run_calibration(model, cond, cond, {"samples": torch.zeros((1,) + mix.shape)}, steps,
                                              scheduler, 1.0, config, samples=128, holdout=32)
                seconds = time.time() - started
            errors["dyweight (calibrated)"] = median_error(run(DyWeightSampler.execute(table=table).result[0]), truth)
            best_name = min(BUILTINS, key=errors.get)
            row = {"model": kind, "scheduler": scheduler, "steps": steps, "errors": errors, "best_builtin": best_name,
                   "ratio": errors[best_name] / errors["dyweight (calibrated)"], "calib_seconds": seconds,
                   "calib_peak_mb": mem.peak / 2**20}
            rows.append(row)
            print(f"{kind:5s} {scheduler:7s} {steps} steps: dyweight {errors['dyweight (calibrated)']:.5f}  best built-in "
                  f"{best_name} {errors[best_name]:.5f}  ratio {row['ratio']:.2f}  calib {seconds:.1f}s {row['calib_peak_mb']:.0f} MB",
                  flush=True)
    write_results(rows, args.out)


def write_results(rows, out):
    os.makedirs(out, exist_ok=True)
    json.dump(rows, open(os.path.join(out, "quality.json"), "w"), indent=1)
    names = BUILTINS + ["dyweight (fallback)", "dyweight (calibrated)"]
    lines = ["| model / scheduler | steps | " + " | ".join(names) + " | best built-in / dyweight | calibration s | peak MB |",
             "|---" * (len(names) + 5) + "|"]
    for r in rows:
        best = min(r["errors"][n] for n in BUILTINS)
        cells = [(f"**{r['errors'][n]:.4f}**" if r["errors"][n] == best or n == "dyweight (calibrated)" else f"{r['errors'][n]:.4f}") for n in names]
        lines.append(f"| {r['model']} / {r['scheduler']} | {r['steps']} | " + " | ".join(cells) +
                     f" | {r['ratio']:.1f}x | {r['calib_seconds']:.0f} | {r['calib_peak_mb']:.0f} |")
    goal = [r for r in rows if 4 <= r["steps"] <= 8]
    gmean = math.exp(sum(math.log(r["ratio"]) for r in goal) / max(1, len(goal)))
    lines += ["", f"Settings with 4-8 steps where calibrated dyweight beats the best built-in: "
                  f"{sum(r['ratio'] > 1 for r in goal)}/{len(goal)}; geometric mean ratio {gmean:.2f}."]
    text = "\n".join(lines)
    open(os.path.join(out, "quality.md"), "w").write(text + "\n")
    print(text)
    plot(rows, os.path.join(out, "quality.png"))


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    groups = sorted({(r["model"], r["scheduler"]) for r in rows})
    fig, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 4), squeeze=False)
    for ax, (kind, sched) in zip(axes[0], groups):
        sel = [r for r in rows if (r["model"], r["scheduler"]) == (kind, sched)]
        steps = [r["steps"] for r in sel]
        for name in BUILTINS + ["dyweight (calibrated)"]:
            style = dict(lw=3, color="crimson") if name.startswith("dyweight") else dict(lw=1, alpha=0.6)
            ax.semilogy(steps, [r["errors"][name] for r in sel], marker="o", label=name, **style)
        ax.set_title(f"{kind} / {sched}")
        ax.set_xlabel("steps (= model calls)")
        ax.set_ylabel("median endpoint error")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
