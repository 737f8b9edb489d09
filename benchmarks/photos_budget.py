"""DyWeight Calibrate's `minutes` on Photos-32: quality against the time budget (0.5, 1, 2, 4 minutes), beside the
default preset's own time and quality, at 6 steps. Each table is judged on the benchmark's 64 held-out noises.
Writes results/photos_budget.{md,json,png}.

    python -m benchmarks.photos_budget            # CFG 5, about 12 minutes on 2 CPUs
"""
import json
import os

from benchmarks.photos_bench import arguments, start

BUDGETS = [0.5, 1.0, 2.0, 4.0]


def run_budget(bench, steps, cfgs, budgets, out):
    rows = []
    for cfg in cfgs:
        errors, best = bench.builtin_errors("karras", steps, cfg)
        for minutes in [0.0] + budgets:  # 0: the preset's own counts
            table, info = bench.calibrate(steps, cfg, minutes=minutes)
            err = bench.table_error(table, cfg)
            core = info["core"]
            rows.append({"cfg": cfg, "steps": steps, "minutes": minutes, "seconds": info["seconds"], "error": err,
                         "ratio": errors[best] / err, "best_builtin": best, "iterations": core["iterations_run"],
                         "train_samples": core["train_samples"]})
            print(f"cfg {cfg:g} {steps} steps, budget {minutes:g} min: {err:.4f} ({errors[best] / err:.2f}x {best}) in "
                  f"{info['seconds']:.0f}s, {core['iterations_run']} iterations on {core['train_samples']} noises", flush=True)
            json.dump(rows, open(os.path.join(out, "photos_budget.json"), "w"), indent=1)
    write_budget(rows, out)


def write_budget(rows, out):
    lines = ["| CFG | steps | budget | took | iterations | training noises | error | vs best built-in |", "|---" * 8 + "|"]
    for r in rows:
        budget = f"{r['minutes']:g} min" if r["minutes"] else "none (balanced preset)"
        lines.append(f"| {r['cfg']:g} | {r['steps']} | {budget} | {r['seconds']:.0f} s | {r['iterations']} | {r['train_samples']} | "
                     f"{r['error']:.4f} | {r['ratio']:.2f}x ({r['best_builtin']}) |")
    text = "\n".join(lines)
    open(os.path.join(out, "photos_budget.md"), "w").write(text + "\n")
    print(text)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for cfg in sorted({r["cfg"] for r in rows}):
        budgeted = [r for r in rows if r["cfg"] == cfg and r["minutes"]]
        ax.plot([r["seconds"] / 60 for r in budgeted], [r["ratio"] for r in budgeted], marker="o", label=f"CFG {cfg:g}, budget")
        for r in budgeted:
            ax.annotate(f"{r['minutes']:g} min", (r["seconds"] / 60, r["ratio"]), fontsize=7, xytext=(3, -9), textcoords="offset points")
        preset = [r for r in rows if r["cfg"] == cfg and not r["minutes"]]
        ax.scatter([r["seconds"] / 60 for r in preset], [r["ratio"] for r in preset], marker="*", s=120, color="crimson",
                   label=f"CFG {cfg:g}, balanced preset", zorder=3)
    ax.axhline(1.0, color="grey", lw=1, ls="--")
    ax.set_xlabel("minutes the calibration took (2 CPUs)")
    ax.set_ylabel("best built-in's error / dyweight's (higher is better)")
    ax.set_title(f"Photos-32, {rows[0]['steps']} steps: quality against DyWeight Calibrate's budget")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "photos_budget.png"), dpi=110)


def main():
    ap = arguments(__doc__, steps=[6])
    ap.set_defaults(cfg=[5.0])
    ap.add_argument("--minutes", type=float, nargs="+", default=BUDGETS)
    args = ap.parse_args()
    run_budget(start(args), args.steps[0], args.cfg, args.minutes, args.out)


if __name__ == "__main__":
    main()
