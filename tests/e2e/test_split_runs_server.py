"""A sampler split across two KSamplerAdvanced nodes, as users wire SDXL base + refiner or Wan 2.2's two experts,
through the server: with one model the split dyweight run is the unsplit one; with two it runs its table across both."""
import os

import torch
from safetensors.torch import load_file

from tooling.server import error_message

STEPS, SWITCH = 4, 2  # the shipped demo table: 4 steps on karras sigmas


def demo_model(seed):
    return {"class_type": "DyWeightDemoModel", "inputs": {"kind": "eps", "shift": 3.0, "batch_size": 2, "seed": seed}}


def advanced(model, latent, add_noise, start, end, leftover, sampler="dyweight"):
    return {"class_type": "KSamplerAdvanced", "inputs": {
        "model": model, "add_noise": add_noise, "noise_seed": 7, "steps": STEPS, "cfg": 1.0, "sampler_name": sampler,
        "scheduler": "karras", "positive": ["1", 1], "negative": ["1", 2], "latent_image": latent,
        "start_at_step": start, "end_at_step": end, "return_with_leftover_noise": leftover}}


def latent_of(server, graph, prefix):
    graph = dict(graph, save={"class_type": "SaveLatent", "inputs": {"samples": [graph.pop("out"), 0], "filename_prefix": f"split/{prefix}"}})
    entry = server.run(graph)
    assert entry["status"]["status_str"] == "success", error_message(entry)
    (latent,) = [l for out in entry["outputs"].values() for l in out.get("latents", [])]
    return load_file(os.path.join(server.base, "output", latent["subfolder"], latent["filename"]))["latent_tensor"]


def split_graph(second_model, sampler="dyweight"):
    return {"1": demo_model(0), "2": demo_model(1),
            "3": advanced(["1", 0], ["1", 3], "enable", 0, SWITCH, "enable", sampler),
            "4": advanced(second_model, ["3", 0], "disable", SWITCH, 10000, "disable", sampler), "out": "4"}


def test_split_across_two_ksampler_advanced_equals_the_unsplit_run(server):
    log_before = len(server.read_log())
    unsplit = latent_of(server, {"1": demo_model(0), "3": advanced(["1", 0], ["1", 3], "enable", 0, 10000, "disable"), "out": "3"},
                        "unsplit")
    parts = latent_of(server, split_graph(["1", 0]), "same_model")
    log = server.read_log()[log_before:]
    # the table: the shipped demo one, or one an earlier test calibrated for the same model and schedule
    label = log.split("using steps 1-2 of table '")[1].split("'")[0]
    assert f"using steps 3-4 of table '{label}'" in log
    torch.testing.assert_close(parts, unsplit, rtol=1e-4, atol=1e-4)


def test_a_pair_of_models_split_runs_the_table_across_both(server):
    log_before = len(server.read_log())
    pair = latent_of(server, split_graph(["2", 0]), "two_models")
    log = server.read_log()[log_before:]
    assert "using steps 3-4 of table '" in log and "does not continue" not in log
    same = latent_of(server, split_graph(["1", 0]), "same_again")
    assert torch.isfinite(pair).all() and not torch.allclose(pair, same, atol=1e-3)  # the second model did the low-noise steps
