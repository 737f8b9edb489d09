"""Our registration and another pack's, loaded by ComfyUI's own custom-node loader in both orders: every
sampler and scheduler (stock, ours, theirs) stays listed once, in the one shared list, and works."""
import json
import os
import subprocess
import sys

import pytest

from tooling.paths import ROOT, comfyui_path

FIXTURE_PACK = os.path.join(ROOT, "tests", "fixture_pack")
CHECK = r'''
import asyncio, json, sys
packs = sys.argv[2:]  # run in ComfyUI's folder, as its main.py is
import comfy.options
comfy.options.enable_args_parsing(False)
import comfy.cli_args
comfy.cli_args.args.cpu = True
import comfy.samplers, comfy.model_sampling, nodes
stock_samplers, stock_schedulers = list(comfy.samplers.SAMPLER_NAMES), list(comfy.samplers.SCHEDULER_NAMES)
loaded = [asyncio.run(nodes.load_custom_node(p)) for p in packs]
ms = comfy.model_sampling.ModelSamplingDiscrete()
ksampler_inputs = nodes.KSampler.INPUT_TYPES()["required"]
print(json.dumps({
    "loaded": loaded,
    "same_lists": comfy.samplers.KSampler.SAMPLERS is comfy.samplers.SAMPLER_NAMES and
                  comfy.samplers.KSampler.SCHEDULERS is comfy.samplers.SCHEDULER_NAMES,
    "samplers": comfy.samplers.SAMPLER_NAMES, "schedulers": comfy.samplers.SCHEDULER_NAMES,
    "stock_samplers": stock_samplers, "stock_schedulers": stock_schedulers,
    "ksampler_node": [ksampler_inputs["sampler_name"][0], ksampler_inputs["scheduler"][0]],
    "sigmas": {name: len(comfy.samplers.calculate_sigmas(ms, name, 4)) for name in comfy.samplers.SCHEDULER_NAMES},
    "sampler_fns": {name: comfy.samplers.ksampler(name).sampler_function.__name__ for name in ("dyweight", "fixture_euler")},
    "nodes": sorted(k for k in nodes.NODE_CLASS_MAPPINGS if k.startswith(("DyWeight", "Fixture"))),
}))
'''


@pytest.mark.parametrize("order", ["ours_first", "theirs_first"])
def test_two_packs_keep_each_others_samplers_and_schedulers(order):
    packs = [ROOT, FIXTURE_PACK] if order == "ours_first" else [FIXTURE_PACK, ROOT]
    res = subprocess.run([sys.executable, "-c", CHECK, comfyui_path(), *packs], capture_output=True, text=True,
                         cwd=comfyui_path(), timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["loaded"] == [True, True] and out["same_lists"]
    for names, stock, ours, theirs in ((out["samplers"], out["stock_samplers"], "dyweight", "fixture_euler"),
                                       (out["schedulers"], out["stock_schedulers"], "dyweight", "fixture_linear")):
        assert names[:len(stock)] == stock  # the stock entries, untouched and in order
        assert names.count(ours) == 1 and names.count(theirs) == 1 and len(names) == len(stock) + 2
    assert out["ksampler_node"] == [out["samplers"], out["schedulers"]]  # what the stock KSampler offers
    assert out["sigmas"]["dyweight"] == 5 and out["sigmas"]["fixture_linear"] == 5 and out["sigmas"]["karras"] == 5
    assert out["sampler_fns"] == {"dyweight": "sample_dyweight", "fixture_euler": "sample_fixture_euler"}
    assert "DyWeightSampler" in out["nodes"] and "FixtureConditioning" in out["nodes"]


def test_a_comfyui_without_the_versioned_api_gets_one_line_saying_why():
    script = r'''
import asyncio, logging, sys
import comfy.options
comfy.options.enable_args_parsing(False)
import comfy.cli_args
comfy.cli_args.args.cpu = True
import comfy.samplers, nodes
sys.modules["comfy_api.v0_0_2"] = None  # as on a ComfyUI that predates it
logging.basicConfig(level=logging.INFO, format="LOG %(message)s", stream=sys.stdout)
asyncio.run(nodes.load_custom_node(sys.argv[2]))
print("REGISTERED", "dyweight" in comfy.samplers.SAMPLER_NAMES)
'''
    res = subprocess.run([sys.executable, "-c", script, comfyui_path(), ROOT], capture_output=True, text=True,
                         cwd=comfyui_path(), timeout=300)
    lines = [l for l in (res.stdout + res.stderr).splitlines() if "[DyWeight]" in l]
    assert len(lines) == 1 and "cannot register with this ComfyUI" in lines[0] and "comfy_api.v0_0_2" in lines[0], res.stdout[-2000:]
    assert "REGISTERED False" in res.stdout
