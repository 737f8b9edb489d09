"""The README's supported-models table, made from what the pack ships and what the test suite proves.

    python -m tooling.supported_models          # print the table
    python -m tooling.supported_models --write  # replace it in README.md (between the markers)

tests/unit/test_readme.py fails when the README's copy differs from what this makes."""
import argparse
import collections
import glob
import os
import re

from dyweight_core.table import load_table

from .paths import ROOT

BEGIN, END = "<!-- supported-models:begin -->", "<!-- supported-models:end -->"
# ComfyUI's model config class (what a table records as its family) -> what users call it, whether DyWeight
# Calibrate is proven on it, and the tests that run the dyweight sampler (and Calibrate) on ComfyUI's own classes.
FAMILIES = {
    "SD15": ("Stable Diffusion 1.5 and its fine-tunes", True, "tests/integration/test_shipped_tables.py, test_calibrate_in_comfy.py"),
    "Flux": ("FLUX.1-dev", True, "tests/integration/test_shipped_tables.py, test_calibrate_in_comfy.py, test_bad_input.py"),
    "FluxSchnell": ("FLUX.1-schnell (it never gets a FLUX.1-dev table)", False, "tests/integration/test_shipped_tables.py"),
    "DyWeightPhotos32": ("DyWeight Photos-32, the built-in trained network", True,
                         "tests/e2e/test_calibrated_table_reaches_pictures.py, tests/integration/test_photos_model.py"),
    "DyWeightMixture": ("the built-in exact demo model", True, "tests/e2e/test_server.py"),
}


def shipped_steps(folder=os.path.join(ROOT, "coefficients")):
    """{family: sorted step counts} of the tables in coefficients/."""
    steps = collections.defaultdict(set)
    for path in glob.glob(os.path.join(folder, "*.yaml")):
        table = load_table(path)
        steps[table.model.get("family")].add(table.steps)
    return {family: sorted(counts) for family, counts in steps.items()}


def table_markdown():
    shipped = shipped_steps()
    lines = ["| model | shipped tables (steps) | DyWeight Calibrate | tested on ComfyUI's own classes in |", "|---|---|---|---|"]
    for family, (name, calibrates, tests) in FAMILIES.items():
        counts = ", ".join(map(str, shipped.get(family, []))) or "none"
        lines.append(f"| {name} (`{family}`) | {counts} | {'proven' if calibrates else 'not yet proven'} | {tests} |")
    lines.append("| any other model ComfyUI loads (SDXL, SD3.5, Chroma, Qwen-Image, Wan, ...) | none | not yet proven | |")
    return "\n".join(lines)


def readme_block(text):
    match = re.search(re.escape(BEGIN) + r"\n(.*?)\n" + re.escape(END), text, re.S)
    return match.group(1) if match else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help="replace the table in README.md")
    args = ap.parse_args()
    table = table_markdown()
    if not args.write:
        print(table)
        return
    path = os.path.join(ROOT, "README.md")
    text = open(path).read()
    if readme_block(text) is None:
        raise SystemExit(f"README.md has no {BEGIN} ... {END} block")
    open(path, "w").write(text.replace(readme_block(text), table))


if __name__ == "__main__":
    main()
