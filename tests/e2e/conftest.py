import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__)))), "scripts"))
from comfy_server import ComfyServer  # noqa: E402


FIXTURE_PACK = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))), "fixture_pack")


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """A real server with our pack and a second one (tests/fixture_pack: its own sampler and scheduler)."""
    srv = ComfyServer(base=str(tmp_path_factory.mktemp("comfy")))
    os.symlink(FIXTURE_PACK, os.path.join(srv.base, "custom_nodes", "fixture_pack"))
    srv.start()
    yield srv
    srv.stop()
