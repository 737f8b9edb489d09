"""What moved the number on Photos-32: DyWeight Calibrate's defaults against one change at a time, at 6 model calls.
Writes results/photos_sweep.{md,json}.

    python -m benchmarks.photos_sweep                # every variant, CFG 1 and 5
    python -m benchmarks.photos_sweep --variants 0 3 # some of them (indices into SWEEP)
"""
import json
import os

from benchmarks.photos_bench import arguments, start

# What moved the number: each variant against the node's defaults (quality balanced, learned sigmas), 6 model calls.
# (The defaults before this benchmark, and the teacher that solved below sigma_min, are measured in
# results/photos_what_moved.md from development runs; the previous table is in the git history of photos_quality.md.)
SWEEP = [
    ("node defaults (quality balanced, learned sigmas, window 8, lr 0.02, best of the starts and schedule shapes, "
     "log_rmse loss, teacher on Karras spacing, table chosen by the held-out geometric mean)", dict(steps=6), {}),
    ("Adams-Bashforth (= ipndm) start only, all else default", dict(steps=6), dict(init="adams_bashforth")),
    ("window 4, lr 0.05 (the defaults before)", dict(steps=6, window=4, learning_rate=0.05), {}),
    ("window 4 (lr 0.02)", dict(steps=6, window=4), {}),
    ("AFS: 7 steps on 6 model calls", dict(steps=7, afs=True), {}),
    ("quality best", dict(steps=6, quality="best"), {}),
    ("rmse loss (the loss before)", dict(steps=6, loss="rmse"), {}),
    ("the given karras schedule as the only start for the sigmas", dict(steps=6), dict(schedule_rhos=())),
]  # (label, node inputs, CalibrationConfig fields the node does not expose)


def run_sweep(bench, cfgs, out, variants=None):
    """Calibration variants at 6 model calls (`variants`: indices into SWEEP, default all)."""
    results = []
    for cfg in cfgs:
        errors, best = bench.builtin_errors("karras", 6, cfg)
        for label, settings, core in [SWEEP[i] for i in (variants or range(len(SWEEP)))]:
            settings = dict(settings)
            table, info = bench.calibrate(settings.pop("steps"), cfg, core=core, **settings)
            err = bench.table_error(table, cfg)
            results.append({"cfg": cfg, "variant": label, "error": err, "best_builtin": best, "ratio": errors[best] / err,
                            "seconds": info["seconds"]})
            print(f"sweep cfg {cfg:g}: {label}: {err:.4f} ({errors[best] / err:.2f}x {best}), {info['seconds']:.0f}s", flush=True)
            json.dump(results, open(os.path.join(out, "photos_sweep.json"), "w"), indent=1)
    # no seconds column: the calibration times that count are the main table's, on an otherwise idle machine
    lines = ["| CFG | variant (6 model calls) | error | vs best built-in |", "|---|---|---|---|"]
    lines += [f"| {r['cfg']:g} | {r['variant']} | {r['error']:.4f} | {r['ratio']:.2f}x ({r['best_builtin']}) |" for r in results]
    open(os.path.join(out, "photos_sweep.md"), "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


def main():
    ap = arguments(__doc__)
    ap.add_argument("--variants", type=int, nargs="+", help="indices into SWEEP (default all)")
    args = ap.parse_args()
    run_sweep(start(args), args.cfg, args.out, args.variants)

if __name__ == "__main__":
    main()
