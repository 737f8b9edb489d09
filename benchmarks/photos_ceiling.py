"""How far a table can go on Photos-32: DyWeight Calibrate's code path fitted, chosen and tested on the benchmark's
own 64 noises against the 200-step reference itself (Bench.ceiling), each table also judged on 64 other noises.
Resumable. Writes results/photos_ceiling.{md,json}.

    python -m benchmarks.photos_ceiling --quality best   # about 80 minutes
"""
import json
import os

from benchmarks.photos_bench import EVAL_SEED, arguments, gmean, start

def run_ceiling(bench, cfgs, steps_list, quality, out):
    """The in-sample ceiling (Bench.ceiling) at 4-8 steps; each table also judged on 64 other noises, which tells
    how much of it is a fit to those 64 noises rather than to the model."""
    path = os.path.join(out, "photos_ceiling.json")
    done = {(r["quality"], r["cfg"], r["steps"]): r for r in (json.load(open(path)) if os.path.exists(path) else [])}
    other = bench.on_other_noises(EVAL_SEED + 1)
    for cfg in cfgs:
        for steps in steps_list:
            if "other_ratio" in done.get((quality, cfg, steps), {}):
                continue
            errors, best = bench.builtin_errors("karras", steps, cfg)
            table, info = bench.ceiling(steps, cfg, learn_sigmas=True, quality=quality)
            err = bench.table_error(table, cfg)
            other_errors, other_best = other.builtin_errors("karras", steps, cfg)
            other_err = other.table_error(table, cfg)
            row = {"quality": quality, "cfg": cfg, "steps": steps, "error": err, "ratio": errors[best] / err, "best_builtin": best,
                   "other_error": other_err, "other_ratio": other_errors[other_best] / other_err, "other_best_builtin": other_best,
                   "core_median": info["core"]["test_median_calibrated"], "kept_iteration": info["core"]["best_iteration"],
                   "iterations": info["core"]["iterations_run"], "init": info["core"]["init"], "seconds": info["seconds"]}
            done[(quality, cfg, steps)] = row
            print(f"ceiling {quality} cfg {cfg:g} {steps} steps: {err:.4f} (the core's own median {row['core_median']:.4f}), "
                  f"{row['ratio']:.2f}x {best}; on other noises {other_err:.4f}, {row['other_ratio']:.2f}x {other_best}; "
                  f"kept {row['kept_iteration']}/{row['iterations']}, {info['seconds']:.0f}s", flush=True)
            json.dump(list(done.values()), open(path, "w"), indent=1)
    write_ceiling(done, steps_list, out)


def write_ceiling(done, steps_list, out):
    lines = ["| training budget | CFG | judged on | " + " | ".join(f"{s} steps" for s in steps_list) + " | geometric mean |",
             "|---" * (len(steps_list) + 4) + "|"]
    for q, cfg in sorted({k[:2] for k in done}):
        for key, label in (("ratio", "the 64 noises it was fitted to"), ("other_ratio", "64 other noises")):
            ratios = [done.get((q, cfg, s), {}).get(key) for s in steps_list]
            cells = [f"{r:.2f}x" if r else "-" for r in ratios]
            mean = f"**{gmean(ratios):.2f}x**" if all(ratios) else ""
            lines.append(f"| {q} | {cfg:g} | {label} | " + " | ".join(cells) + f" | {mean} |")
    open(os.path.join(out, "photos_ceiling.md"), "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    ap = arguments(__doc__, steps=[4, 5, 6, 7, 8])
    ap.add_argument("--quality", default="balanced", help="the training budget (a preset)")
    args = ap.parse_args()
    run_ceiling(start(args), args.cfg, args.steps, args.quality, args.out)

if __name__ == "__main__":
    main()
