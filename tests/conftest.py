"""Fixtures: `pack` loads the real ComfyUI in-process and the pack as ComfyUI's custom-node loader does.
The repository root and tests/ (the reference helpers) are on the path through pyproject.toml."""
import os

import pytest

from tooling.pack import load_pack
from tooling.paths import OFFICIAL


@pytest.fixture(scope="session")
def pack():
    return load_pack(cpu=os.environ.get("DYWEIGHT_TEST_GPU") != "1")  # 1: load models on the GPU (device checks)


@pytest.fixture
def official():
    if not os.path.isdir(OFFICIAL):
        pytest.skip("../shared/official is absent")
    return OFFICIAL
