"""A calibrated table reaches the user's pictures only where it helps, through the server, on the trained
Photos-32 network, as a new user wires it: DyWeight Calibrate at its defaults, Save Table, a plain KSampler."""
import os

import pytest
import torch
from safetensors.torch import load_file

from tooling.server import error_message

PHOTOS = {"class_type": "DyWeightPhotosModel", "inputs": {"subject": "all (one per picture)", "batch_size": 8}}
CFG = 5.0


def calibrate_and_save(server, name, steps, scheduler):
    """Calibrate at the defaults (only the required inputs), then save; returns the report."""
    entry = server.run({
        "1": PHOTOS,
        "2": {"class_type": "DyWeightCalibrate", "inputs": {"model": ["1", 0], "positive": ["1", 1], "negative": ["1", 2],
              "latent_image": ["1", 3], "steps": steps, "scheduler": scheduler, "cfg": CFG}},
        "3": {"class_type": "DyWeightSaveTable", "inputs": {"table": ["2", 0], "name": name, "overwrite": True}},
        "4": {"class_type": "PreviewAny", "inputs": {"source": ["2", 1]}},
    }, timeout=900)
    assert entry["status"]["status_str"] == "success", error_message(entry)
    return entry["outputs"]["4"]["text"][0]


def saved_latent(server, entry):
    assert entry["status"]["status_str"] == "success", error_message(entry)
    (latent,) = [l for out in entry["outputs"].values() for l in out.get("latents", [])]
    return load_file(os.path.join(server.base, "output", latent["subfolder"], latent["filename"]))["latent_tensor"]


def ksampler(server, sampler, scheduler, steps, prefix):
    return saved_latent(server, server.run({
        "1": PHOTOS,
        "2": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "seed": 11, "steps": steps, "cfg": CFG, "sampler_name": sampler,
              "scheduler": scheduler, "positive": ["1", 1], "negative": ["1", 2], "latent_image": ["1", 3], "denoise": 1.0}},
        "3": {"class_type": "SaveLatent", "inputs": {"samples": ["2", 0], "filename_prefix": f"reach/{prefix}"}},
    }))


@pytest.fixture
def table_folder(server):
    folder = os.path.join(server.base, "models", "dyweight")
    made = set(os.listdir(folder)) if os.path.isdir(folder) else set()
    yield folder
    for name in set(os.listdir(folder)) - made:  # other tests' lookups must not meet these tables
        os.remove(os.path.join(folder, name))


def test_calibrated_on_karras_then_sampled_on_karras_is_never_worse_than_ipndm(server, table_folder):
    """Calibrate's default learns its own sigmas: on the karras sigmas it started from, the table would do worse
    than the fallback, so a karras KSampler must run exactly the fallback (= ipndm) and say which scheduler uses it."""
    report = calibrate_and_save(server, "reach_karras", 4, "karras")
    assert "on scheduler 'karras' or any other the dyweight sampler takes the ipndm fallback" in report
    log_before = len(server.read_log())
    dyweight, ipndm = (ksampler(server, s, "karras", 4, f"karras_{s}") for s in ("dyweight", "ipndm"))
    torch.testing.assert_close(dyweight, ipndm, rtol=0, atol=1e-4)  # the fallback is ipndm (in float64, ComfyUI's in float32)
    log = server.read_log()[log_before:]
    assert "made for another schedule" in log and "scheduler=dyweight would use table 'reach_karras'" in log


def test_documented_path_runs_the_table_on_its_own_sigmas(server, table_folder):
    """Calibrate (scheduler dyweight) -> Save Table -> plain KSampler dyweight + dyweight gives exactly what the table
    gives on its own sigmas (DyWeight Sampler + DyWeight Scheduler, the table connected), whatever sigmas it learned."""
    calibrate_and_save(server, "reach_documented", 6, "dyweight")
    log_before = len(server.read_log())
    plain = ksampler(server, "dyweight", "dyweight", 6, "documented_plain")
    log = server.read_log()[log_before:]
    assert "scheduler: the sigmas of table 'reach_documented'" in log and "using table 'reach_documented'" in log
    explicit = saved_latent(server, server.run({
        "1": PHOTOS,
        "2": {"class_type": "DyWeightLoadTable", "inputs": {"name": "reach_documented.yaml"}},
        "3": {"class_type": "DyWeightSampler", "inputs": {"table": ["2", 0]}},
        "4": {"class_type": "DyWeightScheduler", "inputs": {"table": ["2", 0]}},
        "5": {"class_type": "SamplerCustom", "inputs": {"model": ["1", 0], "add_noise": True, "noise_seed": 11, "cfg": CFG,
              "positive": ["1", 1], "negative": ["1", 2], "sampler": ["3", 0], "sigmas": ["4", 0], "latent_image": ["1", 3]}},
        "6": {"class_type": "SaveLatent", "inputs": {"samples": ["5", 0], "filename_prefix": "reach/documented_explicit"}},
    }))
    torch.testing.assert_close(plain, explicit, rtol=0, atol=1e-5)
    ipndm = ksampler(server, "ipndm", "dyweight", 6, "documented_ipndm")
    assert (plain - ipndm).abs().max() > 1e-3  # the table, not the fallback, ran


def test_tables_for_several_step_counts_are_found_by_a_plain_ksampler_at_each(server, table_folder):
    """Calibrate with step_counts 3,5 (one run) -> Save Table writes one file per count -> a plain KSampler with
    dyweight + dyweight at 3 and at 5 steps runs each count's table."""
    entry = server.run({
        "1": PHOTOS,
        "2": {"class_type": "DyWeightCalibrate", "inputs": {"model": ["1", 0], "positive": ["1", 1], "negative": ["1", 2],
              "latent_image": ["1", 3], "steps": 3, "scheduler": "dyweight", "cfg": CFG, "step_counts": "3,5",
              "quality": "fast", "iterations": 6, "samples": 8, "holdout": 8, "teacher_steps": 8}},
        "3": {"class_type": "DyWeightSaveTable", "inputs": {"table": ["2", 0], "name": "reach_counts", "overwrite": True}},
    })
    assert entry["status"]["status_str"] == "success", error_message(entry)
    assert {"reach_counts_3steps.yaml", "reach_counts_5steps.yaml"} <= set(os.listdir(table_folder))
    for steps in (3, 5):
        log_before = len(server.read_log())
        ksampler(server, "dyweight", "dyweight", steps, f"counts_{steps}")
        log = server.read_log()[log_before:]
        assert f"scheduler: the sigmas of table 'reach_counts_{steps}steps'" in log and f"using table 'reach_counts_{steps}steps'" in log
