"""Converts the authors' released tables in ../shared/official into the tables shipped in coefficients/:
Stable Diffusion 1.5 at 4/6/8/10 steps (mscoco-nfe8/12/16/20, CFG 7.5) and FLUX.1-dev at 3/5/7 steps
(guidance 3.5, no CFG). Each records its provenance (paper, repository, file, sha256, training settings).

    .venv/bin/python -m scripts.make_official_tables           # (re)write them
    .venv/bin/python -m scripts.make_official_tables --check   # exit 1 if a shipped file differs
"""
import argparse
import glob
import os
import sys

import yaml

from dyweight_core.official import import_table
from dyweight_core.table import save_table
from tooling.paths import OFFICIAL, ROOT
SD15 = {4: "00036-mscoco-nfe8", 6: "00037-mscoco-nfe12", 8: "00038-mscoco-nfe16", 10: "00039-mscoco-nfe20"}
FLUX = (3, 5, 7)


def shipped(official=OFFICIAL):
    """{file name in coefficients/: table} converted from the originals."""
    out = {}
    for steps, experiment in SD15.items():
        (path,) = glob.glob(os.path.join(official, "pkl", experiment, "network-snapshot-*.pkl"))
        out[f"sd15_dyweight_{steps}steps.yaml"] = import_table(path)
    for steps in FLUX:
        out[f"flux1dev_dyweight_{steps}steps.yaml"] = import_table(os.path.join(official, "flux", f"dyweight_nfe{steps}.pt"))
    for name, table in out.items():
        table.name = name[:-5]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the files in coefficients/ instead of writing")
    ap.add_argument("--official", default=OFFICIAL, help="folder with the authors' files (flux/, pkl/)")
    args = ap.parse_args(argv)
    differ = []
    for name, table in shipped(args.official).items():
        path = os.path.join(ROOT, "coefficients", name)
        if args.check:
            with open(path) as f:
                if yaml.safe_load(f) != table.to_dict():
                    differ.append(name)
            continue
        save_table(table, path, overwrite=True)
        print(f"{path}: {table.steps} steps, window {table.window}, {table.provenance['source']}")
    if differ:
        print(f"differ from the originals: {differ}", file=sys.stderr)
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
