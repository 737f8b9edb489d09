"""Where a default calibration's time goes on this machine, for the built-in Photos-32 network: the phases of one
DyWeight Calibrate run at each CFG (cold teacher), and what one model call costs by batch size, forward alone
(teacher, held-out) and forward + backward (training), in PyTorch's default layout and in channels_last, with
the share of the model's time in its convolutions and matrix products. Writes benchmarks/results/photos_time.{md,json}.
--compile instead asks whether torch.compile would make the training's model calls cheaper: the bare UNet's forward
+ backward at batch 8 eager and compiled, with the compile's own seconds (results/photos_time_compile.{md,json}).

    python -m benchmarks.photos_time [--steps 6] [--repeats 15]   # about 5 minutes on 2 CPUs
    python -m benchmarks.photos_time --compile                    # about 5 minutes on 2 CPUs
"""
import argparse
import itertools
import json
import os
import statistics
import time

import torch

from benchmarks.photos_bench import Bench  # the real ComfyUI in-process, the model loaded as a checkpoint


HERE = os.path.dirname(os.path.realpath(__file__))


BATCHES = [8, 16, 32, 64]  # 8: a training batch at CFG 1; 16 at CFG 5 (cond + uncond); 32 / 64: the teacher's
CONV_OPS = ("aten::mkldnn_convolution", "aten::convolution_backward")
MATMUL_OPS = ("aten::addmm", "aten::mm", "aten::bmm", "aten::baddbmm")


def phases(seconds_total, report, steps):
    """Split one calibration's wall time by phase from its report (history times are cumulative; the training
    loop's time includes its held-out checks, a few tenths of a second each)."""
    marks = [h["seconds"] for h in report["history"]]
    per_iteration = statistics.median(b - a for a, b in itertools.pairwise(marks))
    loop_start = marks[0] - per_iteration
    return {"teacher": report["teacher_seconds"], "start search": loop_start - report["teacher_seconds"],
            "training": marks[-1] - loop_start, "final test": report["seconds"] - marks[-1],
            "node set-up": seconds_total - report["seconds"], "total": seconds_total, "iterations": len(marks),
            "ms per model call in training": 1000 * per_iteration / steps}


def model_inputs(batch, channels_last):
    from comfyui_dyweight.dyweight_core import photos
    size = photos.IMAGE_SIZE // photos.PATCH
    x = torch.randn(batch, photos.LATENT_CHANNELS, size, size, generator=torch.Generator().manual_seed(0))
    context = photos.class_context([1]).expand(batch, 1, len(photos.CLASSES)).clone()
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, torch.full((batch,), 500.0), context


def training_call(unet, x, t, context):
    """One forward and backward, the gradient reaching the latents only (the weights are frozen), as in training."""
    with torch.enable_grad():
        unet(x.clone().requires_grad_(True), t, context=context).square().sum().backward()


def call_ms(unet, batch, backward, channels_last, repeats):
    """Median milliseconds of one call of the bare UNet (what ComfyUI's wrapper calls)."""
    x, t, context = model_inputs(batch, channels_last)
    times = []
    for _ in range(repeats + 2):  # two warm-up calls: oneDNN builds its kernels on the first
        started = time.perf_counter()
        if backward:
            training_call(unet, x, t, context)
        else:
            with torch.no_grad():
                unet(x, t, context=context)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times[2:])


def op_shares(unet, batch, backward):
    """Share of the model's CPU time in convolutions and in matrix products (torch.profiler, self time)."""
    from torch.profiler import ProfilerActivity, profile
    x, t, context = model_inputs(batch, False)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(3):
            xx = x.clone().requires_grad_(backward)
            with torch.set_grad_enabled(backward):
                out = unet(xx, t, context=context)
                if backward:
                    out.square().sum().backward()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) or 1
    share = lambda names: sum(e.self_cpu_time_total for e in events if e.key in names) / total
    return share(CONV_OPS), share(MATMUL_OPS)


def frozen_unet(bench):
    from comfyui_dyweight.nodes.differentiable import make_weights_differentiable
    unet = bench.model.model.diffusion_model
    make_weights_differentiable(unet)  # the calibration's own step: ComfyUI made the weights under inference mode
    return unet.requires_grad_(False)


def measure_calls(bench, repeats):
    unet = frozen_unet(bench)
    rows = []
    for backward in (False, True):
        for batch in BATCHES:
            conv, matmul = op_shares(unet, batch, backward)
            rows.append({"pass": "forward + backward" if backward else "forward", "batch": batch,
                         "ms": call_ms(unet, batch, backward, False, repeats), "conv share": conv, "matmul share": matmul})
    unet.to(memory_format=torch.channels_last)
    for row in rows:
        row["ms channels_last"] = call_ms(unet, row["batch"], row["pass"] != "forward", True, repeats)
    unet.to(memory_format=torch.contiguous_format)
    return rows


def measure_compile(bench, repeats, batch=8):
    """Eager against torch.compile (inductor, static shapes) for one training call; the first compiled call compiles."""
    unet = frozen_unet(bench)
    eager = call_ms(unet, batch, True, False, repeats)
    compiled = torch.compile(unet, dynamic=False)
    x, t, context = model_inputs(batch, False)
    started = time.perf_counter()
    for _ in range(2):  # the first call compiles, the second recompiles for the grad state its guards saw
        training_call(compiled, x, t, context)
    first = time.perf_counter() - started
    return {"batch": batch, "eager ms": eager, "compiled ms": call_ms(compiled, batch, True, False, repeats),
            "compile seconds": first}


def write_compile(row, out):
    text = ("# torch.compile and one training call (Photos-32 bare UNet, forward + backward, 2 CPUs)\n\n"
            "| batch | eager ms | compiled ms | seconds to compile |\n|---|---|---|---|\n"
            f"| {row['batch']} | {row['eager ms']:.1f} | {row['compiled ms']:.1f} | {row['compile seconds']:.0f} |\n\n"
            "Seconds to compile: the first two compiled calls; a rerun finds inductor's on-disk cache and compiles faster.\n")
    save(out, "photos_time_compile", text, row)


def save(out, name, text, data):
    print(text)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, name + ".md"), "w") as f:
        f.write(text)
    with open(os.path.join(out, name + ".json"), "w") as f:
        json.dump(data, f, indent=1)


def write(calibrations, calls, steps, out):
    lines = [f"# Where a default calibration's time goes (Photos-32, {steps} steps, 2 CPUs)", "",
             "| CFG | " + " | ".join(calibrations[0]["phases"]) + " |", "|---" * (1 + len(calibrations[0]["phases"])) + "|"]
    for c in calibrations:
        lines.append(f"| {c['cfg']:g} | " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in c["phases"].values()) + " |")
    lines += ["", "One call of the bare UNet (median ms; at CFG 5 ComfyUI sends cond and uncond as one batch of twice the latents);",
              "conv / matmul: the share of its CPU time in convolutions / matrix products", "",
              "| pass | batch | ms | ms channels_last | conv | matmul |", "|---|---|---|---|---|---|"]
    for r in calls:
        lines.append(f"| {r['pass']} | {r['batch']} | {r['ms']:.1f} | {r['ms channels_last']:.1f} | {r['conv share']:.0%} | {r['matmul share']:.0%} |")
    save(out, "photos_time", "\n".join(lines) + "\n", {"steps": steps, "calibrations": calibrations, "calls": calls})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--out", default=os.path.join(HERE, "results"))
    ap.add_argument("--compile", action="store_true", help="only eager against torch.compile for a training call")
    args = ap.parse_args()
    torch.set_num_threads(2)
    bench = Bench()
    if args.compile:
        return write_compile(measure_compile(bench, args.repeats), args.out)
    calibrations = []
    for cfg in (1.0, 5.0):
        _, info = bench.calibrate(args.steps, cfg)  # the node's defaults, teacher cache cleared
        calibrations.append({"cfg": cfg, "phases": phases(info["seconds"], info["core"], args.steps)})
    write(calibrations, measure_calls(bench, args.repeats), args.steps, args.out)


if __name__ == "__main__":
    main()
