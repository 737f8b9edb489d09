"""Memory of one FLUX calibration step (ComfyUI's Flux class, detected as for a real file; 4-step student
unrolled and back-propagated, batch 2), in the three ways calibration can keep what autograd saves from
the Flux blocks, which update activations in place:

- before: copies of everything autograd saves (each Linear's weight too: a copy of the weights per call);
- activations: copies of the activations only (the default without checkpointing);
- checkpointing: per-step recomputation (the default on GPUs), which needs no copies at all.

Each mode runs in its own process (peak RSS is per process). Prints a table, writes results/flux_memory.{json,md}.

    python -m benchmarks.flux_calibration_memory [--hidden 512] [--depth 2]
"""
import argparse
import json
import os
import resource
import subprocess
import sys

from tooling.results import write_results

HERE = os.path.dirname(os.path.realpath(__file__))
MODES = {"before": "copies of every saved tensor (weights too)", "activations": "copies of activations only",
         "checkpointing": "checkpointing, no copies"}


def step(mode, hidden, depth):
    from tooling.pack import load_pack
    load_pack()
    import torch
    import comfy.samplers
    from tooling import comfy_models
    from comfyui_dyweight.dyweight_core.solver import unroll
    from comfyui_dyweight.dyweight_core.table import euler_table
    from comfyui_dyweight.nodes import differentiable as cal
    model = comfy_models.detected_flux(sizes=dict(hidden_size=hidden, num_heads=hidden // 128, axes_dim=[16, 56, 56],
                                                  depth=depth, depth_single_blocks=depth, mlp_ratio=4.0, context_in_dim=32))
    cond = comfy_models.flux_conditioning()
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "simple", 4)
    result = {}

    def one_step(model_wrap, sigmas, extra_args, noise):
        denoise = lambda x, s: model_wrap(x, s * x.new_ones([x.shape[0]]), **extra_args)
        copied, ckpt = [], None
        if mode == "checkpointing":
            ckpt = lambda fn, *a: torch.utils.checkpoint.checkpoint(fn, *a, use_reentrant=False)
        else:
            denoise = cal.with_saved_copies(denoise, cal.weight_pointers(model_wrap.inner_model) if mode == "activations" else set(), copied)
        table = euler_table(sigmas.tolist())
        W = torch.tensor(table.weights, dtype=torch.float64, requires_grad=True)
        x = torch.randn(noise.shape, generator=torch.Generator().manual_seed(0))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        unroll(denoise, x, sigmas.tolist(), table.replace(weights=W), checkpoint=ckpt).square().mean().backward()
        result.update(copied_mb=sum(copied) / 2 ** 20, peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      rss_before_step_mb=before / 1024, grad=W.grad.abs().sum().item(),
                      weights_mb=sum(p.numel() * p.element_size() for p in model_wrap.inner_model.diffusion_model.parameters()) / 2 ** 20)

    comfy_models.inside_calibration(model, cond, sigmas, (2, 16, 32, 32), one_step)
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--mode", choices=list(MODES), help=argparse.SUPPRESS)  # internal: one mode, in this process
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    if args.mode:
        print(json.dumps(step(args.mode, args.hidden, args.depth)))
        return
    rows = {}
    for mode in MODES:
        out = subprocess.run([sys.executable, "-m", "benchmarks.flux_calibration_memory", "--mode", mode, "--hidden", str(args.hidden),
                              "--depth", str(args.depth)], capture_output=True, text=True, check=True, cwd=os.path.dirname(HERE)).stdout
        rows[mode] = json.loads(out.strip().splitlines()[-1])
    head = (f"Flux class (hidden {args.hidden}, {args.depth} double + {args.depth} single blocks, "
            f"{rows['before']['weights_mb']:.0f} MB of fp32 weights), CPU, 32x32 latent (256 px), batch 2, 4 steps, one step of calibration.")
    lines = [head, "", "| saved tensors | copies made (MB) | peak RSS (MB) | peak RSS added by the step (MB) |", "|---|---|---|---|"]
    for mode, label in MODES.items():
        r = rows[mode]
        lines.append(f"| {label} | {r['copied_mb']:.0f} | {r['peak_rss_mb']:.0f} | {r['peak_rss_mb'] - r['rss_before_step_mb']:.0f} |")
    grads = {m: r["grad"] for m, r in rows.items()}
    lines += ["", f"Gradient sums (must agree): {', '.join(f'{m} {g:.6g}' for m, g in grads.items())}"]
    write_results(args.out, "flux_memory", "\n".join(lines), {"rows": rows, "hidden": args.hidden, "depth": args.depth})


if __name__ == "__main__":
    main()
