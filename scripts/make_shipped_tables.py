"""Regenerates the tables shipped in coefficients/: made by DyWeight Calibrate's own code path on the
built-in demo model (the only model this repository can calibrate without a download).

    .venv/bin/python -m scripts.make_shipped_tables
"""
import os

import torch

from tooling.pack import load_pack
from tooling.paths import ROOT

SHIPPED = [("eps", "karras", 4)]  # kind, scheduler, steps: what `make demo` and the demo workflow sample


def main():
    load_pack()
    from comfyui_dyweight.dyweight_core.calibrate import CalibrationConfig
    from comfyui_dyweight.dyweight_core.table import save_table
    from comfyui_dyweight.nodes.calibrate import run_calibration
    from comfyui_dyweight.nodes.mixture import DyWeightDemoModel
    for kind, scheduler, steps in SHIPPED:
        model, pos, neg, latent = DyWeightDemoModel.execute(kind, 3.0, 1, 0).result
        config = CalibrationConfig(iterations=400, lr=1e-2 if kind == "flow" else 3e-3, batch_size=16, window=3,
                                   teacher="heun", teacher_steps=256, init="adams_bashforth", learn_sigmas=False,  # as the shipped tables were made
                                   convention="velocity" if kind == "flow" else "denoiser")
        table, info = run_calibration(model, pos, neg, latent, steps, scheduler, 1.0, config, samples=128, holdout=32)
        table.provenance["source"] = "shipped: DyWeight Calibrate on the built-in demo model (scripts/make_shipped_tables.py)"
        path = os.path.join(ROOT, "coefficients", f"demo_{kind}_{scheduler}_{steps}steps.yaml")
        save_table(table, path, overwrite=True)
        print(f"{path}: test median {info['test_median_calibrated']:.5f} (fallback {info['test_median_fallback']:.5f})")


if __name__ == "__main__":
    with torch.inference_mode():  # as ComfyUI runs nodes
        main()
