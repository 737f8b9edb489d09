import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__)))), "scripts"))
from comfy_server import ComfyServer  # noqa: E402


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    srv = ComfyServer(base=str(tmp_path_factory.mktemp("comfy")))
    srv.start()
    yield srv
    srv.stop()
