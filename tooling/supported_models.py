"""The README's supported-models table, made from what the pack ships and the family matrix the test suite runs.

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
# Beyond the family matrix (tooling/families.py, tests/integration/test_family_matrix.py): the built-in models, where
# calibration is proven on quality and not only on running, and FLUX.1-dev's shipped tables, proven against the
# authors' sampling.
BUILT_IN = {
    "DyWeightPhotos32": ("DyWeight Photos-32, the built-in trained network", "tests/e2e/test_calibrated_table_reaches_pictures.py"),
    "DyWeightMixture": ("the built-in exact demo model", "tests/e2e/test_server.py"),
}
SHIPPED_TESTS = "tests/integration/test_shipped_tables.py"
MATRIX_TESTS = "tests/integration/test_family_matrix.py"


def shipped_steps(folder=os.path.join(ROOT, "coefficients")):
    """{family: sorted step counts} of the tables in coefficients/."""
    steps = collections.defaultdict(set)
    for path in glob.glob(os.path.join(folder, "*.yaml")):
        table = load_table(path)
        steps[table.model.get("family")].add(table.steps)
    return {family: sorted(counts) for family, counts in steps.items()}


def table_markdown():
    from .families import FAMILIES
    shipped = shipped_steps()
    lines = ["| model (ComfyUI class) | shipped tables (steps) | `dyweight` sampler and scheduler | DyWeight Calibrate | tests |",
             "|---|---|---|---|---|"]
    for f in FAMILIES:
        counts = ", ".join(map(str, shipped.get(f.config, []))) or "none"
        tests = "family matrix" + (", shipped tables" if f.config in shipped else "")
        lines.append(f"| {f.name} (`{f.config}`) | {counts} | yes | yes | {tests} |")
    for family, (name, tests) in BUILT_IN.items():
        counts = ", ".join(map(str, shipped.get(family, []))) or "none"
        lines.append(f"| {name} (`{family}`) | {counts} | yes | yes, and beats every built-in (docs/quality.md) | {tests} |")
    lines.append("| any other model ComfyUI loads (HunyuanDiT, Mochi, Stable Cascade, SVD, image-to-video variants, ...) | none | not yet proven | not yet proven | |")
    lines += ["", f"*family matrix*: {MATRIX_TESTS} builds each family from ComfyUI's own config and model classes at a tiny "
              "size (random weights) and runs, through ComfyUI's sampling code, `dyweight` with the `dyweight` scheduler and "
              "with the family's usual one at CFG 1 and 3 (without a table it equals `ipndm`), checks the identity a table "
              "records, checks that gradients through the model reach every coefficient, calibrates, and checks that lookup "
              "gives that table to this family and to no other. It proves that everything runs, not quality. Runs split "
              "across two KSamplerAdvanced nodes (start/end steps) use each half's rows of the table and carry its history "
              "(docs/how-it-works.md, Split runs). "
              f"*shipped tables*: {SHIPPED_TESTS}."]
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
