"""Regenerates workflows/: UI-format workflows (+ .jpg thumbnails) for ComfyUI's template browser and
API-format copies for tests, from the graphs below, using a real server's /object_info.

    .venv/bin/python -m scripts.make_workflows
"""
import json
import os


from PIL import Image

from dyweight_core import heatmap
from dyweight_core.calibrate import CalibrationConfig
from tooling.paths import ROOT
from tooling.server import ComfyServer
from tooling.workflow_format import api_to_ui, ui_to_api
from dyweight_core.table import load_table, table_to_text  # noqa: E402

OUT = os.path.join(ROOT, "workflows")
SD15 = "v1-5-pruned-emaonly.safetensors"
PROMPT = "a lighthouse on a cliff at sunset, dramatic sky, detailed oil painting"
NEGATIVE = "blurry, low quality"


def node(class_type, title=None, **inputs):
    """A node of the graph; a title only where it says more than the node's display name."""
    return {"class_type": class_type, "inputs": inputs, **({"_meta": {"title": title}} if title else {})}


def sd15_base():
    return {
        "1": node("CheckpointLoaderSimple", ckpt_name=SD15),
        "2": node("CLIPTextEncode", "Positive", text=PROMPT, clip=["1", 1]),
        "3": node("CLIPTextEncode", "Negative", text=NEGATIVE, clip=["1", 1]),
        "4": node("EmptyLatentImage", width=512, height=512, batch_size=1),
    }


def ksampler(sampler, scheduler="karras", steps=6, seed=42, latent=("4", 0), title=None, model=("1", 0)):
    return node("KSampler", title or f"KSampler ({sampler}, {scheduler})", model=list(model), seed=seed, steps=steps, cfg=7.5,
                sampler_name=sampler, scheduler=scheduler, positive=["2", 0], negative=["3", 0], latent_image=list(latent), denoise=1.0)


def txt2img():
    g = sd15_base()
    g["5"] = ksampler("dyweight", "dyweight", title="KSampler: dyweight + dyweight (SD1.5 table: 4/6/8/10 steps)")
    g["6"] = node("VAEDecode", samples=["5", 0], vae=["1", 2])
    g["7"] = node("SaveImage", images=["6", 0], filename_prefix="dyweight")
    return g, {"1": (0, 0), "2": (340, -120), "3": (340, 120), "4": (340, 330), "5": (720, 0), "6": (1140, 0), "7": (1400, 0)}


def calibrate():
    g = sd15_base()
    g["5"] = node("DyWeightCalibrate", model=["1", 0], positive=["2", 0], negative=["3", 0], latent_image=["4", 0], steps=6,
                  scheduler="karras", cfg=7.0, teacher_steps=0, iterations=0, seed=0, samples=0, holdout=0, batch_size=0,
                  window=CalibrationConfig.window, learning_rate=0.0, loss=CalibrationConfig.loss, checkpointing="auto", denoise=1.0, afs=False, learn_sigmas=True,
                  quality="balanced", step_counts="", minutes=0.0)  # knobs at 0: the preset's; the learned sigmas: scheduler dyweight
    g["6"] = node("DyWeightSaveTable", table=["5", 0], name="sd15_my_checkpoint_6steps", overwrite=False)
    g["7"] = node("DyWeightInspect", table=["5", 0])
    g["8"] = node("PreviewImage", images=["7", 0])
    g["9"] = node("PreviewAny", "Calibration report", source=["5", 1])
    g["10"] = node("PreviewImage", "Calibration report: fallback / calibrated / teacher", images=["5", 2])
    return g, {"1": (0, 0), "2": (340, -120), "3": (340, 120), "4": (340, 330), "5": (720, 0), "6": (1100, -100),
               "7": (1100, 120), "8": (1400, 120), "9": (1100, 340), "10": (1400, 340)}


def grid():
    g = sd15_base()
    layout = {"1": (0, 0), "2": (340, -120), "3": (340, 120), "4": (340, 330)}
    decoded = []
    for k, sampler in enumerate(["dyweight", "euler", "dpmpp_2m", "ipndm"]):
        ks, dec = str(10 + k), str(20 + k)
        g[ks] = ksampler(sampler, "dyweight" if sampler == "dyweight" else "karras")
        g[dec] = node("VAEDecode", samples=[ks, 0], vae=["1", 2])
        layout[ks], layout[dec] = (720, -300 + 300 * k), (1140, -300 + 300 * k)
        decoded.append(dec)
    g["30"] = node("ImageBatch", image1=[decoded[0], 0], image2=[decoded[1], 0])
    g["31"] = node("ImageBatch", image1=[decoded[2], 0], image2=[decoded[3], 0])
    g["32"] = node("ImageBatch", image1=["30", 0], image2=["31", 0])
    g["33"] = node("SaveImage", "dyweight | euler | dpmpp_2m | ipndm", images=["32", 0], filename_prefix="dyweight_grid")
    layout.update({"30": (1400, -200), "31": (1400, 200), "32": (1640, 0), "33": (1880, 0)})
    return g, layout


def flux():
    """FLUX.1-dev as ComfyUI's own example builds it, with dyweight picked in KSamplerSelect and BasicScheduler:
    the shipped 7-step table is found automatically, at the resolution ModelSamplingFlux sets."""
    g = {
        "1": node("UNETLoader", unet_name="flux1-dev.safetensors", weight_dtype="default"),
        "2": node("DualCLIPLoader", clip_name1="t5xxl_fp16.safetensors", clip_name2="clip_l.safetensors", type="flux", device="default"),
        "3": node("VAELoader", vae_name="ae.safetensors"),
        "4": node("CLIPTextEncode", "Prompt", text=PROMPT, clip=["2", 0]),
        "5": node("FluxGuidance", conditioning=["4", 0], guidance=3.5),
        "6": node("ModelSamplingFlux", model=["1", 0], max_shift=1.15, base_shift=0.5, width=1024, height=1024),
        "7": node("BasicGuider", model=["6", 0], conditioning=["5", 0]),
        "8": node("KSamplerSelect", "Sampler: dyweight", sampler_name="dyweight"),
        "9": node("BasicScheduler", "Scheduler: dyweight, 7 steps (shipped: 3/5/7)", model=["6", 0], scheduler="dyweight", steps=7, denoise=1.0),
        "10": node("RandomNoise", noise_seed=42),
        "11": node("EmptySD3LatentImage", width=1024, height=1024, batch_size=1),
        "12": node("SamplerCustomAdvanced", noise=["10", 0], guider=["7", 0], sampler=["8", 0], sigmas=["9", 0], latent_image=["11", 0]),
        "13": node("VAEDecode", samples=["12", 0], vae=["3", 0]),
        "14": node("SaveImage", images=["13", 0], filename_prefix="flux_dyweight"),
    }
    layout = {"1": (0, 0), "2": (0, 160), "3": (0, 360), "4": (340, 160), "5": (640, 160), "6": (340, 0), "7": (900, 0),
              "8": (900, 420), "9": (900, 560), "10": (900, -160), "11": (900, 740), "12": (1200, 200), "13": (1500, 200), "14": (1740, 200)}
    return g, layout


def demo():
    """The built-in trained network: calibrate (quality fast, learned sigmas), then dyweight beside lms."""
    g = {
        "1": node("DyWeightPhotosModel", subject="all (one per picture)", batch_size=8),
        "2": node("DyWeightCalibrate", model=["1", 0], positive=["1", 1], negative=["1", 2], latent_image=["1", 3], steps=6,
                  scheduler="karras", cfg=5.0, teacher_steps=0, iterations=0, seed=0, samples=0, holdout=0, batch_size=0,
                  window=CalibrationConfig.window, learning_rate=0.0, loss=CalibrationConfig.loss, checkpointing="auto", denoise=1.0, afs=False, learn_sigmas=True,
                  quality="fast", step_counts="", minutes=0.0),
        "3": node("DyWeightSampler", table=["2", 0]),
        "4": node("DyWeightScheduler", table=["2", 0], resolution=1024, denoise=1.0, steps=0),
        "5": node("SamplerCustom", "dyweight, 6 steps", model=["1", 0], add_noise=True, noise_seed=7, cfg=5.0, positive=["1", 1],
                  negative=["1", 2], sampler=["3", 0], sigmas=["4", 0], latent_image=["1", 3]),
        "6": node("KSampler", "lms, 6 steps", model=["1", 0], seed=7, steps=6, cfg=5.0, sampler_name="lms", scheduler="karras",
                  positive=["1", 1], negative=["1", 2], latent_image=["1", 3], denoise=1.0),
        "7": node("DyWeightDemoDecode", samples=["5", 0], scale=4),
        "8": node("DyWeightDemoDecode", samples=["6", 0], scale=4),
        "9": node("SaveImage", "dyweight", images=["7", 0], filename_prefix="demo_dyweight"),
        "10": node("SaveImage", "lms", images=["8", 0], filename_prefix="demo_lms"),
        "11": node("PreviewAny", "Calibration report", source=["2", 1]),
        "12": node("PreviewImage", "Calibration report: fallback / calibrated / teacher", images=["2", 2]),
    }
    layout = {"1": (0, 0), "2": (340, -200), "3": (720, -200), "4": (720, -60), "5": (1000, -200), "6": (1000, 200),
              "7": (1340, -200), "8": (1340, 200), "9": (1600, -200), "10": (1600, 200), "11": (720, 80), "12": (720, 320)}
    return g, layout


def split_run():
    """One solve over two KSamplerAdvanced nodes, as for SDXL base + refiner or Wan 2.2's two experts: here two built-in
    demo models, the second taking the low-noise steps; the table's history carries across the switch."""
    g = {
        "1": node("DyWeightDemoModel", "model for the high-noise steps", kind="eps", shift=3.0, batch_size=4, seed=0),
        "2": node("DyWeightDemoModel", "model for the low-noise steps", kind="eps", shift=3.0, batch_size=4, seed=1),
        "3": node("KSamplerAdvanced", "steps 0-2 (leftover noise on)", model=["1", 0], add_noise="enable", noise_seed=7, steps=4,
                  cfg=1.0, sampler_name="dyweight", scheduler="karras", positive=["1", 1], negative=["1", 2],
                  latent_image=["1", 3], start_at_step=0, end_at_step=2, return_with_leftover_noise="enable"),
        "4": node("KSamplerAdvanced", "steps 2-4 (no new noise)", model=["2", 0], add_noise="disable", noise_seed=7, steps=4,
                  cfg=1.0, sampler_name="dyweight", scheduler="karras", positive=["1", 1], negative=["1", 2],
                  latent_image=["3", 0], start_at_step=2, end_at_step=10000, return_with_leftover_noise="disable"),
        "5": node("DyWeightDemoDecode", samples=["4", 0], scale=4),
        "6": node("SaveImage", images=["5", 0], filename_prefix="dyweight_split"),
    }
    layout = {"1": (0, 0), "2": (0, 300), "3": (340, 0), "4": (700, 0), "5": (1060, 0), "6": (1320, 0)}
    return g, layout


def pair():
    """DyWeight Calibrate for a pair of models (Wan 2.2's experts; here the built-in trained network and its low-noise
    expert), then the split run with the table connected: DyWeight Scheduler's sigmas split at the switch step into
    two SamplerCustom runs, one per model, the second carrying on the first's history. Save Table keeps the table
    for two KSamplerAdvanced nodes with `dyweight` (README, Three ways to use it)."""
    g = {
        "1": node("DyWeightPhotosModel", subject="all (one per picture)", batch_size=8),
        "2": node("DyWeightCalibrate", model=["1", 0], positive=["1", 1], negative=["1", 2], latent_image=["1", 3], steps=6,
                  scheduler="karras", cfg=5.0, teacher_steps=0, iterations=0, seed=0, samples=0, holdout=0, batch_size=0,
                  window=CalibrationConfig.window, learning_rate=0.0, loss=CalibrationConfig.loss, checkpointing="auto", denoise=1.0,
                  afs=False, learn_sigmas=False, quality="fast", step_counts="", minutes=0.0, model_low_noise=["1", 4], switch_step=3),
        "3": node("DyWeightSaveTable", table=["2", 0], name="photos32_pair_6steps", overwrite=True),
        "4": node("DyWeightSampler", table=["2", 0]),
        "5": node("DyWeightScheduler", table=["2", 0], resolution=1024, denoise=1.0, steps=0),
        "6": node("SplitSigmas", "switch at step 3", sigmas=["5", 0], step=3),
        "7": node("SamplerCustom", "steps 1-3: the first model", model=["1", 0], add_noise=True, noise_seed=7, cfg=5.0,
                  positive=["1", 1], negative=["1", 2], sampler=["4", 0], sigmas=["6", 0], latent_image=["1", 3]),
        "8": node("SamplerCustom", "steps 4-6: the low-noise model", model=["1", 4], add_noise=False, noise_seed=7, cfg=5.0,
                  positive=["1", 1], negative=["1", 2], sampler=["4", 0], sigmas=["6", 1], latent_image=["7", 0]),
        "9": node("DyWeightDemoDecode", samples=["8", 0], scale=4),
        "10": node("SaveImage", images=["9", 0], filename_prefix="dyweight_pair"),
        "11": node("PreviewAny", "Calibration report", source=["2", 1]),
    }
    layout = {"1": (0, 0), "2": (340, -200), "3": (720, -340), "4": (720, -200), "5": (720, -60), "6": (1000, -60),
              "7": (1280, -200), "8": (1620, -200), "9": (1960, -200), "10": (2220, -200), "11": (720, 120)}
    return g, layout


def inline_table():
    """A workflow that carries its table: it runs the same on a machine with no table files."""
    text = table_to_text(load_table(os.path.join(ROOT, "coefficients", "demo_eps_karras_4steps.yaml")))
    g = {
        "1": node("DyWeightDemoModel", kind="eps", shift=3.0, batch_size=4, seed=0),
        "2": node("DyWeightInlineTable", "Table carried by this workflow", table_yaml=text),
        "3": node("DyWeightSampler", table=["2", 0]),
        "4": node("DyWeightScheduler", table=["2", 0], resolution=1024, denoise=1.0, steps=0),
        "5": node("SamplerCustom", "dyweight, 4 steps, inline table", model=["1", 0], add_noise=True, noise_seed=7, cfg=1.0,
                  positive=["1", 1], negative=["1", 2], sampler=["3", 0], sigmas=["4", 0], latent_image=["1", 3]),
        "6": node("DyWeightDemoDecode", samples=["5", 0], scale=4),
        "7": node("SaveImage", images=["6", 0], filename_prefix="inline_table"),
    }
    layout = {"1": (0, 0), "2": (340, -260), "3": (760, -260), "4": (760, -120), "5": (1060, 0), "6": (1400, 0), "7": (1660, 0)}
    return g, layout


WORKFLOWS = {  # file names are the titles the template browser shows
    "DyWeight SD1.5 txt2img": txt2img,
    "DyWeight calibrate your checkpoint": calibrate,
    "DyWeight vs euler dpmpp_2m ipndm": grid,
    "DyWeight FLUX.1-dev 7 steps": flux,
    "DyWeight demo (built-in model)": demo,
    "DyWeight table inside the workflow": inline_table,
    "DyWeight split run (two KSamplerAdvanced)": split_run,
    "DyWeight calibrate a pair of models (split run)": pair,
}


def table_heatmap(name):
    """DyWeight Inspect's heatmap of a shipped table: what the workflow runs."""
    return Image.fromarray(heatmap.render(load_table(os.path.join(ROOT, "coefficients", name))))


DEMO_GRID = os.path.join(ROOT, "docs", "demo_grid.png")
PAIR_PICTURE = os.path.join(ROOT, "docs", "photos_pair.png")  # benchmarks/photos_pair.py draws it
PICTURES = {  # a real output for each template: the grid the demo makes, or the table the workflow uses
    "DyWeight SD1.5 txt2img": lambda: table_heatmap("sd15_dyweight_6steps.yaml"),
    "DyWeight calibrate your checkpoint": lambda: Image.open(os.path.join(ROOT, "docs", "heatmap.png")),
    "DyWeight vs euler dpmpp_2m ipndm": lambda: Image.open(DEMO_GRID),
    "DyWeight FLUX.1-dev 7 steps": lambda: table_heatmap("flux1dev_dyweight_7steps.yaml"),
    "DyWeight demo (built-in model)": lambda: Image.open(DEMO_GRID),
    "DyWeight table inside the workflow": lambda: table_heatmap("demo_eps_karras_4steps.yaml"),
    "DyWeight split run (two KSamplerAdvanced)": lambda: table_heatmap("demo_eps_karras_4steps.yaml"),
    "DyWeight calibrate a pair of models (split run)": lambda: Image.open(PAIR_PICTURE),
}


def thumbnail(picture, path):
    img = Image.new("RGB", (512, 512), (24, 24, 28))
    picture = picture.convert("RGB")
    picture.thumbnail((512, 512))
    img.paste(picture, ((512 - picture.width) // 2, (512 - picture.height) // 2))
    img.save(path, quality=90)


def main():
    os.makedirs(os.path.join(OUT, "api"), exist_ok=True)
    with ComfyServer() as server:
        info = server.get("/object_info")
    for name, build in WORKFLOWS.items():
        graph, layout = build()
        ui = api_to_ui(graph, info, layout)
        json.dump(ui, open(os.path.join(OUT, f"{name}.json"), "w"), indent=1)
        json.dump(ui_to_api(ui, info), open(os.path.join(OUT, "api", f"{name}.json"), "w"), indent=1)  # every widget explicit
        thumbnail(PICTURES[name](), os.path.join(OUT, f"{name}.jpg"))
        print("wrote", name)


if __name__ == "__main__":
    main()
