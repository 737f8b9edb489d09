"""The README's pictures of the built-in trained network: its training loss, and per class its training
patches beside its samples (ComfyUI's ipndm, 40 karras steps, CFG 3, the model loaded by ComfyUI).

    .venv/bin/python -m scripts.photos_figures     # writes docs/photos32_samples.png, docs/photos32_training.png
"""
import json
import os

import torch
from PIL import Image, ImageDraw

from scripts.train_photos_model import photographs, random_patches
from tooling.pack import load_pack
from tooling.paths import ROOT

HERE = os.path.dirname(os.path.realpath(__file__))

PER_CLASS, CELL = 8, 64


def tile(pictures):
    """(N, 3, 32, 32) in [-1, 1] -> one row image, each picture CELL px."""
    row = Image.new("RGB", (len(pictures) * (CELL + 2), CELL), "white")
    for i, p in enumerate(pictures):
        pic = ((p.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
        row.paste(Image.fromarray(pic).resize((CELL, CELL), Image.NEAREST), (i * (CELL + 2), 0))
    return row


def samples_figure(path):
    load_pack()
    import comfy.sample
    from comfyui_dyweight.dyweight_core import photos
    from comfyui_dyweight.nodes.photos import DyWeightPhotosModel
    images, gen = photographs("cpu"), torch.Generator().manual_seed(1)
    label_w, half = 110, PER_CLASS * (CELL + 2)
    fig = Image.new("RGB", (label_w + 2 * half + 20, 24 + len(photos.CLASSES) * (CELL + 4)), "white")
    draw = ImageDraw.Draw(fig)
    draw.text((label_w, 6), "training patches", fill="black")
    draw.text((label_w + half + 20, 6), "samples (ipndm, 40 steps, CFG 3)", fill="black")
    with torch.inference_mode():
        model, _, negative, latent = DyWeightPhotosModel.execute("cat", PER_CLASS).result[:4]
        for k, name in enumerate(photos.CLASS_NAMES):
            y = 24 + k * (CELL + 4)
            draw.text((6, y + CELL // 2 - 6), name, fill="black")
            fig.paste(tile(random_patches(images, torch.full((PER_CLASS,), k), gen)), (label_w, y))
            noise = torch.randn(latent["samples"].shape, generator=torch.Generator().manual_seed(100 + k))
            out = comfy.sample.sample(model, noise, 40, 3.0, "ipndm", "karras", [[photos.class_context([k]), {}]], negative,
                                      latent["samples"], disable_pbar=True, seed=k)
            fig.paste(tile(photos.latent_to_image(out)), (label_w + half + 20, y))
    fig.save(path)


def training_figure(path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    log = json.load(open(os.path.join(ROOT, "benchmarks", "results", "photos32_training.json")))
    steps, loss = [e["step"] for e in log["loss"]], [e["loss"] for e in log["loss"]]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.semilogy(steps, loss)
    ax.set_xlabel(f"step (batch {log['batch']}, {log['seconds']:.0f} s on {log['device']})")
    ax.set_ylabel("v-prediction loss (running mean)")
    ax.set_title("DyWeight Photos-32 training")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    torch.set_num_threads(2)
    samples_figure(os.path.join(ROOT, "docs", "photos32_samples.png"))
    training_figure(os.path.join(ROOT, "docs", "photos32_training.png"))
    print("wrote docs/photos32_samples.png, docs/photos32_training.png")
