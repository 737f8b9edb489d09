"""Held-out error against time on Photos-32 for the default preset and `best` at one step count: where a
calibration's time goes and what stopping it earlier would have kept. Writes results/photos_curve.{md,json,png}.

    python -m benchmarks.photos_curve --steps 8   # about 25 minutes
"""
import json
import os

from benchmarks.photos_bench import arguments, start

def run_curve(bench, steps, cfgs, out):
    """Held-out error against time for the default preset and `best` at one step count: where the time goes."""
    from comfyui_dyweight.dyweight_core.calibrate import DEFAULT_PRESET
    runs = []
    for cfg in cfgs:
        errors, best = bench.builtin_errors("karras", steps, cfg)
        for quality in (DEFAULT_PRESET, "best"):
            table, info = bench.calibrate(steps, cfg, learn_sigmas=True, quality=quality)
            err, report = bench.table_error(table, cfg), info["core"]
            runs.append({"cfg": cfg, "steps": steps, "quality": quality, "error": err, "ratio": errors[best] / err,
                         "best_builtin": best, "seconds": info["seconds"], "teacher_seconds": report["teacher_seconds"],
                         "kept_iteration": report["best_iteration"], "kept_error": report["holdout_error_best"], "holdout_samples": report["holdout_samples"],
                         "curve": [(h["iteration"], h["seconds"], h["holdout_error"]) for h in report["history"] if "holdout_error" in h]})
            print(f"curve cfg {cfg:g} {steps} steps {quality}: {err:.4f}, {runs[-1]['ratio']:.2f}x {best}, {info['seconds']:.0f}s", flush=True)
            json.dump(runs, open(os.path.join(out, "photos_curve.json"), "w"), indent=1)
    write_curve(runs, out)


def lowest_by(curve, seconds):
    """The (iteration, seconds, held-out error) a calibration stopped at `seconds` would have kept."""
    return min((c for c in curve if c[1] <= seconds), key=lambda c: c[2], default=None)


def write_curve(runs, out):
    marks = (60, 90, 120)
    lines = ["| CFG | steps | quality | vs best built-in | seconds | teacher s | kept iteration | lowest held-out error by "
             + ", ".join(f"{m} s" for m in marks) + " | held-out error kept |", "|---" * 9 + "|"]
    for r in runs:
        cells = ", ".join(f"{c[2]:.4f} (it {c[0]})" if (c := lowest_by(r["curve"], m)) else "-" for m in marks)
        lines.append(f"| {r['cfg']:g} | {r['steps']} | {r['quality']} | {r['ratio']:.2f}x ({r['best_builtin']}) | {r['seconds']:.0f} | "
                     f"{r['teacher_seconds']:.0f} | {r['kept_iteration']} | {cells} | {r['kept_error']:.4f} |")
    text = "\n".join(lines)
    open(os.path.join(out, "photos_curve.md"), "w").write(text + "\n")
    print(text)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cfgs = sorted({r["cfg"] for r in runs})
    fig, axes = plt.subplots(1, len(cfgs), figsize=(6 * len(cfgs), 4.2), squeeze=False)
    for ax, cfg in zip(axes[0], cfgs):
        for r in (r for r in runs if r["cfg"] == cfg):
            ax.semilogy([c[1] for c in r["curve"]], [c[2] for c in r["curve"]], marker="o", ms=3,
                        label=f"{r['quality']} ({r['ratio']:.2f}x {r['best_builtin']} in the benchmark)")
        ax.axvline(120, color="grey", ls="--", lw=1)
        ax.set_title(f"Photos-32, CFG {cfg:g}, {runs[0]['steps']} steps: calibration progress")
        ax.set_xlabel("seconds since the calibration started (2 CPUs; dashed: 2 minutes)")
        ax.set_ylabel("held-out error vs the teacher (geometric mean)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "photos_curve.png"), dpi=110)


def main():
    ap = arguments(__doc__, steps=[8])
    args = ap.parse_args()
    run_curve(start(args), args.steps[0], args.cfg, args.out)

if __name__ == "__main__":
    main()
