"""A split run on a trained pair: DyWeight Photos-32 for the high-noise steps, its low-noise expert (trained on further
at sigmas up to 1) for the rest, as Wan 2.2 splits its two experts over two KSamplerAdvanced nodes. Each sampler's
median error against the finely solved two-model ODE (Heun, 200 log-even steps per part): a table calibrated for the
pair (DyWeight Calibrate with model_low_noise and switch_step), a table calibrated on the first model alone (what a
user without the pair input would do), and the built-ins split the same way. Writes results/photos_pair.{md,json}
and docs/photos_pair.png (the first eight noises at the first switch step: the pair template's thumbnail).

    python -m benchmarks.photos_pair              # CFG 5, 6 steps on karras; about 15 minutes on 2 CPUs
"""
import os

import torch
from PIL import Image, ImageDraw

from scripts.photos_figures import CELL, tile
from tooling.pack import load_pack
from tooling.paths import ROOT
from tooling.results import bold_best, write_results

HERE = os.path.dirname(os.path.realpath(__file__))
STEPS, CFG, SWITCHES, NOISES = 6, 5.0, (3, 4), 64
SAMPLERS = ["ipndm", "euler", "dpmpp_2m", "lms", "gradient_estimation"]


def calibrate(first, low=None, switch=0):
    from comfyui_dyweight.nodes.calibrate import DyWeightCalibrate
    model, positive, negative, latent = first
    pair = {} if low is None else {"model_low_noise": low, "switch_step": switch}
    with torch.inference_mode():
        table, report, _ = DyWeightCalibrate.execute(model, positive, negative, latent, STEPS, "karras", CFG,
                                                     learn_sigmas=False, **pair).result
    return table, float(report.split("time: ")[1].split("s")[0])


def picture(rows, path, shown=8):
    """One row of decoded pictures per (label, latents)."""
    from comfyui_dyweight.dyweight_core import photos
    label_w = 250
    fig = Image.new("RGB", (label_w + shown * (CELL + 2), len(rows) * (CELL + 4)), "white")
    draw = ImageDraw.Draw(fig)
    for k, (label, latents) in enumerate(rows):
        draw.text((6, k * (CELL + 4) + CELL // 2 - 6), label, fill="black")
        fig.paste(tile(photos.latent_to_image(latents[:shown])), (label_w, k * (CELL + 4)))
    fig.save(path)


def main():
    load_pack()
    import comfy.samplers
    from tooling import split_runs as sr
    first, second = sr.photos_pair(NOISES)
    sigmas = comfy.samplers.calculate_sigmas(first[0].get_model_object("model_sampling"), "karras", STEPS).tolist()
    one_model, one_seconds = calibrate(first)
    rows = []
    for switch in SWITCHES:
        target = sr.reference(first, second, STEPS, switch, cfg=CFG)
        pair, pair_seconds = calibrate(first, second[0], switch)
        ends = {"dyweight (pair table)": sr.split_with_table(first, second, pair, switch, cfg=CFG),
                "dyweight (first model's table)": sr.split_with_table(first, second, one_model, switch, cfg=CFG),
                **{s: sr.split(first, second, s, STEPS, switch, cfg=CFG) for s in SAMPLERS}}
        errors = {name: sr.median_error(x, target) for name, x in ends.items()}
        if switch == SWITCHES[0]:
            picture([("two-model ODE (Heun, 200 steps a part)", target)] + [(f"{n}: {errors[n]:.3f}", ends[n]) for n in
                     ("dyweight (pair table)", "dyweight (first model's table)", "ipndm")], os.path.join(ROOT, "docs", "photos_pair.png"))
        check = sr.median_error(sr.reference(first, second, STEPS, switch, fine=400, cfg=CFG), target) if switch == SWITCHES[0] else None
        apart = sr.median_error(sr.reference(first, first, STEPS, switch, cfg=CFG), target)  # how far the expert moves the ODE
        rows.append({"switch": switch, "switch_sigma": sigmas[switch], "errors": errors, "reference_error": check, "first_model_ode": apart,
                     "pair_seconds": pair_seconds, "one_model_seconds": one_seconds})
        print(switch, errors, flush=True)
    names = list(rows[0]["errors"])
    lines = [f"DyWeight Photos-32 and its low-noise expert, {STEPS} steps on karras, CFG {CFG:g}, {NOISES} noises (every class); "
             "two KSamplerAdvanced nodes switching models at the step shown. Median error against the two-model ODE solved with "
             "Heun on 200 log-even steps per part (its own distance to 400 steps shown at the first switch). Tables: DyWeight Calibrate at the "
             "balanced preset with learn_sigmas off, for the pair (model_low_noise, switch_step) or for the first model alone. "
             "'The first model's own ODE': its fine solve without the expert, against the pair's: how far apart the two models are.", "",
             "| switch at step (sigma) | " + " | ".join(names) + " | reference's own error | the first model's own ODE | pair calibration |",
             "|---" * (len(names) + 4) + "|"]
    for r in rows:
        cells = bold_best(r["errors"])
        lines.append(f"| {r['switch']} ({r['switch_sigma']:.3f}) | " + " | ".join(cells) + f" | {'-' if r['reference_error'] is None else format(r['reference_error'], '.1e')} | {r['first_model_ode']:.4f} | {r['pair_seconds']:.0f} s |")
    write_results(os.path.join(HERE, "results"), "photos_pair", "\n".join(lines), rows)


if __name__ == "__main__":
    main()
