"""`make demo`: launch a real ComfyUI with the pack through comfy-cli, calibrate a DyWeight table for the
built-in trained network (DyWeight Photos-32, shipped, no download) with DyWeight Calibrate's defaults,
then sample the same noise with every deterministic one-call built-in and with dyweight (plain KSampler,
sampler and scheduler `dyweight`) at the same step count. Writes out/demo_grid.png (euler, dpmpp_2m,
ipndm, the best built-in of this run, dyweight, a 200-step reference) and out/demo_errors.md."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from PIL import Image, ImageDraw
from safetensors.torch import load_file

from dyweight_core import photos
from dyweight_core.calibrate import per_sample_rmse
from tooling.paths import ROOT, comfyui_path
from tooling.samplers import BUILTINS
from tooling.server import ComfyServer, free_port, make_base_dir

STEPS, CFG, SCHEDULER = 6, 5.0, "karras"
SHOWN = ["euler", "dpmpp_2m", "ipndm"]
REFERENCE = ("ipndm", 200)  # 200 fourth-order steps: the ODE's endpoint to plotting precision
TABLE = f"demo_photos32_cfg{CFG:g}_{STEPS}steps"
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
        return comfy_cli("run", "--workflow", f.name, "--wait", "--host", "127.0.0.1", "--port", str(port), timeout=900)
    finally:
        os.remove(f.name)


def demo_model():
    return {"class_type": "DyWeightPhotosModel", "inputs": {"subject": "all (one per picture)", "batch_size": 8}}


def calibrate_prompt():
    """DyWeight Calibrate at its defaults (quality balanced, learned sigmas) -> Save Table."""
    return {
        "1": demo_model(),
        "2": {"class_type": "DyWeightCalibrate", "inputs": {
            "model": ["1", 0], "positive": ["1", 1], "negative": ["1", 2], "latent_image": ["1", 3], "steps": STEPS,
            "scheduler": SCHEDULER, "cfg": CFG}},
        "3": {"class_type": "DyWeightSaveTable", "inputs": {"table": ["2", 0], "name": TABLE, "overwrite": True}},
    }


def grid_prompt():
    """Plain KSamplers on one noise: the built-ins on karras, dyweight on its own (learned) schedule."""
    prompt = {"1": demo_model()}
    runs = [(s, STEPS, SCHEDULER) for s in BUILTINS] + [("dyweight", STEPS, "dyweight"), REFERENCE + (SCHEDULER,)]
    for k, (sampler, steps, scheduler) in enumerate(runs):
        ks, save = str(10 + k), str(40 + k)
        prompt[ks] = {"class_type": "KSampler", "inputs": {
            "model": ["1", 0], "seed": 1234, "steps": steps, "cfg": CFG, "sampler_name": sampler, "scheduler": scheduler,
            "positive": ["1", 1], "negative": ["1", 2], "latent_image": ["1", 3], "denoise": 1.0}}
        prompt[save] = {"class_type": "SaveLatent", "inputs": {"samples": [ks, 0], "filename_prefix": f"latents/demo_{sampler}_{steps}"}}
    return prompt, [r[:2] for r in runs]


def to_image(latent, scale=3):
    pic = ((photos.latent_to_image(latent[None])[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    return Image.fromarray(pic).resize((pic.shape[1] * scale, pic.shape[0] * scale), Image.NEAREST)


def compose(latents, rows, errors, best, path):
    label_w, cell = 230, 96
    batch = latents[rows[0]].shape[0]
    grid = Image.new("RGB", (label_w + batch * (cell + 4), len(rows) * (cell + 4) + 24), "white")
    draw = ImageDraw.Draw(grid)
    draw.text((6, 4), f"DyWeight Photos-32 (trained), {STEPS} steps, CFG {CFG:g}: same noise per column; "
                      f"columns ask for {', '.join(photos.CLASS_NAMES)}", fill="black")
    for r, run in enumerate(rows):
        y = 24 + r * (cell + 4)
        name = {REFERENCE: f"reference ({run[1]} steps)", ("dyweight", STEPS): f"dyweight, calibrated ({STEPS} steps)"}.get(
            run, f"{run[0]} ({run[1]} steps{', best built-in' if run[0] == best else ''})")
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
        print(f"[demo] calibrating a {STEPS}-step CFG {CFG:g} table for the built-in trained network "
              "(DyWeight Calibrate at its defaults -> Save Table)", flush=True)
        calibration_started = time.time()
        run_workflow(calibrate_prompt(), port)
        print(f"[demo] calibrated in {time.time() - calibration_started:.0f}s", flush=True)
        prompt, runs = grid_prompt()
        print(f"[demo] sampling {len(BUILTINS)} built-ins and dyweight at {STEPS} steps, and a {REFERENCE[1]}-step reference",
              flush=True)
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
    best = min(BUILTINS, key=lambda s: errors[(s, STEPS)])
    rows = [(s, STEPS) for s in SHOWN + ([best] if best not in SHOWN else [])] + [("dyweight", STEPS), REFERENCE]
    compose(latents, rows, errors, best, os.path.join(OUT, "demo_grid.png"))
    lines = [f"| sampler ({STEPS} steps, CFG {CFG:g}; built-ins on {SCHEDULER}) | median error vs {REFERENCE[1]}-step solve |",
             "|---|---|"]
    lines += [f"| {s}{' (learned sigmas, scheduler dyweight)' if s == 'dyweight' else ''} | {errors[(s, n)]:.4f} |"
              for s, n in sorted(errors, key=errors.get)]
    table = "\n".join(lines)
    open(os.path.join(OUT, "demo_errors.md"), "w").write(table + "\n")
    shutil.copy(os.path.join(base, "models", "dyweight", f"{TABLE}.yaml"), os.path.join(OUT, f"{TABLE}.yaml"))
    print(table)
    print(f"[demo] dyweight {errors[('dyweight', STEPS)]:.4f} vs the best built-in {best} {errors[(best, STEPS)]:.4f}: "
          f"{errors[(best, STEPS)] / errors[('dyweight', STEPS)]:.2f}x")
    print(f"[demo] wrote {OUT}/demo_grid.png, demo_errors.md and the table in {time.time() - started:.0f}s")


if __name__ == "__main__":
    main()
