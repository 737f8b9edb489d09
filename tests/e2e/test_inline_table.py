"""A workflow that carries its table (DyWeight Inline Table) runs on a fresh server whose models/dyweight is
empty, and gives the same pictures as the same workflow reading the table file."""
import json
import os

import numpy as np
from PIL import Image

from tooling.paths import ROOT
from tooling.server import ComfyServer
from tooling.workflow_format import ui_to_api

WORKFLOW = os.path.join(ROOT, "workflows", "DyWeight table inside the workflow.json")


def pictures(server, entry):
    assert entry["status"]["status_str"] == "success", entry["status"]
    return np.stack([np.asarray(Image.open(f), dtype=np.int16) for f in sorted(server.output_files(entry))])


def test_inline_table_workflow_equals_the_file_table_on_a_fresh_server(tmp_path):
    with ComfyServer(base=str(tmp_path / "fresh")) as server:
        folder = os.path.join(server.base, "models", "dyweight")
        assert not os.path.isdir(folder) or not os.listdir(folder)  # no table files on this machine
        prompt = ui_to_api(json.load(open(WORKFLOW)), server.get("/object_info"))
        inline = pictures(server, server.run(prompt))
        from_file = dict(prompt, **{"2": {"class_type": "DyWeightLoadTable", "inputs": {"name": "demo_eps_karras_4steps.yaml"}}})
        from_file["7"] = dict(prompt["7"], inputs=dict(prompt["7"]["inputs"], filename_prefix="file_table"))
        file_pictures = pictures(server, server.run(from_file))
        assert inline.shape == file_pictures.shape == (4, 128, 128, 3)
        assert np.array_equal(inline, file_pictures)
        euler = dict(prompt, **{"3": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}}})
        euler["7"] = dict(prompt["7"], inputs=dict(prompt["7"]["inputs"], filename_prefix="euler"))
        assert np.abs(pictures(server, server.run(euler)) - inline).max() > 5  # the table is what made them
