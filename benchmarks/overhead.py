"""The sampler's own cost: wall time per step of dyweight vs ComfyUI's ipndm on a nearly free model with
a large latent, and the latent-sized buffers each holds between model calls, side by side in one run.
Writes benchmarks/results/overhead.{md,json}.

    .venv/bin/python -m benchmarks.overhead [--repeats N]
"""
import argparse
import gc
import json
import os
import statistics
import time

import torch

from tooling.pack import load_pack

HERE = os.path.dirname(os.path.realpath(__file__))

SHAPES = {"image 4x128x128 (SD 1024px)": (1, 4, 128, 128), "video 16x21x60x104 (Wan 480p)": (1, 16, 21, 60, 104)}
STEPS = 20


def free_model(x, sigma, **kwargs):
    """Nearly free: one multiply, so the sampler's own arithmetic dominates."""
    return x * 0.5


def held_buffers(sampler, shape, sigmas):
    """Latent-sized tensors the sampler keeps alive across a model call, besides the model's input and
    the caller's own x (max over calls)."""
    counts, numel = [], torch.Size(shape).numel()

    def counting(xx, sigma, **kw):
        gc.collect()
        live = [o for o in gc.get_objects() if torch.is_tensor(o) and o.numel() == numel and o is not xx]
        counts.append(len(live) - 1)  # minus the caller's x
        return free_model(xx, sigma)
    sampler(counting, torch.randn(shape), sigmas, disable=True)
    return max(counts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    args = ap.parse_args()
    torch.set_num_threads(2)
    load_pack(cpu=args.device == "cpu")
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    import comfy.k_diffusion.sampling as kd
    from comfyui_dyweight.dyweight_core.solver import sample_with_table
    from comfyui_dyweight.dyweight_core.table import adams_bashforth_table

    sigmas = kd.get_sigmas_karras(STEPS, 0.0292, 14.6146)
    table = adams_bashforth_table(sigmas.tolist())
    samplers = {"ipndm": kd.sample_ipndm, "dyweight": lambda m, x, s, disable=None: sample_with_table(m, x, s, disable=disable, table=table)}
    rows = []
    for label, shape in SHAPES.items():
        x = torch.randn(shape, device=args.device)
        times = {name: [] for name in samplers}
        for _ in range(args.repeats):  # interleaved, so drift hits both alike
            for name, fn in samplers.items():
                sync()
                start = time.perf_counter()
                fn(free_model, x, sigmas.to(args.device), disable=True)
                sync()
                times[name].append((time.perf_counter() - start) / STEPS * 1e3)
        ms = {name: statistics.median(v) for name, v in times.items()}
        buffers = {name: held_buffers(fn, shape, sigmas) for name, fn in samplers.items()}
        rows.append({"latent": label, "elements": x.numel(), "ms_per_step": ms, "overhead": ms["dyweight"] / ms["ipndm"] - 1,
                     "buffers": buffers, "window": table.window})
        print(rows[-1], flush=True)
    where = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    lines = [f"{STEPS} steps, nearly free model (x * 0.5), {where}, median of {args.repeats} interleaved runs; dyweight runs the "
             f"Adams-Bashforth table (window {table.window}) so both do the same maths.", "",
             "| latent | ipndm ms/step | dyweight ms/step | dyweight vs ipndm | latent buffers held across a model call: ipndm | dyweight | goal: at most window + 1 |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['latent']} | {r['ms_per_step']['ipndm']:.2f} | {r['ms_per_step']['dyweight']:.2f} | {r['overhead'] * 100:+.1f}% | "
                     f"{r['buffers']['ipndm']} | {r['buffers']['dyweight']} | {r['window'] + 1} |")
    text = "\n".join(lines)
    print(text)
    os.makedirs(args.out, exist_ok=True)
    suffix = "" if args.device == "cpu" else "_" + args.device
    json.dump(rows, open(os.path.join(args.out, f"overhead{suffix}.json"), "w"), indent=1)
    open(os.path.join(args.out, f"overhead{suffix}.md"), "w").write(text + "\n")


if __name__ == "__main__":
    main()
