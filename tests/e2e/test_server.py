"""A real ComfyUI server with the pack: the dropdowns, the nodes, and KSampler(sampler_name="dyweight") on the demo model."""
import os

import numpy as np
import pytest
from PIL import Image

from tooling.paths import PACK_NAME
from tooling.server import error_message, pack_folder, pack_import_failures

NODES = ["DyWeightSampler", "DyWeightCalibrate", "DyWeightLoadTable", "DyWeightInlineTable", "DyWeightTableAsText", "DyWeightSaveTable",
         "DyWeightScheduler", "DyWeightInspect", "DyWeightDemoModel", "DyWeightPhotosModel", "DyWeightDemoDecode"]


def combo_options(spec):
    """V1 combos are [[options], {...}], V3 ["COMBO", {"options": [...]}]."""
    return spec[0] if isinstance(spec[0], list) else spec[1]["options"]


def test_pack_loads_cleanly(server):
    """Judged by the pack's own module path, under a ComfyUI reached through ComfyUI-DyWeight/.cache (as in a
    clone of that name): ComfyUI's own optional nodes failing there (no torchaudio) are not the pack's failure."""
    log = server.read_log()
    assert f"custom_nodes/{PACK_NAME}" in log  # listed among the loaded packs
    assert not pack_import_failures(log, pack_folder(server.base))
    own_failures = [l for l in log.splitlines() if "Cannot import" in l and PACK_NAME in l]
    if own_failures:  # the situation this guards: such lines exist, and are not counted against the pack
        assert all("/.cache/comfyui/" in l for l in own_failures), own_failures


def test_import_failures_are_judged_by_module_path(tmp_path):
    pack = str(tmp_path / "custom_nodes" / PACK_NAME)
    comfy = f"/home/me/{PACK_NAME}/.cache/comfyui"
    log = "\n".join([
        f"Cannot import {comfy}/comfy_extras/nodes_audio.py module for custom nodes: No module named 'torchaudio'",
        "IMPORT FAILED: nodes_audio.py",
        f"   0.0 seconds: {tmp_path}/custom_nodes/fixture_pack",
        f"   0.4 seconds: {pack}",
    ])
    assert pack_import_failures(log, pack) == []
    broken = [f"Cannot import {pack} module for custom nodes: No module named 'kornia'", f"   0.1 seconds (IMPORT FAILED): {pack}"]
    assert pack_import_failures(log + "\n" + "\n".join(broken), pack) == broken
    assert pack_import_failures("\n".join(broken), pack + "-fork") == []


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


def test_shipped_table_is_found_for_the_demo_model(server):
    """coefficients/ ships a 4-step karras table for the demo model: a plain KSampler picks it up."""
    names = combo_options(server.get("/object_info/DyWeightLoadTable")["DyWeightLoadTable"]["input"]["required"]["name"])
    assert "demo_eps_karras_4steps.yaml" in names
    runs = {}
    for sampler in ("dyweight", "ipndm"):
        entry = server.run(demo_prompt(sampler, steps=4, prefix="shipped"))
        assert entry["status"]["status_str"] == "success"
        runs[sampler] = pixels(server, entry)
    assert "using table 'demo_eps_karras_4steps' (weight fingerprint match)" in server.read_log()
    assert np.abs(runs["dyweight"] - runs["ipndm"]).max() > 5


def test_calibrate_save_then_plain_ksampler_uses_the_table(server):
    prompt = {
        "1": {"class_type": "DyWeightDemoModel", "inputs": {"kind": "eps", "shift": 3.0, "batch_size": 2, "seed": 0}},
        "2": {"class_type": "DyWeightCalibrate", "inputs": {"model": ["1", 0], "positive": ["1", 1], "negative": ["1", 2],
              "latent_image": ["1", 3], "steps": 4, "scheduler": "karras", "cfg": 1.0, "iterations": 30,
              "samples": 16, "holdout": 8, "batch_size": 8, "teacher_steps": 32, "learning_rate": 0.003,
              "learn_sigmas": False}},  # a karras table, for a karras KSampler
        "3": {"class_type": "DyWeightSaveTable", "inputs": {"table": ["2", 0], "name": "e2e_demo_4", "overwrite": True}},
    }
    entry = server.run(prompt)
    assert entry["status"]["status_str"] == "success", error_message(entry)
    path = os.path.join(server.base, "models", "dyweight", "e2e_demo_4.yaml")
    assert os.path.isfile(path)
    assert "e2e_demo_4.yaml" in combo_options(server.get("/object_info/DyWeightLoadTable")["DyWeightLoadTable"]["input"]["required"]["name"])
    entry = server.run(demo_prompt("dyweight", steps=4, prefix="calibrated"))
    assert entry["status"]["status_str"] == "success"
    assert "using table 'e2e_demo_4' (weight fingerprint match)" in server.read_log()


def test_broken_table_is_a_clear_error_and_the_server_keeps_serving(server):
    folder = os.path.join(server.base, "models", "dyweight")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "broken.yaml"), "w") as f:
        f.write("format: dyweight-table/1\nsteps: 2\nwindow: 1\nweights: [[1, 0], [0, .nan]]\nt_scale: [1, 1]\nsigmas: [2, 1, 0]\n")
    names = combo_options(server.get("/object_info/DyWeightLoadTable")["DyWeightLoadTable"]["input"]["required"]["name"])
    assert "broken.yaml" in names  # listed, so the user can see and pick it
    entry = server.run({"1": {"class_type": "DyWeightLoadTable", "inputs": {"name": "broken.yaml"}},
                        "2": {"class_type": "DyWeightSaveTable", "inputs": {"table": ["1", 0], "name": "copy"}}})
    assert entry["status"]["status_str"] == "error"
    message = error_message(entry)
    assert "broken.yaml" in message and "must be finite" in message
    assert server.run(demo_prompt("euler", prefix="after_error"))["status"]["status_str"] == "success"


def test_cancel_stops_a_long_calibration_quickly_and_writes_nothing(server):
    import time
    prompt = {
        "1": {"class_type": "DyWeightDemoModel", "inputs": {"kind": "eps", "shift": 3.0, "batch_size": 1, "seed": 3}},
        "2": {"class_type": "DyWeightCalibrate", "inputs": {"model": ["1", 0], "positive": ["1", 1], "negative": ["1", 2],
              "latent_image": ["1", 3], "steps": 6, "scheduler": "karras", "cfg": 1.0, "iterations": 20000,
              "samples": 16, "holdout": 8, "batch_size": 8, "teacher_steps": 16}},
        "3": {"class_type": "DyWeightSaveTable", "inputs": {"table": ["2", 0], "name": "cancelled", "overwrite": True}},
    }
    prompt_id = server.queue(prompt)["prompt_id"]
    deadline = time.time() + 60
    while "fitting 25/20000" not in server.read_log() and time.time() < deadline:
        time.sleep(0.2)  # wait until it is inside the optimisation loop
    assert time.time() < deadline
    asked = time.time()
    server.post("/interrupt", {})
    entry = server.wait(prompt_id, timeout=30)
    stopped_after = time.time() - asked
    assert entry["status"]["status_str"] == "error"
    assert any(kind == "execution_interrupted" for kind, _ in entry["status"]["messages"])
    assert stopped_after < 5, stopped_after
    assert not os.path.exists(os.path.join(server.base, "models", "dyweight", "cancelled.yaml"))
    assert server.run(demo_prompt("dyweight", prefix="after_cancel"))["status"]["status_str"] == "success"


def test_every_node_has_a_help_page_served(server):
    """The frontend's node help reads /extensions/<pack>/docs/<NodeId>.md from the pack's WEB_DIRECTORY."""
    import urllib.request
    info = server.get("/object_info")
    for node in NODES:
        with urllib.request.urlopen(f"{server.url}/extensions/ComfyUI-DyWeight/docs/{node}.md") as r:
            page = r.read().decode()
        assert page.startswith(f"# {info[node]['display_name']}"), node
        for section in ("required", "optional"):
            for name in info[node]["input"].get(section, {}):
                assert f"**{name}**" in page or f"| {name} |" in page, f"{node}.md does not explain input {name}"
        assert "## Connect" in page
