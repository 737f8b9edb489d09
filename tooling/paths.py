"""Where things are: the repository, the shared folder beside it, and the ComfyUI the tests run against."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
OFFICIAL = os.path.join(SHARED, "official")  # the authors' released tables
CACHE = os.path.join(ROOT, ".cache")
PACK_NAME = "ComfyUI-DyWeight"  # the folder name the README, ComfyUI-Manager and `git clone` give the pack


def comfyui_path():
    """COMFYUI_PATH, else the copy scripts/bootstrap.sh fetched."""
    path = os.environ.get("COMFYUI_PATH")
    if not path:
        marker = os.path.join(CACHE, "comfyui-path")
        path = open(marker).read().strip() if os.path.exists(marker) else ""
    if not path or not os.path.isfile(os.path.join(path, "main.py")):
        raise RuntimeError("no ComfyUI found: run `make test` (it bootstraps one) or set COMFYUI_PATH")
    return path
