"""A LoRA (a real LoRA file through the stock LoraLoader) or a model patch makes another model: its
fingerprint changes, a calibration teacher is solved anew, and a table made with one LoRA is never a
"weight fingerprint match" for the base model or another LoRA."""
import pytest
import torch
from safetensors.torch import save_file


@pytest.fixture(scope="module")
def env(pack, tmp_path_factory):
    import importlib.util
    import os
    import comfy.lora
    import folder_paths
    from tooling import comfy_models
    from tooling.paths import comfyui_path
    # ComfyUI's own nodes.py (our pack's `nodes` package shadows the name in the tests' path)
    spec = importlib.util.spec_from_file_location("comfyui_stock_nodes", os.path.join(comfyui_path(), "nodes.py"))
    nodes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nodes)
    from comfyui_dyweight.nodes import calibrate, model_info
    base, dim = comfy_models.unet_model()
    folder = tmp_path_factory.mktemp("loras")
    targets = [k for k in comfy.lora.model_lora_keys_unet(base.model, {}).items() if k[0].startswith("lora_unet") and "attn" in k[0]][:6]
    assert targets
    state = base.model.state_dict()
    for name, seed in (("lora_a.safetensors", 1), ("lora_b.safetensors", 2)):
        g, lora = torch.Generator().manual_seed(seed), {}
        for lora_key, model_key in targets:
            out_dim, in_dim = state[model_key].shape[:2]
            lora[f"{lora_key}.lora_up.weight"] = torch.randn(out_dim, 4, generator=g) * 0.1
            lora[f"{lora_key}.lora_down.weight"] = torch.randn(4, in_dim, generator=g) * 0.1
            lora[f"{lora_key}.alpha"] = torch.tensor(4.0)
        save_file(lora, str(folder / name))
    folder_paths.add_model_folder_path("loras", str(folder))
    with_lora = lambda name, strength: nodes.LoraLoader().load_lora(base, None, name, strength, 0.0)[0]
    return {"base": base, "dim": dim, "lora": with_lora, "identity": model_info.model_identity, "calibrate": calibrate,
            "models": comfy_models}


def test_lora_and_its_strength_and_model_patches_change_the_fingerprint(env):
    ident = env["identity"]
    base, a1, a05, b1 = ident(env["base"]), ident(env["lora"]("lora_a.safetensors", 1.0)), \
        ident(env["lora"]("lora_a.safetensors", 0.5)), ident(env["lora"]("lora_b.safetensors", 1.0))
    prints = [base["fingerprint"], a1["fingerprint"], a05["fingerprint"], b1["fingerprint"]]
    assert len(set(prints)) == 4 and base["patches"] is None
    assert {base["weights"], a1["weights"], b1["weights"]} == {base["fingerprint"]}  # the same checkpoint underneath
    assert a1["patches"] == "6 weight patches (strength 1)" and a05["patches"] == "6 weight patches (strength 0.5)"
    assert ident(env["lora"]("lora_a.safetensors", 1.0))["fingerprint"] == a1["fingerprint"]  # stable across loads
    freeu = env["base"].clone()
    freeu.set_model_output_block_patch(lambda h, hsp, transformer_options: (h * 1.1, hsp))
    patched = ident(freeu)
    assert patched["fingerprint"] not in prints and patched["patches"] == "model options: patches.output_block_patch"


def calibrate(env, model, iterations=2):
    cond = env["models"].unet_conditioning(env["dim"])
    with torch.inference_mode():
        return env["calibrate"].DyWeightCalibrate.execute(
            model, cond, cond, {"samples": torch.zeros(1, 4, 8, 8)}, 3, "karras", 2.0, teacher_steps=12,
            iterations=iterations, seed=3, samples=4, holdout=2, batch_size=2).result[:2]


def test_a_lora_forces_a_new_teacher_solve_and_its_table_is_not_the_base_models(env):
    calibrate(env, env["base"])
    table, report = calibrate(env, env["lora"]("lora_a.safetensors", 1.0))
    assert "reused from an earlier calibration" not in report
    assert "reused from an earlier calibration" in calibrate(env, env["lora"]("lora_a.safetensors", 1.0))[1]
    assert table.model["patches"] == "6 weight patches (strength 1)"
    from comfyui_dyweight.dyweight_core.lookup import choose_table
    for model in (env["base"], env["lora"]("lora_b.safetensors", 1.0)):
        chosen, message = choose_table([table], env["identity"](model), table.sigmas)
        assert chosen is table and "weight fingerprint" not in message and "the same checkpoint, but calibrated with patches" in message
    chosen, message = choose_table([table], env["identity"](env["lora"]("lora_a.safetensors", 1.0)), table.sigmas)
    assert "(weight fingerprint match)" in message


def test_two_modules_of_one_architecture_do_not_hash_alike(env):
    """A ControlNet (or any module) in conditioning or patches is identified by its weights, not its shape."""
    import hashlib
    from comfyui_dyweight.nodes.model_info import feed_hash
    digest = lambda obj: (lambda h: (feed_hash(h, obj), h.hexdigest())[1])(hashlib.sha256())
    a, b = torch.nn.Linear(8, 8), torch.nn.Linear(8, 8)
    with torch.no_grad():
        b.weight.copy_(a.weight * 1.5)
        b.bias.copy_(a.bias)
    assert digest({"control": a}) != digest({"control": b}) and digest({"control": a}) == digest({"control": a})
