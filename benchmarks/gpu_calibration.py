"""Calibration cost on a Stable-Diffusion-size network: seconds per iteration and peak GPU memory for
ComfyUI's SD1.5 UNetModel (random fp16 weights), 64x64 latent, batch 2, 5 steps, CFG 7.5, with and
without per-step gradient checkpointing. Needs a CUDA GPU; prints a table, writes OUT/gpu_calibration.{json,md}.

    python benchmarks/gpu_calibration.py [--out DIR] [--iterations N]
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import torch

HERE = os.path.dirname(os.path.realpath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
from conftest import load_pack  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--iterations", type=int, default=12)
    ap.add_argument("--smoke", action="store_true", help="tiny UNet on the CPU: checks the script, measures nothing")
    args = ap.parse_args()
    if not torch.cuda.is_available() and not args.smoke:
        sys.exit("gpu_calibration.py needs a CUDA GPU (or --smoke)")
    load_pack(cpu=args.smoke)
    import comfy.model_management
    import comfy_models
    from comfyui_dyweight.dyweight_core.calibrate import CalibrationConfig
    from comfyui_dyweight.nodes.calibrate import run_calibration

    model, dim = comfy_models.unet_model(full=not args.smoke, dtype=torch.float32 if args.smoke else torch.float16)
    cond = comfy_models.unet_conditioning(dim, tokens=77)
    latent = {"samples": torch.zeros(1, 4, 8, 8) if args.smoke else torch.zeros(1, 4, 64, 64)}
    cuda = torch.cuda if torch.cuda.is_available() else None
    params = sum(p.numel() for p in model.model.diffusion_model.parameters())
    rows = []
    for checkpoint in (False, True, False):  # the first run also warms up cuDNN / allocator
        comfy.model_management.soft_empty_cache()
        if cuda:
            cuda.synchronize()
            cuda.reset_peak_memory_stats()
        config = CalibrationConfig(iterations=args.iterations, batch_size=2, window=3, teacher_steps=8,
                                   eval_every=10 ** 6, checkpoint=checkpoint, seed=0)
        started = time.time()
        table, info = run_calibration(model, cond, cond, latent, 5, "karras", 7.5, config, samples=4, holdout=2)
        if cuda:
            cuda.synchronize()
        stamps = [h["seconds"] for h in info["history"]]
        per_it = statistics.median(b - a for a, b in zip(stamps[:-1], stamps[1:]))
        rows.append({"checkpointing": checkpoint, "seconds_per_iteration": per_it,
                     "peak_gpu_gib": cuda.max_memory_allocated() / 2 ** 30 if cuda else 0.0,
                     "total_seconds": time.time() - started,
                     "finite": all(math.isfinite(w) for row in table.weights for w in row)})
        print(rows[-1], flush=True)
    rows = rows[1:]
    device = cuda.get_device_name() if cuda else "CPU (smoke run)"
    lines = [f"SD1.5 UNetModel ({params / 1e6:.0f}M parameters, fp16, random weights) on {device}, torch {torch.__version__}: "
             f"64x64 latent, batch 2, 5 steps, CFG 7.5 (cond+uncond batched), window 3.", "",
             "| gradient checkpointing | seconds / iteration | peak GPU memory |", "|---|---|---|"]
    lines += [f"| {'on' if r['checkpointing'] else 'off'} | {r['seconds_per_iteration']:.3f} | {r['peak_gpu_gib']:.2f} GiB |" for r in rows]
    text = "\n".join(lines)
    print(text)
    os.makedirs(args.out, exist_ok=True)
    json.dump({"device": device, "torch": torch.__version__, "rows": rows}, open(os.path.join(args.out, "gpu_calibration.json"), "w"), indent=1)
    open(os.path.join(args.out, "gpu_calibration.md"), "w").write(text + "\n")


if __name__ == "__main__":
    main()
