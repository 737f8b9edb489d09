"""The README is the front page: short, its supported-models table what the pack ships, every link alive."""
import glob
import os
import re

from tooling import supported_models
from tooling.paths import ROOT

README = os.path.join(ROOT, "README.md")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_the_supported_models_table_is_what_the_pack_ships():
    block = supported_models.readme_block(open(README).read())
    assert block == supported_models.table_markdown(), "run: python -m tooling.supported_models --write"
    assert "`SD15`: 4, 6, 8, 10" in block and "`Flux`: 3, 5, 7" in block  # the authors' SD1.5 and FLUX.1-dev tables
    assert open(supported_models.FULL_PAGE).read() == supported_models.full_page(), "run: python -m tooling.supported_models --write"


def test_the_readme_reads_in_five_minutes():
    assert len(open(README).read().splitlines()) <= 250


def test_every_relative_link_in_the_readme_and_docs_resolves():
    for page in [README] + glob.glob(os.path.join(ROOT, "docs", "*.md")) + glob.glob(os.path.join(ROOT, "benchmarks", "*.md")):
        for target in LINK.findall(open(page).read()):
            if "://" in target:
                continue
            assert os.path.exists(os.path.join(os.path.dirname(page), target)), f"{os.path.relpath(page, ROOT)}: {target}"
