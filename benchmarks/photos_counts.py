"""Several step counts in one DyWeight Calibrate run on Photos-32: the time of step_counts 4,6,8 against one count
(6), and each count's quality against its own separate run, judged on the benchmark's 64 held-out noises; then the
same counts with a budget of GOAL x one count's time, to show what meeting the goal costs.
Writes results/photos_counts.{md,json}.

    python -m benchmarks.photos_counts            # CFG 5, about 14 minutes on 2 CPUs
"""
import json
import os

from benchmarks.photos_bench import arguments, start

GOAL = 2.2  # three counts in at most 2.2 times one count's time


def run_counts(bench, counts, cfgs, out):
    rows = []
    middle = counts[len(counts) // 2]
    for cfg in cfgs:
        builtins = {n: bench.builtin_errors("karras", n, cfg) for n in counts}
        alone = {n: bench.calibrate(n, cfg) for n in counts}
        one = alone[middle][1]["seconds"]
        step_counts = ",".join(map(str, counts))
        together, info = bench.calibrate(counts[0], cfg, step_counts=step_counts)
        # the same three counts given GOAL x one count's time as a budget: what the goal costs in quality
        budgeted, budget_info = bench.calibrate(counts[0], cfg, step_counts=step_counts, minutes=GOAL * one / 60)
        row = {"cfg": cfg, "counts": counts, "together_seconds": info["seconds"], "budget_minutes": GOAL * one / 60,
               "budgeted_seconds": budget_info["seconds"], "separate": {}}
        for k, n in enumerate(counts):
            errors, best = builtins[n]
            row["separate"][n] = {"seconds": alone[n][1]["seconds"], "best_builtin": best, "best_error": errors[best],
                                  "together_error": bench.table_error(together[k], cfg),
                                  "budgeted_error": bench.table_error(budgeted[k], cfg),
                                  "budgeted_iterations": budget_info["core"][k]["iterations_run"],
                                  "preset_iterations": info["core"][k]["iterations_run"],
                                  "alone_error": bench.table_error(alone[n][0], cfg)}
            s = row["separate"][n]
            print(f"cfg {cfg:g} {n} steps: together {s['together_error']:.4f}, budgeted {s['budgeted_error']:.4f}, alone "
                  f"{s['alone_error']:.4f} ({s['seconds']:.0f}s), best built-in {best} {errors[best]:.4f}", flush=True)
        rows.append(row)
        json.dump(rows, open(os.path.join(out, "photos_counts.json"), "w"), indent=1)
    write_counts(rows, out)


def write_counts(rows, out):
    lines = []
    for r in rows:
        middle = r["counts"][len(r["counts"]) // 2]
        one = r["separate"][middle]["seconds"]
        counts = ",".join(map(str, r["counts"]))
        lines += [f"CFG {r['cfg']:g}, one count ({middle} steps) alone: {one:.0f} s. step_counts {counts} at the preset took "
                  f"{r['together_seconds']:.0f} s, **{r['together_seconds'] / one:.2f}x** one count's time (goal: at most "
                  f"{GOAL}x; separate runs {sum(s['seconds'] for s in r['separate'].values()) / one:.2f}x). With minutes "
                  f"{r['budget_minutes']:.2f} ({GOAL}x one count's time) it took {r['budgeted_seconds']:.0f} s, "
                  f"**{r['budgeted_seconds'] / one:.2f}x**.", "",
                  "| steps | together, preset: error (vs best built-in) | together, budget: error (iterations vs preset's) | "
                  "separate run: error (vs best built-in) | best built-in |", "|---|---|---|---|---|"]
        for n, s in r["separate"].items():
            lines.append(f"| {n} | {s['together_error']:.4f} ({s['best_error'] / s['together_error']:.2f}x) | "
                         f"{s['budgeted_error']:.4f} ({s['best_error'] / s['budgeted_error']:.2f}x; {s['budgeted_iterations']} of "
                         f"{s['preset_iterations']}) | {s['alone_error']:.4f} ({s['best_error'] / s['alone_error']:.2f}x) | "
                         f"{s['best_builtin']} {s['best_error']:.4f} |")
        lines.append("")
    text = "\n".join(lines)
    open(os.path.join(out, "photos_counts.md"), "w").write(text)
    print(text)


def main():
    ap = arguments(__doc__, steps=[4, 6, 8])
    ap.set_defaults(cfg=[5.0])
    args = ap.parse_args()
    run_counts(start(args), args.steps, args.cfg, args.out)


if __name__ == "__main__":
    main()
