"""`make demo`: launch a real ComfyUI with the pack through comfy-cli, calibrate a DyWeight table for the
built-in exact demo model, then sample the same noise with euler, dpmpp_2m, ipndm and dyweight at the
same low step count. Writes out/demo_grid.png and out/demo_errors.md (error vs a 200-step solve)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from PIL import Image, ImageDraw
from safetensors.torch import load_file

from comfy_server import ROOT, ComfyServer, comfyui_path, free_port, make_base_dir

sys.path.insert(0, ROOT)
from dyweight_core.calibrate import per_sample_rmse  # noqa: E402

STEPS, SCHEDULER, KIND = 4, "karras", "eps"
SAMPLERS = ["euler", "dpmpp_2m", "ipndm", "dyweight"]
REFERENCE = ("ipndm", 200)  # 200 fourth-order steps: the exact solution to plotting precision
OUT = os.path.join(ROOT, "out")


def comfy_cli(*args, timeout=300):
    bin_dir = os.path.dirname(sys.executable)  # comfy-cli re-invokes `comfy` for background launches
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    cmd = [os.path.join(bin_dir, "comfy"), "--skip-prompt", "--workspace", comfyui_path(), *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
    return res.stdout


def run_workflow(prompt, port):
    """comfy run --wait on an API-format workflow file."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(prompt, f)
    try:
        return comfy_cli("run", "--workflow", f.name, "--wait", "--host", "127.0.0.1", "--port", str(port), timeout=600)
    finally:
        os.remove(f.name)


def demo_model():
    return {"class_type": "DyWeightDemoModel", "inputs": {"kind": KIND, "shift": 3.0, "batch_size": 6, "seed": 0}}


def calibrate_prompt():
    return {
        "1": demo_model(),
        "2": {"class_type": "DyWeightCalibrate", "inputs": {
            "model": ["1", 0], "positive": ["1", 1], "negative": ["1", 2], "latent_image": ["1", 3], "steps": STEPS,
            "scheduler": SCHEDULER, "cfg": 1.0, "teacher_steps": 128, "iterations": 200, "samples": 96, "holdout": 32,
            "batch_size": 16, "learning_rate": 0.003}},
        "3": {"class_type": "DyWeightSaveTable", "inputs": {"table": ["2", 0], "name": f"demo_{KIND}_{STEPS}steps", "overwrite": True}},
    }


def grid_prompt():
    prompt = {"1": demo_model()}
    runs = [(s, STEPS) for s in SAMPLERS] + [REFERENCE]
    for k, (sampler, steps) in enumerate(runs):
        ks, save = str(10 + k), str(30 + k)
        prompt[ks] = {"class_type": "KSampler", "inputs": {
            "model": ["1", 0], "seed": 1234, "steps": steps, "cfg": 1.0, "sampler_name": sampler, "scheduler": SCHEDULER,
            "positive": ["1", 1], "negative": ["1", 2], "latent_image": ["1", 3], "denoise": 1.0}}
        prompt[save] = {"class_type": "SaveLatent", "inputs": {"samples": [ks, 0], "filename_prefix": f"latents/demo_{sampler}_{steps}"}}
    return prompt, runs


def to_image(latent, scale=3):
    pic = ((latent.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    return Image.fromarray(pic).resize((pic.shape[1] * scale, pic.shape[0] * scale), Image.NEAREST)


def compose(latents, runs, errors, path):
    label_w, cell = 190, 96
    batch = latents[runs[0]].shape[0]
    grid = Image.new("RGB", (label_w + batch * (cell + 4), len(runs) * (cell + 4) + 24), "white")
    draw = ImageDraw.Draw(grid)
    draw.text((6, 4), f"demo model, {STEPS} steps, {SCHEDULER}: same noise per column", fill="black")
    for r, run in enumerate(runs):
        y = 24 + r * (cell + 4)
        name = f"{run[0]} ({run[1]} steps)" if run != REFERENCE else f"reference ({run[1]} steps)"
        draw.text((6, y + cell // 2 - 12), name, fill="black")
        if run in errors:
            draw.text((6, y + cell // 2 + 2), f"error {errors[run]:.4f}", fill="crimson" if run[0] == "dyweight" else "dimgray")
        for c in range(batch):
            grid.paste(to_image(latents[run][c]), (label_w + c * (cell + 4), y))
    grid.save(path)


def main():
    os.makedirs(OUT, exist_ok=True)
    started = time.time()
    base = make_base_dir(tempfile.mkdtemp(prefix="dyweight-demo-"))
    port = free_port()
    print(f"[demo] launching ComfyUI with comfy-cli on port {port} (base {base})", flush=True)
    comfy_cli("launch", "--background", "--", "--cpu", "--port", str(port), "--base-directory", base, "--disable-auto-launch")
    server = ComfyServer(base=base, port=port)
    try:
        for _ in range(240):  # wait for the server comfy-cli started
            try:
                server.get("/object_info/KSampler")
                break
            except OSError:
                time.sleep(0.5)
        print("[demo] calibrating a 4-step table for the demo model (DyWeight Calibrate -> Save Table)", flush=True)
        run_workflow(calibrate_prompt(), port)
        prompt, runs = grid_prompt()
        print(f"[demo] sampling {', '.join(SAMPLERS)} at {STEPS} steps, and a {REFERENCE[1]}-step reference", flush=True)
        run_workflow(prompt, port)
    finally:
        comfy_cli("stop", "--port", str(port))
    latents = {}
    for sampler, steps in runs:
        folder = os.path.join(base, "output", "latents")
        name = sorted(f for f in os.listdir(folder) if f.startswith(f"demo_{sampler}_{steps}_"))[-1]
        latents[(sampler, steps)] = load_file(os.path.join(folder, name))["latent_tensor"].float()
    ref = latents[REFERENCE]
    errors = {run: per_sample_rmse(latents[run], ref).median().item() for run in runs if run != REFERENCE}
    compose(latents, runs, errors, os.path.join(OUT, "demo_grid.png"))
    lines = [f"| sampler ({STEPS} steps, {SCHEDULER}) | median error vs {REFERENCE[1]}-step solve |", "|---|---|"]
    lines += [f"| {s} | {errors[(s, n)]:.4f} |" for s, n in runs if (s, n) != REFERENCE]
    table = "\n".join(lines)
    open(os.path.join(OUT, "demo_errors.md"), "w").write(table + "\n")
    shutil.copy(os.path.join(base, "models", "dyweight", f"demo_{KIND}_{STEPS}steps.yaml"), os.path.join(OUT, f"demo_{KIND}_{STEPS}steps.yaml"))
    print(table)
    print(f"[demo] wrote {OUT}/demo_grid.png, demo_errors.md and the table in {time.time() - started:.0f}s")


if __name__ == "__main__":
    main()
