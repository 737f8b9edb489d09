"""The README's supported-models table, made from what the pack ships and the family matrix the test suite runs.

    python -m tooling.supported_models          # print the table
    python -m tooling.supported_models --write  # replace it in README.md (between the markers), and docs/supported-models.md

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


KINDS = {"image": "text to image", "edit": "editing, inpainting, upscaling", "video": "video"}
FULL_PAGE = os.path.join(ROOT, "docs", "supported-models.md")
MATRIX_NOTE = (f"*family matrix*: {MATRIX_TESTS} builds each family from ComfyUI's own config and model classes at a tiny "
               "size (random weights) and runs, through ComfyUI's sampling code, `dyweight` with the `dyweight` scheduler and "
               "with the family's usual one at CFG 1 and 3 (without a table it equals `ipndm`), checks the identity a table "
               "records and the timesteps calibration gives the model, checks that gradients through the model reach every "
               "coefficient, calibrates, and checks that lookup gives that table to this family and to no other. It proves "
               "that everything runs, not quality. ")


def table_markdown():
    """The README's table: one row per kind of model, the families named; the full page has a row each."""
    from .families import FAMILIES, NOT_IN_MATRIX
    shipped = shipped_steps()
    lines = ["| models (ComfyUI class) | shipped tables (steps) | `dyweight` sampler, scheduler and DyWeight Calibrate |",
             "|---|---|---|"]
    for kind, title in KINDS.items():
        names = ", ".join(f"{f.name} (`{f.config}`)" for f in FAMILIES if f.kind == kind)
        own = [f.config for f in FAMILIES if f.kind == kind and not f.key and f.config in shipped]  # not FLUX.1-dev's under Kontext
        counts = "; ".join(f"`{c}`: " + ", ".join(map(str, shipped[c])) for c in own) or "none"
        lines.append(f"| **{title}**: {names} | {counts} | family matrix |")
    for family, (name, tests) in BUILT_IN.items():
        counts = ", ".join(map(str, shipped.get(family, []))) or "none"
        lines.append(f"| **built in**: {name} (`{family}`) | {counts} | yes, and calibration beats every built-in sampler (docs/quality.md) |")
    lines.append(f"| **not in the matrix**: {', '.join(f'`{c}`' for c in NOT_IN_MATRIX)} | none | not proven: 3D, audio, depth, "
                 "or inputs the matrix does not build ([why, each](docs/supported-models.md#not-in-the-matrix)) |")
    lines += ["", MATRIX_NOTE + "Runs split across two KSamplerAdvanced nodes (start/end steps) use each half's rows of "
              f"the table and carry its history (docs/how-it-works.md, Split runs). *shipped tables*: {SHIPPED_TESTS}. "
              "A row per family, with the scheduler each is tested on: [docs/supported-models.md](docs/supported-models.md)."]
    return "\n".join(lines)


def full_page():
    """docs/supported-models.md: every family the matrix builds, and every ComfyUI class it leaves out, with why."""
    from .families import FAMILIES, NOT_IN_MATRIX
    shipped = shipped_steps()
    lines = ["# Supported models", "", "Made by `python -m tooling.supported_models --write` from the family matrix "
             "(`tooling/families.py`) and `coefficients/`; a test fails when this page differs. Tested against ComfyUI 0.3.75.", "",
             MATRIX_NOTE + f"*shipped tables*: {SHIPPED_TESTS}.", "",
             "| model | ComfyUI class | kind | latent in the test | scheduler tested | shipped tables (steps) |", "|---|---|---|---|---|---|"]
    for f in FAMILIES:
        counts = ", ".join(map(str, shipped.get(f.config, []))) or "none"
        lines.append(f"| {f.name} | `{f.config}` | {KINDS[f.kind]} | {'x'.join(map(str, f.latent))} | `{f.scheduler}` | {counts} |")
    lines += ["", "## Not in the matrix", "",
              "The other classes in `comfy.supported_models`; a test fails when ComfyUI gains a class that is in neither list. "
              "The `dyweight` sampler runs on them as on any model (without a table it is `ipndm`), but nothing here proves "
              "calibration on them.", "", "| ComfyUI class | why not |", "|---|---|"]
    lines += [f"| `{c}` | {why} |" for c, why in NOT_IN_MATRIX.items()]
    return "\n".join(lines) + "\n"


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
    with open(FULL_PAGE, "w") as f:
        f.write(full_page())
    path = os.path.join(ROOT, "README.md")
    text = open(path).read()
    if readme_block(text) is None:
        raise SystemExit(f"README.md has no {BEGIN} ... {END} block")
    open(path, "w").write(text.replace(readme_block(text), table))


if __name__ == "__main__":
    main()
