"""A real ComfyUI server with the pack: the dropdowns, the nodes, and KSampler(sampler_name="dyweight") on the demo model."""
import numpy as np
import pytest
from PIL import Image

NODES = ["DyWeightSampler", "DyWeightLoadTable", "DyWeightSaveTable", "DyWeightScheduler", "DyWeightDemoModel", "DyWeightDemoDecode"]


def combo_options(spec):
    """V1 combos are [[options], {...}], V3 ["COMBO", {"options": [...]}]."""
    return spec[0] if isinstance(spec[0], list) else spec[1]["options"]


def test_pack_loads_cleanly(server):
    log = server.read_log()
    assert "custom_nodes/ComfyUI-DyWeight" in log  # listed among the loaded packs
    failures = [l for l in log.splitlines() if ("IMPORT FAILED" in l or "Cannot import" in l) and "DyWeight" in l]
    assert not failures


def test_dyweight_in_every_sampler_dropdown(server):
    for node, section in (("KSampler", "required"), ("KSamplerAdvanced", "required"), ("KSamplerSelect", "required")):
        info = server.get(f"/object_info/{node}")[node]
        assert "dyweight" in combo_options(info["input"][section]["sampler_name"]), node


def test_nodes_listed_with_tooltips(server):
    info = server.get("/object_info")
    for node in NODES:
        assert node in info, node
        for section in ("required", "optional"):
            for name, spec in info[node]["input"].get(section, {}).items():
                assert spec[-1].get("tooltip") if isinstance(spec[-1], dict) else False, f"{node}.{name} has no tooltip"


def demo_prompt(sampler, steps=5, kind="eps", prefix="e2e"):
    return {
        "1": {"class_type": "DyWeightDemoModel", "inputs": {"kind": kind, "shift": 3.0, "batch_size": 2, "seed": 0}},
        "2": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "seed": 7, "steps": steps, "cfg": 1.0,
              "sampler_name": sampler, "scheduler": "karras" if kind != "flow" else "simple", "positive": ["1", 1],
              "negative": ["1", 2], "latent_image": ["1", 3], "denoise": 1.0}},
        "3": {"class_type": "DyWeightDemoDecode", "inputs": {"samples": ["2", 0], "scale": 1}},
        "4": {"class_type": "SaveImage", "inputs": {"images": ["3", 0], "filename_prefix": f"{prefix}_{sampler}"}},
    }


def pixels(server, entry):
    files = server.output_files(entry)
    assert len(files) == 2
    return np.stack([np.asarray(Image.open(f), dtype=np.int16) for f in files])


@pytest.mark.parametrize("kind", ["eps", "flow"])
def test_ksampler_dyweight_without_table_equals_ipndm(server, kind):
    runs = {}
    for sampler in ("dyweight", "ipndm", "euler"):
        entry = server.run(demo_prompt(sampler, kind=kind, prefix=kind))
        assert entry["status"]["status_str"] == "success", entry["status"]
        runs[sampler] = pixels(server, entry)
    assert np.abs(runs["dyweight"] - runs["ipndm"]).max() <= 1  # 8-bit rounding at most
    assert np.abs(runs["euler"] - runs["ipndm"]).max() > 5
    assert "Adams-Bashforth fallback" in server.read_log()
