"""Sampler quality on a trained network: the built-in DyWeight Photos-32 UNet, loaded by ComfyUI.

For 3-8 steps on karras (and on the `dyweight` scheduler for tables that learned their sigmas), CFG 1
and 5: the median endpoint error on held-out noise against a 200-step reference, for every
deterministic one-call-per-step built-in sampler and for dyweight calibrated by DyWeight Calibrate's
own code at its default settings; calibration seconds and peak memory. Then the transfer test: a table
calibrated on four classes, evaluated on the other four. Writes results/photos_quality.{md,json,png}.

    python -m benchmarks.photos_quality            # the whole table (about 40 minutes on 2 CPUs)

The other experiments on this network: photos_sweep, photos_seeds, photos_curve, photos_ceiling (their docstrings).
"""
import json
import os

import torch

from benchmarks.photos_bench import ALL, EVAL_COUNT, GROUP_A, GROUP_B, REFERENCE_STEPS, arguments, gmean, medians, start
from tooling.samplers import BUILTINS

def run_benchmark(bench, steps_list, cfgs, out):
    """Every built-in and calibrated dyweight (karras; learned sigmas on the `dyweight` scheduler) per (cfg, steps).
    Each row keeps every held-out noise's error (for noise_interval) and the calibrated tables themselves, so the
    tables can be judged again on other noises without calibrating again."""
    rows = []
    for cfg in cfgs:
        for steps in steps_list:
            per_noise = bench.builtin_noise_errors("karras", steps, cfg)
            errors, best = medians(per_noise)
            row = {"cfg": cfg, "steps": steps, "errors": errors, "best_builtin": best, "calibrations": {}}
            for label, settings in (("karras", {"learn_sigmas": False}), ("dyweight", {"learn_sigmas": True})):
                table, info = bench.calibrate(steps, cfg, **settings)
                per_noise[f"dyweight ({label})"] = bench.table_noise_errors(table, cfg)
                err = per_noise[f"dyweight ({label})"].median().item()
                row["errors"][f"dyweight ({label})"] = err
                row["calibrations"][label] = {"seconds": info["seconds"], "peak_mb": info["peak_mb"],
                                              "ratio": errors[best] / err, "table": table.to_dict()}
                print(f"cfg {cfg:g} {steps} steps: dyweight/{label} {err:.4f} vs {best} {errors[best]:.4f}: "
                      f"{errors[best] / err:.2f}x, calibration {info['seconds']:.0f}s {info['peak_mb']:.0f} MB", flush=True)
            row["noise_errors"] = {name: e.tolist() for name, e in per_noise.items()}
            rows.append(row)
            json.dump(rows, open(os.path.join(out, "photos_quality.json"), "w"), indent=1)
    return rows


def run_transfer(bench, steps, cfg, out):
    """Calibrate on classes A (astronaut, cat, coffee, galaxies), evaluate on B (cells, motorcycle, retina, rocket)."""
    errors, best = bench.builtin_errors("karras", steps, cfg, GROUP_B)
    result = {"steps": steps, "cfg": cfg, "best_builtin": best, "best_builtin_error": errors[best]}
    for label, classes in (("calibrated on A, tested on B", GROUP_A), ("calibrated on B, tested on B", GROUP_B),
                           ("calibrated on all, tested on B", ALL)):
        table, _ = bench.calibrate(steps, cfg, classes=classes, learn_sigmas=True)
        result[label] = bench.table_error(table, cfg, GROUP_B)
        print(f"transfer {label}: {result[label]:.4f} (best built-in {best} {errors[best]:.4f})", flush=True)
    json.dump(result, open(os.path.join(out, "photos_transfer.json"), "w"), indent=1)
    return result


def noise_interval(rows, label, draws=2000, level=0.95):
    """How much the ratios owe to which 64 noises judge them: each ratio and the 4-8 step geometric mean recomputed on
    the held-out noises resampled with replacement (one draw for every sampler and count, as they share the noises;
    the best built-in chosen again in each draw). Returns {(cfg, steps): (low, high)} and {cfg: (low, high)}.
    The calibration seed's spread is not in it (see --seeds)."""
    gen = torch.Generator().manual_seed(0)
    picks = torch.randint(0, EVAL_COUNT, (draws, EVAL_COUNT), generator=gen)
    quantiles = torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64)
    bounds = lambda samples: tuple(torch.quantile(samples, quantiles).tolist())
    per_row, by_cfg = {}, {}
    for r in rows:
        builtins = torch.tensor([r["noise_errors"][n] for n in BUILTINS], dtype=torch.float64)[:, picks]
        ours = torch.tensor(r["noise_errors"][f"dyweight ({label})"], dtype=torch.float64)[picks]
        ratios = builtins.median(-1).values.min(0).values / ours.median(-1).values  # torch's median, as the table's
        per_row[r["cfg"], r["steps"]] = bounds(ratios)
        if 4 <= r["steps"] <= 8:
            by_cfg.setdefault(r["cfg"], []).append(ratios.log())
    return per_row, {cfg: bounds(torch.stack(logs).mean(0).exp()) for cfg, logs in by_cfg.items()}


def write_results(rows, transfer, out):
    names = BUILTINS + ["dyweight (karras)", "dyweight (dyweight)"]
    intervals = {label: noise_interval(rows, label) for label in ("karras", "dyweight")}
    lines = ["| cfg | steps | " + " | ".join(names) + " | best built-in / dyweight | 95% interval over the noises | "
             "calibration s | peak MB |", "|---" * (len(names) + 6) + "|"]
    for r in rows:
        best = r["errors"][r["best_builtin"]]
        cal = r["calibrations"]["dyweight"]
        low, high = intervals["dyweight"][0][r["cfg"], r["steps"]]
        cells = [f"**{r['errors'][n]:.4f}**" if r["errors"][n] == best or n.startswith("dyweight") else f"{r['errors'][n]:.4f}"
                 for n in names]
        lines.append(f"| {r['cfg']:g} | {r['steps']} | " + " | ".join(cells) +
                     f" | {cal['ratio']:.2f}x | {low:.2f}-{high:.2f}x | {cal['seconds']:.0f} | {cal['peak_mb']:.0f} |")
    lines.append("")
    for label in ("karras", "dyweight"):
        for cfg in sorted({r["cfg"] for r in rows}):
            goal = [r["calibrations"][label]["ratio"] for r in rows if r["cfg"] == cfg and 4 <= r["steps"] <= 8]
            if goal:
                low, high = intervals[label][1][cfg]
                lines.append(f"- dyweight calibrated on {label}, CFG {cfg:g}, 4-8 steps: beats the best built-in in "
                             f"{sum(g > 1 for g in goal)}/{len(goal)}, geometric-mean ratio {gmean(goal):.2f} "
                             f"(95% interval over the held-out noises {low:.2f}-{high:.2f})")
    if transfer:
        t = transfer
        lines += ["", f"Transfer ({t['steps']} steps, CFG {t['cfg']:g}, tested on classes cells, motorcycle, retina, rocket; "
                      f"best built-in {t['best_builtin']} {t['best_builtin_error']:.4f}):", ""]
        lines += [f"- {k}: {t[k]:.4f} ({t['best_builtin_error'] / t[k]:.2f}x)" for k in t if k.startswith("calibrated")]
    text = "\n".join(lines)
    open(os.path.join(out, "photos_quality.md"), "w").write(text + "\n")
    print(text)
    plot(rows, os.path.join(out, "photos_quality.png"))


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cfgs = sorted({r["cfg"] for r in rows})
    fig, axes = plt.subplots(1, len(cfgs), figsize=(6 * len(cfgs), 4.5), squeeze=False)
    for ax, cfg in zip(axes[0], cfgs):
        sel = [r for r in rows if r["cfg"] == cfg]
        steps = [r["steps"] for r in sel]
        for name in BUILTINS + ["dyweight (karras)", "dyweight (dyweight)"]:
            style = dict(lw=3, color="crimson" if name.endswith("(dyweight)") else "darkorange") if name.startswith("dyweight") \
                else dict(lw=1, alpha=0.6)
            ax.semilogy(steps, [r["errors"][name] for r in sel], marker="o", label=name, **style)
        ax.set_title(f"DyWeight Photos-32, CFG {cfg:g}: error vs a {REFERENCE_STEPS}-step solve")
        ax.set_xlabel("steps (= model calls)")
        ax.set_ylabel("median endpoint error (RMSE, pixels in [-1, 1])")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = arguments(__doc__)
    ap.add_argument("--no-transfer", action="store_true")
    args = ap.parse_args()
    bench = start(args)
    rows = run_benchmark(bench, args.steps, args.cfg, args.out)
    transfer = None if args.no_transfer else run_transfer(bench, 6, 5.0, args.out)
    write_results(rows, transfer, args.out)

if __name__ == "__main__":
    main()
