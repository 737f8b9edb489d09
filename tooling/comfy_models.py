"""Real ComfyUI model classes with random weights, built under inference mode as ComfyUI's loaders do.
Used by the calibration tests and the GPU benchmark. Import only after tooling.pack.load_pack()."""
import torch

import comfy.model_base
import comfy.model_management
import comfy.model_patcher
import comfy.supported_models

SD15_FULL = dict(use_checkpoint=False, image_size=32, out_channels=4, use_spatial_transformer=True, legacy=False,
                 adm_in_channels=None, in_channels=4, model_channels=320, num_res_blocks=[2, 2, 2, 2],
                 transformer_depth=[1, 1, 1, 1, 1, 1, 0, 0], channel_mult=[1, 2, 4, 4], transformer_depth_middle=1,
                 use_linear_in_transformer=False, context_dim=768, num_heads=8,
                 transformer_depth_output=[1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0],
                 use_temporal_attention=False, use_temporal_resblock=False)
SD15_TINY = dict(SD15_FULL, model_channels=32, num_res_blocks=[1, 1], transformer_depth=[1, 1], channel_mult=[1, 2],
                 context_dim=64, num_heads=4, transformer_depth_output=[1, 1, 1, 1])
SDXL_FULL = dict(use_checkpoint=False, image_size=32, out_channels=4, use_spatial_transformer=True, legacy=False,
                 num_classes="sequential", adm_in_channels=2816, in_channels=4, model_channels=320, num_res_blocks=[2, 2, 2],
                 transformer_depth=[0, 0, 2, 2, 10, 10], channel_mult=[1, 2, 4], transformer_depth_middle=10,
                 use_linear_in_transformer=True, context_dim=2048, num_head_channels=64,
                 transformer_depth_output=[0, 0, 0, 2, 2, 2, 10, 10, 10], use_temporal_attention=False, use_temporal_resblock=False)
SDXL_TINY = dict(SDXL_FULL, model_channels=32, num_res_blocks=[1, 1], transformer_depth=[0, 1], channel_mult=[1, 2],
                 transformer_depth_middle=1, context_dim=64, num_head_channels=16, transformer_depth_output=[0, 0, 1, 1])
FLUX_TINY = dict(image_model="flux", in_channels=16, out_channels=16, patch_size=2, vec_in_dim=16, context_in_dim=32,
                 hidden_size=64, mlp_ratio=2.0, num_heads=2, depth=1, depth_single_blocks=1, axes_dim=[8, 12, 12],
                 theta=10000, qkv_bias=True, guidance_embed=True)


def _randomise(module, seed):
    g = torch.Generator().manual_seed(seed)
    for p in module.parameters():
        p.copy_(torch.randn(p.shape, generator=g) * 0.02)


def _patcher(base):
    return comfy.model_patcher.ModelPatcher(base, load_device=comfy.model_management.get_torch_device(),
                                            offload_device=torch.device("cpu"))


def unet_model(full=False, dtype=torch.float32, seed=0):
    """An SD1.5 UNetModel (SD15 config class, discrete EPS schedule); tiny unless full."""
    with torch.inference_mode():
        config = comfy.supported_models.SD15(dict(SD15_FULL if full else SD15_TINY, dtype=dtype))
        base = comfy.model_base.BaseModel(config, comfy.model_base.ModelType.EPS)
        base.diffusion_model.to(dtype)
        _randomise(base.diffusion_model, seed)
        return _patcher(base), (768 if full else 64)


def sdxl_model(full=False, dtype=torch.float32, seed=0):
    """An SDXL UNetModel (SDXL config class and model, with its size/crop conditioning); tiny unless full."""
    with torch.inference_mode():
        config = comfy.supported_models.SDXL(dict(SDXL_FULL if full else SDXL_TINY, dtype=dtype))
        base = comfy.model_base.SDXL(config)
        base.diffusion_model.to(dtype)
        _randomise(base.diffusion_model, seed)
        return _patcher(base), (2048 if full else 64)


def sdxl_conditioning(context_dim, tokens=77, size=1024, seed=1):
    with torch.inference_mode():
        g = torch.Generator().manual_seed(seed)
        return [[torch.randn(1, tokens, context_dim, generator=g),
                 {"pooled_output": torch.randn(1, 1280, generator=g), "width": size, "height": size}]]


def unet_conditioning(context_dim, tokens=8, seed=1):
    with torch.inference_mode():
        g = torch.Generator().manual_seed(seed)
        return [[torch.randn(1, tokens, context_dim, generator=g), {}]]


def flux_model(seed=0):
    """A tiny comfy.ldm.flux Flux transformer (Flux config class, flow sampling with FLUX's shift)."""
    with torch.inference_mode():
        config = comfy.supported_models.Flux(dict(FLUX_TINY))
        base = comfy.model_base.Flux(config)
        _randomise(base.diffusion_model, seed)
        return _patcher(base)


def flux_conditioning(seed=1):
    with torch.inference_mode():
        g = torch.Generator().manual_seed(seed)
        return [[torch.randn(1, 4, 32, generator=g), {"pooled_output": torch.randn(1, 16, generator=g), "guidance": 3.5}]]


# --- models whose family ComfyUI detects from a state dict, as for a real checkpoint -------------------
SD15_DETECTABLE = dict(SD15_FULL, num_res_blocks=[1], transformer_depth=[1], channel_mult=[1],
                       transformer_depth_output=[1, 1])  # SD15's 320 channels and 768-d context: 26M parameters


def sd15_state_dict(seed=0):
    """A diffusion-model state dict ComfyUI's detection reads as SD15 (one UNet level, random weights)."""
    import comfy.ldm.modules.diffusionmodules.openaimodel as openaimodel
    import comfy.ops
    with torch.device("meta"):
        shapes = openaimodel.UNetModel(**SD15_DETECTABLE, operations=comfy.ops.disable_weight_init).state_dict()
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(v.shape, generator=g) * 0.02 for k, v in shapes.items()}


def detected_sd15(seed=0):
    """SD15 loaded the way UNETLoader loads a diffusion-model file: ComfyUI detects the family."""
    import comfy.sd
    with torch.inference_mode():
        return comfy.sd.load_diffusion_model_state_dict(sd15_state_dict(seed))


def detected_flux(schnell=False, seed=0, sizes=None):
    """Flux (or FluxSchnell, without the guidance embedder) as ComfyUI detects it from a real-size state
    dict (on the meta device: no memory), instantiated small: the detected config with FLUX_TINY's sizes
    (or `sizes`)."""
    import comfy.ldm.flux.model
    import comfy.model_detection
    import comfy.ops
    real = dict(FLUX_TINY, hidden_size=3072, num_heads=24, mlp_ratio=4.0, axes_dim=[16, 56, 56], context_in_dim=4096,
                vec_in_dim=768, guidance_embed=not schnell)
    with torch.device("meta"):
        shapes = comfy.ldm.flux.model.Flux(**{k: v for k, v in real.items() if k != "image_model"},
                                           operations=comfy.ops.disable_weight_init).state_dict()
    config = comfy.model_detection.model_config_from_unet(shapes, "")
    config.unet_config.update({k: v for k, v in dict(FLUX_TINY, **(sizes or {})).items() if k != "guidance_embed"})
    config.set_inference_dtype(torch.float32, None)
    with torch.inference_mode():
        base = config.get_model({})
        _randomise(base.diffusion_model, seed)
        return _patcher(base)


def inside_calibration(model, cond, sigmas, latent_shape, body, cfg=1.0):
    """body(model_wrap, sigmas, extra_args, noise) run where DyWeight Calibrate works: in a comfy Sampler driven
    by a CFGGuider over the calibration patcher, gradients on, weights made differentiable."""
    import comfy.samplers
    from comfyui_dyweight.nodes import differentiable as cal

    class Body(comfy.samplers.Sampler):
        def sample(self, model_wrap, sigmas, extra_args, callback, noise, latent_image=None, denoise_mask=None, disable_pbar=False):
            cal.make_weights_differentiable(model_wrap.inner_model)
            body(model_wrap, sigmas, extra_args, noise)
            return latent_image

    with torch.inference_mode(False), torch.enable_grad():
        guider = comfy.samplers.CFGGuider(cal.calibration_patcher(model)[0])
        guider.set_conds(cal.clone_conditioning(cond), cal.clone_conditioning(cond))
        guider.set_cfg(cfg)
        z = torch.zeros(latent_shape)
        guider.sample(z, z, Body(), sigmas, seed=0)


def gradients_through(model, cond, latent_shape, scheduler, cfg, steps=3):
    """Unroll the Adams-Bashforth table through the model where DyWeight Calibrate works (its sampler, its patcher, a
    CFGGuider); return {W, s: the gradients of a loss in the table's weights and time scales, mode: timestep mode}."""
    import comfy.samplers
    from comfyui_dyweight.dyweight_core import solver, table as tables
    from comfyui_dyweight.nodes import calibrate as cal
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), scheduler, steps)
    grads = {}
    with torch.inference_mode(False), torch.enable_grad():
        patcher, mode = cal.calibration_patcher(model)
        guider = comfy.samplers.CFGGuider(patcher)
        guider.set_conds(cal.clone_conditioning(cond), cal.clone_conditioning(cond))
        guider.set_cfg(cfg)

        def run(denoise, device, max_denoise):
            t = tables.adams_bashforth_table(sigmas.tolist(), window=2)
            W = torch.tensor(t.weights, dtype=torch.float64, requires_grad=True)
            s = torch.tensor(t.t_scale, dtype=torch.float64, requires_grad=True)
            x = torch.randn((2,) + tuple(latent_shape[1:]), generator=torch.Generator().manual_seed(0)) * float(sigmas[0])
            out = solver.unroll(denoise, x.to(device), sigmas.tolist(), t.replace(weights=W, t_scale=s))
            out.square().mean().backward()
            grads.update(W=W.grad, s=s.grad, mode=mode)
        work = cal.CalibrationSampler(run)
        z = torch.zeros(latent_shape)
        guider.sample(z, z, work, sigmas, seed=0)
    return grads
