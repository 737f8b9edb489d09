"""DyWeight Calibrate's defaults on Photos-32 over calibration seeds, 4-8 steps: how far one benchmark run is from
the next, whether a change is more than that, and how close the default preset comes to `best`.
Resumable (finished runs are read back). Writes results/photos_seeds.{md,json}.

    python -m benchmarks.photos_seeds --seeds 0 1 2
    python -m benchmarks.photos_seeds --seeds 1 --select median
    python -m benchmarks.photos_seeds --seeds 0 1 2 --quality best
    python -m benchmarks.photos_seeds --seeds 0 1 2 --cfg 5 --step-iterations 300 500
"""
import json
import math
import os

from benchmarks.photos_bench import arguments, gmean, start
from tooling.pack import load_pack

def run_seeds(bench, seeds, variants, cfgs, steps_list, out):
    """The defaults (learned sigmas) over calibration seeds, 4-8 steps, for each (preset, held-out statistic, learning
    rate, iterations x steps or 0 for the preset's) in `variants`: how far one benchmark run is from the next,
    whether a change is more than that, and how close the default preset comes to `best` over every count. Resumable:
    finished runs are read back from the json. Each row records its iterations x steps (rows from before CFG 1 got 1.5
    times as many have none: 400; rows without a preset are balanced)."""
    path = os.path.join(out, "photos_seeds.json")
    done = {seed_key(r): r for r in (json.load(open(path)) if os.path.exists(path) else [])}
    for cfg in cfgs:
        builtins = {steps: bench.builtin_errors("karras", steps, cfg) for steps in steps_list}
        for quality, select, lr, step_iterations in variants:
            budget = step_iterations or preset_budget(quality, cfg)
            for seed in seeds:
                for steps in steps_list:
                    if (quality, budget, select, lr, cfg, seed, steps) in done:
                        continue
                    iterations = math.ceil(step_iterations / steps) if step_iterations else 0  # 0: the preset's
                    table, info = bench.calibrate(steps, cfg, core={"select": select}, learn_sigmas=True, seed=seed,
                                                  learning_rate=lr, quality=quality, iterations=iterations)
                    errors, best = builtins[steps]
                    err = bench.table_error(table, cfg)
                    row = {"quality": quality, "step_iterations": budget, "select": select, "lr": lr, "cfg": cfg, "seed": seed,
                           "steps": steps, "error": err, "ratio": errors[best] / err, "seconds": info["seconds"]}
                    done[seed_key(row)] = row
                    print(f"{quality} {select} lr {lr:g} cfg {cfg:g} seed {seed} {steps} steps: {err:.4f}, {row['ratio']:.2f}x "
                          f"{best}, {info['seconds']:.0f}s", flush=True)
                    json.dump(list(done.values()), open(path, "w"), indent=1)
    write_seeds(done, steps_list, out)


def preset_budget(quality, cfg):
    """The preset's iterations x steps at this CFG (what a --seeds row records)."""
    load_pack()
    from comfyui_dyweight.dyweight_core.calibrate import preset_settings
    return preset_settings(quality, 1, guided=not math.isclose(cfg, 1.0))["iterations"]


def seed_key(row):
    return (row.get("quality", "balanced"), row.get("step_iterations", 400), row["select"], row["lr"], row["cfg"], row["seed"],
            row["steps"])


def write_seeds(done, steps_list, out):
    """photos_seeds.md from the runs in `done` (seed_key -> row): one line per seed, the mean per variant."""
    lines = ["| quality | iterations x steps | held-out statistic | lr | CFG | seed | " + " | ".join(f"{s} steps" for s in steps_list) +
             " | geometric mean |", "|---" * (len(steps_list) + 7) + "|"]
    for variant in sorted({seed_key(r)[:5] for r in done.values()}, key=lambda k: (k[0], -k[1], k[2], -k[3], -k[4])):
        means, label = [], "| {} | {} | {} | {:g} | {:g} |".format(*variant)
        for seed in sorted({r["seed"] for r in done.values() if seed_key(r)[:5] == variant}):
            ratios = [done[k]["ratio"] for s in steps_list if (k := variant + (seed, s)) in done]
            if len(ratios) == len(steps_list):
                means.append(gmean(ratios))
                lines.append(f"{label} {seed} | " + " | ".join(f"{r:.2f}x" for r in ratios) + f" | {means[-1]:.2f}x |")
        if means:
            lines.append(f"{label} mean of {len(means)} |" + " |" * len(steps_list) +
                         f" **{gmean(means):.2f}x** (min {min(means):.2f}x, max {max(means):.2f}x) |")
    lines += [""] + default_share(done, steps_list)
    open(os.path.join(out, "photos_seeds.md"), "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


def default_share(done, steps_list):
    """How close the default preset comes to `best` over every step count, for each (CFG, seed) that has both at
    today's budgets: the issue's goal is 90% of the gain (ratio - 1)."""
    load_pack()
    from comfyui_dyweight.dyweight_core.calibrate import DEFAULT_PRESET, PRESETS, CalibrationConfig
    select = CalibrationConfig().select
    lines = []
    for cfg in sorted({r["cfg"] for r in done.values()}):
        for seed in sorted({r["seed"] for r in done.values()}):
            keys = {q: [(q, preset_budget(q, cfg), select, PRESETS[q]["lr"], cfg, seed, s) for s in steps_list]
                    for q in (DEFAULT_PRESET, "best")}
            if all(k in done for q in keys for k in keys[q]):
                ours, best = (gmean([done[k]["ratio"] for k in keys[q]]) for q in (DEFAULT_PRESET, "best"))
                lines.append(f"- CFG {cfg:g}, seed {seed}, {steps_list[0]}-{steps_list[-1]} steps: {DEFAULT_PRESET} {ours:.2f}x, best "
                             f"{best:.2f}x: {DEFAULT_PRESET} reaches {(ours - 1) / (best - 1):.0%} of best's gain, "
                             f"{ours / best:.0%} of its ratio")
    return lines


def main():
    ap = arguments(__doc__, steps=[4, 5, 6, 7, 8])
    ap.add_argument("--seeds", type=int, nargs="+", required=True, help="the calibration seeds")
    ap.add_argument("--lr", type=float, nargs="+", default=[0.02], help="the learning rates to compare")
    ap.add_argument("--select", nargs="+", default=["geomean"], help="the held-out statistics to compare")
    ap.add_argument("--quality", nargs="+", default=["balanced"], help="the presets to compare")
    ap.add_argument("--step-iterations", type=int, nargs="+", default=[0],
                    help="the iterations x steps to compare (an iteration unrolls every step; 0: the preset's)")
    args = ap.parse_args()
    variants = [(quality, select, lr, budget) for quality in args.quality for select in args.select for lr in args.lr
                for budget in args.step_iterations]
    run_seeds(start(args), args.seeds, variants, args.cfg, args.steps, args.out)

if __name__ == "__main__":
    main()
