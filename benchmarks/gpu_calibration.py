"""Calibration cost on a Stable-Diffusion-size network: seconds per iteration and peak GPU memory for
ComfyUI's SD1.5 UNetModel at 512 px (64x64 latent) or SDXL UNetModel at 1024 px (128x128), random fp16
weights, batch 2, 5 steps, CFG 7.5, with and without per-step gradient checkpointing. Needs a CUDA GPU;
prints a table, writes OUT/gpu_calibration[_sdxl].{json,md}.

    python -m benchmarks.gpu_calibration [--model sd15|sdxl] [--out DIR] [--iterations N]
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import torch

from tooling.pack import load_pack

HERE = os.path.dirname(os.path.realpath(__file__))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--iterations", type=int, default=12)
    ap.add_argument("--smoke", action="store_true", help="tiny UNet on the CPU: checks the script, measures nothing")
    ap.add_argument("--model", choices=["sd15", "sdxl"], default="sd15")
    args = ap.parse_args()
    if not torch.cuda.is_available() and not args.smoke:
        sys.exit("gpu_calibration.py needs a CUDA GPU (or --smoke)")
    load_pack(cpu=args.smoke)
    import comfy.model_management
    from tooling import comfy_models
    from comfyui_dyweight.dyweight_core.calibrate import CalibrationConfig
    from comfyui_dyweight.nodes.calibrate import run_calibration

    dtype = torch.float32 if args.smoke else torch.float16
    if args.model == "sdxl":  # 1024 px: 128x128 latent
        model, dim = comfy_models.sdxl_model(full=not args.smoke, dtype=dtype)
        cond = comfy_models.sdxl_conditioning(dim)
        size, label = 128, "SDXL UNetModel"
    else:  # 512 px: 64x64 latent
        model, dim = comfy_models.unet_model(full=not args.smoke, dtype=dtype)
        cond = comfy_models.unet_conditioning(dim, tokens=77)
        size, label = 64, "SD1.5 UNetModel"
    latent = {"samples": torch.zeros(1, 4, 8, 8) if args.smoke else torch.zeros(1, 4, size, size)}
    cuda = torch.cuda if torch.cuda.is_available() else None
    params = sum(p.numel() for p in model.model.diffusion_model.parameters())
    def measure(checkpoint, iterations):
        comfy.model_management.soft_empty_cache()
        if cuda:
            cuda.synchronize()
            cuda.reset_peak_memory_stats()
        config = CalibrationConfig(iterations=iterations, batch_size=2, window=3, teacher_steps=8,
                                   eval_every=10 ** 6, checkpoint=checkpoint, seed=0, learn_sigmas=False)
        started = time.time()
        try:
            table, info = run_calibration(model, cond, cond, latent, 5, "karras", 7.5, config, samples=4, holdout=2)
        except torch.cuda.OutOfMemoryError:
            return {"checkpointing": checkpoint, "seconds_per_iteration": float("nan"), "peak_gpu_gib": float("inf"),
                    "total_seconds": time.time() - started, "finite": False}
        if cuda:
            cuda.synchronize()
        stamps = [h["seconds"] for h in info["history"]]
        return {"checkpointing": checkpoint, "seconds_per_iteration": statistics.median(b - a for a, b in zip(stamps[:-1], stamps[1:])),
                "peak_gpu_gib": cuda.max_memory_allocated() / 2 ** 30 if cuda else 0.0, "total_seconds": time.time() - started,
                "finite": all(math.isfinite(w) for row in table.weights for w in row)}

    measure(True, 2)  # warm-up: cuDNN autotuning, allocator
    rows = []
    for checkpoint in (True, False):  # the memory-hungry one last: an out-of-memory is recorded, not fatal
        rows.append(measure(checkpoint, args.iterations))
        print(rows[-1], flush=True)
    device = cuda.get_device_name() if cuda else "CPU (smoke run)"
    lines = [f"{label} ({params / 1e6:.0f}M parameters, fp16, random weights) on {device}, torch {torch.__version__}: "
             f"{size}x{size} latent, batch 2, 5 steps, CFG 7.5 (cond+uncond batched), window 3.", "",
             "| gradient checkpointing | seconds / iteration | peak GPU memory |", "|---|---|---|"]
    lines += [f"| {'on' if r['checkpointing'] else 'off'} | {r['seconds_per_iteration']:.3f} | "
              f"{'out of memory' if r['peak_gpu_gib'] == float('inf') else format(r['peak_gpu_gib'], '.2f') + ' GiB'} |" for r in rows]
    text = "\n".join(lines)
    print(text)
    os.makedirs(args.out, exist_ok=True)
    name = "gpu_calibration" if args.model == "sd15" else f"gpu_calibration_{args.model}"
    json.dump({"device": device, "torch": torch.__version__, "rows": rows}, open(os.path.join(args.out, f"{name}.json"), "w"), indent=1)
    open(os.path.join(args.out, f"{name}.md"), "w").write(text + "\n")


if __name__ == "__main__":
    main()
