"""Test harness: the repo root is importable for core tests; `pack` loads the real ComfyUI in-process
and the pack through a package name, the way ComfyUI's custom-node loader does."""
import importlib.util
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
OFFICIAL = os.path.join(SHARED, "official")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))  # helpers: dyweight_reference, comfy_models


def comfyui_path():
    """COMFYUI_PATH, else the copy scripts/bootstrap.sh fetched."""
    path = os.environ.get("COMFYUI_PATH")
    if not path:
        marker = os.path.join(ROOT, ".cache", "comfyui-path")
        path = open(marker).read().strip() if os.path.exists(marker) else ""
    if not path or not os.path.isfile(os.path.join(path, "main.py")):
        raise RuntimeError("no ComfyUI found: run `make test` (it bootstraps one) or set COMFYUI_PATH")
    return path


def load_pack(cpu=True):
    """Import real ComfyUI (on the CPU unless cpu=False) and the pack as package `comfyui_dyweight`."""
    if "comfyui_dyweight" in sys.modules:
        return sys.modules["comfyui_dyweight"]
    comfy_dir = comfyui_path()
    if comfy_dir not in sys.path:
        sys.path.append(comfy_dir)  # after ours: ComfyUI ships top-level packages of its own (tests, utils)
    import comfy.options
    comfy.options.enable_args_parsing(False)
    import comfy.cli_args
    comfy.cli_args.args.cpu = cpu
    import folder_paths  # noqa: F401  (loaded before any pack, as in ComfyUI; the pack registers only inside ComfyUI)
    spec = importlib.util.spec_from_file_location("comfyui_dyweight", os.path.join(ROOT, "__init__.py"),
                                                  submodule_search_locations=[ROOT])
    pack = importlib.util.module_from_spec(spec)
    sys.modules["comfyui_dyweight"] = pack
    spec.loader.exec_module(pack)
    return pack


@pytest.fixture(scope="session")
def pack():
    return load_pack(cpu=os.environ.get("DYWEIGHT_TEST_GPU") != "1")  # 1: load models on the GPU (device checks)


@pytest.fixture
def official():
    if not os.path.isdir(OFFICIAL):
        pytest.skip("../shared/official is absent")
    return OFFICIAL
