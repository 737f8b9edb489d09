"""The shipped example workflows: served by the template browser, UI format converts to the API copies,
every one validates against the real server's /object_info, and the ones on built-in models run."""
import glob
import json
import os
import urllib.request
from urllib.parse import quote

import pytest

from tooling.paths import ROOT
from tooling.workflow_format import input_specs, ui_to_api

UI_FILES = sorted(glob.glob(os.path.join(ROOT, "workflows", "*.json")))
FILE_LISTS = {"ckpt_name", "unet_name", "clip_name1", "clip_name2", "vae_name", "name"}  # user's own files


def strip_meta(prompt):
    return {k: {"class_type": v["class_type"], "inputs": v["inputs"]} for k, v in prompt.items()}


def test_eight_workflows_with_thumbnails_are_served(server):
    assert len(UI_FILES) == 8
    for path in UI_FILES:
        assert os.path.exists(path[:-5] + ".jpg"), path
    served = server.get("/workflow_templates")
    pack, names = next((k, v) for k, v in served.items() if "DyWeight" in k)
    assert sorted(names) == sorted(os.path.basename(p)[:-5] for p in UI_FILES)
    for name in names:  # the URLs the template browser fetches (titles are the file names, spaces and all)
        with urllib.request.urlopen(f"{server.url}/api/workflow_templates/{quote(pack)}/{quote(name)}.jpg") as r:
            assert r.read(3) == b"\xff\xd8\xff"  # a JPEG


@pytest.mark.parametrize("path", UI_FILES, ids=os.path.basename)
def test_workflow_validates_against_object_info(server, path):
    info = server.get("/object_info")
    ui = json.load(open(path))
    prompt = ui_to_api(ui, info)
    api = json.load(open(os.path.join(ROOT, "workflows", "api", os.path.basename(path))))
    assert strip_meta(prompt) == strip_meta(api)  # the UI file says what the API copy says
    for nid, node in prompt.items():
        assert node["class_type"] in info, f"{nid}: unknown node {node['class_type']}"
        node_info = info[node["class_type"]]
        required = node_info["input"].get("required", {})
        for name, kind, opts in input_specs(node_info):
            value = node["inputs"].get(name)
            if name in required:
                assert value is not None, f"{node['class_type']}.{name} missing"
            if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
                source = info[prompt[value[0]]["class_type"]]["output"][value[1]]
                assert source == kind or kind == "*" or "*" in str(kind), f"{node['class_type']}.{name}: {source} -> {kind}"
            elif value is not None and kind == "COMBO" and name not in FILE_LISTS:
                spec = (node_info["input"].get("required", {}) | node_info["input"].get("optional", {}))[name]
                options = spec[0] if isinstance(spec[0], list) else spec[1]["options"]
                assert value in options, f"{node['class_type']}.{name}={value!r}"
            elif value is not None and kind in ("INT", "FLOAT"):
                assert opts.get("min", -1e30) <= value <= opts.get("max", 1e30), f"{node['class_type']}.{name}={value}"


def test_demo_workflow_runs(server):
    info = server.get("/object_info")
    prompt = ui_to_api(json.load(open(os.path.join(ROOT, "workflows", "DyWeight demo (built-in model).json"))), info)
    entry = server.run(prompt)
    assert entry["status"]["status_str"] == "success", entry["status"]
    files = server.output_files(entry)
    assert any("demo_dyweight" in f for f in files) and any("demo_lms" in f for f in files)
    assert all(os.path.exists(f) for f in files)


@pytest.fixture(scope="module")
def pair_run(server):
    """The pair template queued once: Calibrate with model_low_noise, Save Table, the split run over SplitSigmas."""
    info = server.get("/object_info")
    prompt = ui_to_api(json.load(open(os.path.join(ROOT, "workflows", "DyWeight calibrate a pair of models (split run).json"))), info)
    return server.run(prompt)


def test_pair_workflow_calibrates_the_pair_and_samples_its_split_run(server, pair_run):
    """The built-in trained network and its low-noise expert: the run succeeds, makes its picture and saves a pair's table."""
    import yaml
    assert pair_run["status"]["status_str"] == "success", pair_run["status"]
    assert any("dyweight_pair" in f for f in server.output_files(pair_run))
    saved = yaml.safe_load(open(os.path.join(server.base, "models", "dyweight", "photos32_pair_6steps.yaml")))
    assert saved["model"]["low_noise_model"]["family"] == "DyWeightPhotos32" and saved["provenance"]["switch_step"] == 3


def test_the_saved_pair_table_drives_two_ksampleradvanced_nodes(server, pair_run):
    """The user's next step after the pair template: two KSamplerAdvanced nodes with dyweight on karras, the first
    model to step 3 with leftover noise, the low-noise model from there; each half finds the saved pair table."""
    assert pair_run["status"]["status_str"] == "success", pair_run["status"]
    half = dict(noise_seed=3, steps=6, cfg=5.0, sampler_name="dyweight", scheduler="karras", positive=["1", 1], negative=["1", 2])
    prompt = {
        "1": {"class_type": "DyWeightPhotosModel", "inputs": {"subject": "cat", "batch_size": 2}},
        "2": {"class_type": "KSamplerAdvanced", "inputs": dict(half, model=["1", 0], add_noise="enable", latent_image=["1", 3],
                                                               start_at_step=0, end_at_step=3, return_with_leftover_noise="enable")},
        "3": {"class_type": "KSamplerAdvanced", "inputs": dict(half, model=["1", 4], add_noise="disable", latent_image=["2", 0],
                                                               start_at_step=3, end_at_step=10000, return_with_leftover_noise="disable")},
        "4": {"class_type": "DyWeightDemoDecode", "inputs": {"samples": ["3", 0], "scale": 2}},
        "5": {"class_type": "SaveImage", "inputs": {"images": ["4", 0], "filename_prefix": "pair_ksampler"}},
    }
    before = len(server.read_log())
    entry = server.run(prompt)
    assert entry["status"]["status_str"] == "success", entry["status"]
    log = server.read_log()[before:]
    assert "using steps 1-3 of table 'photos32_pair_6steps'" in log and "using steps 4-6 of table 'photos32_pair_6steps'" in log
    assert "does not continue" not in log
