"""The real ComfyUI in-process, and the pack imported under a package name as ComfyUI's custom-node loader does."""
import importlib.util
import os
import sys

from .paths import ROOT, comfyui_path

PACKAGE = "comfyui_dyweight"


def import_comfyui(cpu=True):
    """Make the real ComfyUI importable, its command-line arguments defaulted (on the CPU unless cpu=False).
    The one place anything edits sys.path."""
    comfy_dir = comfyui_path()
    if comfy_dir not in sys.path:
        sys.path.append(comfy_dir)  # after ours: ComfyUI ships top-level packages of its own (tests, utils)
    import comfy.options
    comfy.options.enable_args_parsing(False)
    import comfy.cli_args
    comfy.cli_args.args.cpu = cpu


def load_pack(cpu=True):
    """Import real ComfyUI (on the CPU unless cpu=False) and the pack as package `comfyui_dyweight`."""
    if PACKAGE in sys.modules:
        return sys.modules[PACKAGE]
    import_comfyui(cpu)
    import folder_paths  # noqa: F401  (loaded before any pack, as in ComfyUI; the pack registers only inside ComfyUI)
    spec = importlib.util.spec_from_file_location(PACKAGE, os.path.join(ROOT, "__init__.py"), submodule_search_locations=[ROOT])
    pack = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = pack
    spec.loader.exec_module(pack)
    return pack


def comfyui_nodes():
    """ComfyUI's own nodes.py (KSampler, KSamplerAdvanced, ...), imported by its path: in the repository `nodes` is
    the pack's package."""
    if "comfyui_nodes" in sys.modules:
        return sys.modules["comfyui_nodes"]
    import_comfyui()
    spec = importlib.util.spec_from_file_location("comfyui_nodes", os.path.join(comfyui_path(), "nodes.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules["comfyui_nodes"] = module
    spec.loader.exec_module(module)
    return module
