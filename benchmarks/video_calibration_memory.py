"""How calibration memory grows with a video's frames: one calibration step (a 4-step student unrolled through
ComfyUI's own Wan 2.1 class at CFG 1, back-propagated, batch 2) at 256 px for 1 to 9 latent frames (1 to 33 video
frames), with and without checkpointing, each in its own process (peak RSS is per process). CPU, random weights,
a narrow model (tooling/families.py's Wan 2.1 at the width given). Prints a table, writes
results/video_memory.{json,md}.

    python -m benchmarks.video_calibration_memory [--dim 256] [--layers 2]
"""
import argparse
import json
import os
import resource
import subprocess
import sys

from tooling.results import write_results

HERE = os.path.dirname(os.path.realpath(__file__))
FRAMES = [1, 3, 5, 9]  # latent frames: 1 + (video frames - 1) / 4


def step(frames, checkpointing, dim, layers):
    from tooling.pack import load_pack
    load_pack()
    import dataclasses
    import torch
    import comfy.samplers
    from tooling import comfy_models
    from tooling.families import FAMILIES
    from comfyui_dyweight.dyweight_core.solver import unroll
    from comfyui_dyweight.dyweight_core.table import euler_table
    wan = next(f for f in FAMILIES if f.config == "WAN21_T2V")
    wan = dataclasses.replace(wan, unet=dict(wan.unet, dim=dim, ffn_dim=4 * dim, num_heads=dim // 64, num_layers=layers))
    model, cond = wan.model(), wan.conditioning()
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "simple", 4)
    result = {}

    def one_step(model_wrap, sigmas, extra_args, noise):
        denoise = lambda x, s: model_wrap(x, s * x.new_ones([x.shape[0]]), **extra_args)
        ckpt = (lambda fn, *a: torch.utils.checkpoint.checkpoint(fn, *a, use_reentrant=False)) if checkpointing else None
        table = euler_table(sigmas.tolist())
        W = torch.tensor(table.weights, dtype=torch.float64, requires_grad=True)
        x = torch.randn(noise.shape, generator=torch.Generator().manual_seed(0))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        unroll(denoise, x, sigmas.tolist(), table.replace(weights=W), checkpoint=ckpt).square().mean().backward()
        result.update(peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, rss_before_step_mb=before / 1024,
                      tokens=frames * 16 * 16, grad=W.grad.abs().sum().item(),
                      weights_mb=sum(p.numel() * p.element_size() for p in model_wrap.inner_model.diffusion_model.parameters()) / 2 ** 20)

    comfy_models.inside_calibration(model, cond, sigmas, (2, 16, frames, 32, 32), one_step)
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--one", nargs=2, type=int, help=argparse.SUPPRESS)  # internal: frames, checkpointing in this process
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    if args.one:
        print(json.dumps(step(args.one[0], bool(args.one[1]), args.dim, args.layers)))
        return
    rows = []
    for frames in FRAMES:
        for checkpointing in (0, 1):
            out = subprocess.run([sys.executable, "-m", "benchmarks.video_calibration_memory", "--one", str(frames), str(checkpointing),
                                  "--dim", str(args.dim), "--layers", str(args.layers)],
                                 capture_output=True, text=True, check=True, cwd=os.path.dirname(HERE)).stdout
            rows.append(dict(json.loads(out.strip().splitlines()[-1]), frames=frames, checkpointing=bool(checkpointing)))
    head = (f"Wan 2.1 class (dim {args.dim}, {args.layers} layers, {rows[0]['weights_mb']:.0f} MB of fp32 weights), CPU, 256 px "
            "(32x32 latent, 16x16 tokens a frame), batch 2, 4 steps, CFG 1, one step of calibration: peak RSS the step added.")
    lines = [head, "", "| latent frames (video frames) | tokens | checkpointing off (MB) | checkpointing on (MB) |", "|---|---|---|---|"]
    for frames in FRAMES:
        off, on = (next(r for r in rows if r["frames"] == frames and r["checkpointing"] == c) for c in (False, True))
        added = lambda r: r["peak_rss_mb"] - r["rss_before_step_mb"]
        lines.append(f"| {frames} ({1 + 4 * (frames - 1)}) | {off['tokens']} | {added(off):.0f} | {added(on):.0f} |")
    write_results(args.out, "video_memory", "\n".join(lines), {"rows": rows, "dim": args.dim, "layers": args.layers})


if __name__ == "__main__":
    main()
