import os

import pytest

from tooling.paths import PACK_NAME, ROOT, comfyui_path
from tooling.server import ComfyServer

FIXTURE_PACK = os.path.join(ROOT, "tests", "fixture_pack")


def as_in_a_clone(tmp_path_factory):
    """The ComfyUI to run, reached the way a fresh `git clone` into ComfyUI-DyWeight reaches it: through
    ComfyUI-DyWeight/.cache/comfyui, so every path ComfyUI logs for its own nodes contains the pack's name."""
    clone = tmp_path_factory.mktemp("clone") / PACK_NAME / ".cache"
    clone.mkdir(parents=True)
    os.symlink(comfyui_path(), clone / "comfyui")
    return str(clone / "comfyui")


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """A real server with our pack and a second one (tests/fixture_pack: its own sampler and scheduler)."""
    srv = ComfyServer(base=str(tmp_path_factory.mktemp("comfy")), comfyui_dir=as_in_a_clone(tmp_path_factory))
    os.symlink(FIXTURE_PACK, os.path.join(srv.base, "custom_nodes", "fixture_pack"))
    srv.start()
    yield srv
    srv.stop()
