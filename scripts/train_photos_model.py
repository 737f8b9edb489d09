"""Train the built-in demo network, DyWeight Photos-32 (dyweight_core/photos.py), and write
models/dyweight_photos32.safetensors. Nobody needs to run this: the weights ship. It is here so that
they can be remade and so that what they are is on record.

Data: random crops (8% to 40% of the short side) of the eight colour photographs bundled with
scikit-image, box-filtered to 32x32 with roi_align and flipped at random: an endless stream, one class
per photograph. Objective: v-prediction on SD's discrete schedule (as SD 2.x; ComfyUI loads it as a
V_PREDICTION model) at a continuous timestep drawn uniformly, with the class token dropped 10% of the
time so CFG has an unconditional model. (A first run with SD1.5's noise prediction left the denoised
estimate at sigma 14.6 with twice the data's spread, and its samples with noise left in.) Adam, warm-up then cosine decay over the time budget,
EMA of the weights, saved in float16.

    python -m scripts.train_photos_model --seconds 300 [--device cuda] [--out models/...]

The low-noise expert of the built-in pair (a Wan 2.2-style second model for the last steps of a split run) is
Photos-32 trained on further, at low noise only:

    python -m scripts.train_photos_model --init models/dyweight_photos32.safetensors --max-sigma 1.0 \
        --seconds 600 --batch 96 --lr 2e-3 --ema 0.99 --out models/dyweight_photos32_low_noise.safetensors \
        --log benchmarks/results/photos32_low_noise_training.json
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torchvision

from dyweight_core import photos
from tooling.pack import import_comfyui


def import_comfy(cpu):
    """Only ComfyUI's model code: the UNetModel and its discrete v-prediction schedule (no server, no pack)."""
    import_comfyui(cpu)
    import comfy.model_sampling
    import comfy.ops
    from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel

    class Sampling(comfy.model_sampling.ModelSamplingDiscrete, comfy.model_sampling.V_PREDICTION):
        pass
    return UNetModel, comfy.ops.disable_weight_init, Sampling()


def photographs(device):
    import skimage.data
    out = []
    for _, fn in photos.CLASSES:
        img = getattr(skimage.data, fn)()
        img = img[0] if isinstance(img, tuple) else img  # stereo_motorcycle: (left, right, disparity)
        img = torch.from_numpy(np.ascontiguousarray(img[..., :3])).permute(2, 0, 1).float().div(127.5).sub(1)
        if min(img.shape[-2:]) > 512:  # the retina: crops of it stay sharp at 32 px, and roi_align stays cheap
            img = torch.nn.functional.interpolate(img[None], scale_factor=512 / min(img.shape[-2:]), mode="area")[0]
        out.append(img.unsqueeze(0).to(device))
    return out


def random_patches(images, labels, gen, size=photos.IMAGE_SIZE):
    """One box-filtered crop per label from its photograph; crop side 8%..40% of the short side."""
    batch = torch.empty(len(labels), 3, size, size, device=labels.device)
    for k, img in enumerate(images):
        idx = (labels == k).nonzero().flatten()
        if len(idx) == 0:
            continue
        h, w = img.shape[-2:]
        side = min(h, w) * (0.08 + 0.32 * torch.rand(len(idx), generator=gen, device=labels.device))
        x0 = torch.rand(len(idx), generator=gen, device=labels.device) * (w - side)
        y0 = torch.rand(len(idx), generator=gen, device=labels.device) * (h - side)
        boxes = torch.stack([torch.zeros_like(x0), x0, y0, x0 + side, y0 + side], 1)
        batch[idx] = torchvision.ops.roi_align(img, boxes, size, spatial_scale=1.0, sampling_ratio=-1, aligned=True)
    flip = torch.rand(len(labels), generator=gen, device=labels.device) < 0.5
    batch[flip] = batch[flip].flip(-1)
    return batch.clamp(-1, 1)


def build_model(UNetModel, ops, device, seed):
    torch.manual_seed(seed)
    model = UNetModel(**photos.UNET_CONFIG, operations=ops, dtype=torch.float32, device=device)
    for m in model.modules():  # ComfyUI's ops skip initialisation (weights come from files): run torch's own
        for cls in type(m).__mro__:
            if cls.__module__.startswith("torch.nn") and "reset_parameters" in cls.__dict__:
                cls.reset_parameters(m)
                break
    return model


def lr_at(fraction, peak, warmup=0.02):
    return peak * min(1.0, fraction / warmup) * 0.5 * (1 + math.cos(math.pi * min(1.0, fraction)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=photos.WEIGHTS)
    ap.add_argument("--log", default=None, help="JSON loss log (default: beside --out)")
    ap.add_argument("--init", default=None, help="start from these weights (a .safetensors this script wrote)")
    ap.add_argument("--max-sigma", type=float, default=None, help="train only at sigmas up to this (a low-noise expert)")
    args = ap.parse_args()
    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    UNetModel, ops, sampling = import_comfy(cpu=device.type == "cpu")
    sampling = sampling.to(device)
    model = build_model(UNetModel, ops, device, args.seed)
    if args.init:
        from safetensors.torch import load_file
        model.load_state_dict({k: v.float() for k, v in load_file(args.init).items()})
    top = 999 if args.max_sigma is None else float(sampling.timestep(torch.tensor(args.max_sigma, device=device)))
    ema = {k: v.detach().clone() for k, v in model.state_dict().items()}
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    images = photographs(device)
    gen = torch.Generator(device=device).manual_seed(args.seed)
    eye = torch.eye(len(photos.CLASSES), device=device)
    print(f"[train] {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters on {device}, {args.seconds:.0f}s", flush=True)

    log, started, step, smooth = [], time.time(), 0, None
    while (elapsed := time.time() - started) < args.seconds:
        # Phase 1: a batch of patches, noised at continuous SD timesteps.
        labels = torch.randint(len(photos.CLASSES), (args.batch,), generator=gen, device=device)
        x0 = photos.image_to_latent(random_patches(images, labels, gen))
        t = torch.rand(args.batch, generator=gen, device=device) * top
        sigma = sampling.sigma(t).view(-1, 1, 1, 1)
        noise = torch.randn(x0.shape, generator=gen, device=device)
        context = eye[labels].unsqueeze(1) * (torch.rand(args.batch, 1, 1, generator=gen, device=device) > 0.1)
        # Phase 2: the v loss, one Adam step, the EMA.
        pred = model(sampling.calculate_input(sigma, x0 + sigma * noise), t, context=context)
        loss = (pred - (noise - sigma * x0) / torch.sqrt(sigma ** 2 + 1)).pow(2).mean()
        for g in opt.param_groups:
            g["lr"] = lr_at(elapsed / args.seconds, args.lr)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for k, v in model.state_dict().items():
                ema[k].lerp_(v, 1 - args.ema) if v.is_floating_point() else ema[k].copy_(v)
        step += 1
        smooth = loss.item() if smooth is None else 0.99 * smooth + 0.01 * loss.item()
        if step % 100 == 0:
            log.append({"step": step, "seconds": round(elapsed, 1), "loss": smooth})
            if step % 1000 == 0:
                print(f"[train] step {step} {elapsed:.0f}s loss {smooth:.4f}", flush=True)

    from safetensors.torch import save_file
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    save_file({k: v.to(torch.float16).contiguous().cpu() for k, v in ema.items()}, args.out,
              metadata={"dyweight.model": "DyWeight Photos-32", "dyweight.classes": json.dumps(photos.CLASS_NAMES),
                        "dyweight.steps": str(step), "dyweight.batch": str(args.batch), "dyweight.seconds": str(round(elapsed)),
                        **({"dyweight.init": os.path.basename(args.init), "dyweight.max_sigma": str(args.max_sigma)} if args.init else {})})
    os.chmod(args.out, 0o644)
    log_path = args.log or os.path.splitext(args.out)[0] + "_training.json"
    with open(log_path, "w") as f:
        json.dump({"steps": step, "batch": args.batch, "seconds": round(elapsed, 1), "device": str(device),
                   "lr": args.lr, "ema": args.ema, "init": args.init, "max_sigma": args.max_sigma, "loss": log}, f, indent=1)
    print(f"[train] {step} steps, final loss {smooth:.4f}; wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
