"""Runs split across two KSamplerAdvanced nodes, on the built-in demo mixture with its shipped 4-step table: with one
model, how far the split dyweight run is from the unsplit one; with two (a pair of experts: a second mixture takes
over for the low-noise steps), each sampler's median error against the finely solved two-model ODE, split the same
way, and a table DyWeight Calibrate fitted to the pair (model_low_noise, switch_step). Writes
benchmarks/results/split_runs.{md,json}.

    python -m benchmarks.split_runs               # about 4 minutes on 2 CPUs (the pair calibrations)
"""
import os

import torch

from tooling.pack import load_pack
from tooling.results import bold_best, write_results

HERE = os.path.dirname(os.path.realpath(__file__))
STEPS = 4
SAMPLERS = ["dyweight", "ipndm", "euler", "dpmpp_2m", "lms"]
PAIR = "dyweight, pair table"


def pair_table(first, second, switch):
    from comfyui_dyweight.nodes.calibrate import DyWeightCalibrate
    model, positive, negative, latent = first
    with torch.inference_mode():
        return DyWeightCalibrate.execute(model, positive, negative, latent, STEPS, "karras", 1.0, learn_sigmas=False,
                                         model_low_noise=second[0], switch_step=switch).result[0]


def main():
    load_pack()
    from tooling import split_runs as sr
    first, second = sr.demo(seed=0, batch_size=16), sr.demo(seed=1, batch_size=16)
    rows = []
    for switch in (1, 2, 3):
        same = (sr.split(first, first, "dyweight", STEPS, switch) - sr.whole(first, "dyweight", STEPS)).abs().max().item()
        target = sr.reference(first, second, STEPS, switch)
        check = sr.median_error(sr.reference(first, second, STEPS, switch, fine=400), target)  # the reference's own error
        errors = {s: sr.median_error(sr.split(first, second, s, STEPS, switch), target) for s in SAMPLERS}
        errors[PAIR] = sr.median_error(sr.split_with_table(first, second, pair_table(first, second, switch), switch), target)
        rows.append({"switch": switch, "same_model_max_difference": same, "reference_error": check, "errors": errors})
    lines = [f"Demo mixture, {STEPS} steps on karras, 16 noises; two KSamplerAdvanced nodes switching at the step shown. "
             "Same model: largest difference of the split dyweight run from the unsplit one. Two models: median error "
             "against Heun on 200 log-even steps per part (its own distance to 400 steps shown).", "",
             "Columns: `dyweight` runs the shipped table, fitted on the first model alone; the pair table is DyWeight Calibrate's "
             "with model_low_noise and switch_step (balanced preset, learn_sigmas off).", "",
             "| switch at step | same model: split - unsplit | two models: " + " | ".join(SAMPLERS + [PAIR]) + " | reference's own error |",
             "|---" * (len(SAMPLERS) + 4) + "|"]
    for r in rows:
        cells = bold_best(r["errors"])
        lines.append(f"| {r['switch']} | {r['same_model_max_difference']:.1e} | " + " | ".join(cells) + f" | {r['reference_error']:.1e} |")
    write_results(os.path.join(HERE, "results"), "split_runs", "\n".join(lines), rows)


if __name__ == "__main__":
    main()
