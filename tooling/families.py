"""The model families the pack is proven on: each a tiny instance of ComfyUI's own config class
(comfy/supported_models.py) and model class (comfy/model_base.py), random weights, built under inference mode as
ComfyUI's loaders do, with the family's stock model sampling and conditioning of the right shapes. The sizes are
the detected configs' (comfy/model_detection.py) with widths and depths cut down. The list itself needs no ComfyUI
(tooling.supported_models reads it for the README); building a model does, after tooling.pack.load_pack().
"""
from dataclasses import dataclass, field

import torch

TEXT = 32  # every tiny text encoder's width


@dataclass(frozen=True)
class Family:
    name: str                 # as users know it
    config: str               # the class in comfy.supported_models
    unet: dict                # its unet_config, tiny
    latent: tuple             # one empty latent's shape
    scheduler: str            # the scheduler its users pick
    pooled: int = 0           # width of the pooled text vector, where the family takes one
    extra: dict = field(default_factory=dict)  # other conditioning keys (guidance, sizes)
    model_type: str = ""      # forced, where ComfyUI reads it from the weights (SD2's v-prediction)
    attention_mask: bool = False  # the family's text encoder sends a token mask (LTXV)
    llama_layers: int = 0     # HiDream's second text encoder: its hidden states at this many layers

    def model(self, seed=0):
        """The ModelPatcher ComfyUI would hand a sampler for this family."""
        import comfy.model_base
        import comfy.model_management
        import comfy.model_patcher
        import comfy.supported_models
        with torch.inference_mode():
            config = getattr(comfy.supported_models, self.config)(dict(self.unet))
            config.set_inference_dtype(torch.float32, None)
            if self.model_type:
                base = comfy.model_base.BaseModel(config, comfy.model_base.ModelType[self.model_type])
            else:
                base = config.get_model({})
            g = torch.Generator().manual_seed(seed)
            for p in base.diffusion_model.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.02)
            return comfy.model_patcher.ModelPatcher(base, load_device=comfy.model_management.get_torch_device(),
                                                    offload_device=torch.device("cpu"))

    def conditioning(self, seed=1, tokens=8):
        with torch.inference_mode():
            g = torch.Generator().manual_seed(seed)
            extra = dict(self.extra)
            if self.pooled:
                extra["pooled_output"] = torch.randn(1, self.pooled, generator=g)
            if self.attention_mask:
                extra["attention_mask"] = torch.ones(1, tokens, dtype=torch.long)
            if self.llama_layers:
                extra["conditioning_llama3"] = torch.randn(1, self.llama_layers, tokens, TEXT, generator=g)
            return [[torch.randn(1, tokens, TEXT, generator=g), extra]]


_UNET = dict(use_checkpoint=False, image_size=32, use_spatial_transformer=True, legacy=False, in_channels=4, out_channels=4,
             model_channels=64, num_res_blocks=[1, 1], channel_mult=[1, 2], transformer_depth=[1, 1], transformer_depth_middle=1,
             transformer_depth_output=[1, 1, 1, 1], context_dim=TEXT, use_linear_in_transformer=True, adm_in_channels=None,
             use_temporal_attention=False, use_temporal_resblock=False, num_heads=-1, num_head_channels=32)
_FLUX_LIKE = dict(in_channels=16, out_channels=16, patch_size=2, context_in_dim=TEXT, hidden_size=64, mlp_ratio=2.0, num_heads=2,
                  depth=1, depth_single_blocks=1, axes_dim=[8, 12, 12], theta=10000, qkv_bias=True)
_WAN = dict(image_model="wan2.1", model_type="t2v", dim=64, ffn_dim=128, num_heads=2, num_layers=1, patch_size=(1, 2, 2),
            freq_dim=256, text_dim=TEXT, window_size=(-1, -1), qk_norm=True, cross_attn_norm=True, eps=1e-6)

FAMILIES = [
    Family("Stable Diffusion 1.5 and its fine-tunes", "SD15", dict(_UNET, use_linear_in_transformer=False), (1, 4, 8, 8), "karras"),
    Family("Stable Diffusion 2.x (v-prediction)", "SD20", dict(_UNET), (1, 4, 8, 8), "normal", model_type="V_PREDICTION"),
    Family("SDXL and its fine-tunes (Illustrious, Pony)", "SDXL",
           dict(_UNET, num_classes="sequential", adm_in_channels=2816, transformer_depth=[0, 1], transformer_depth_output=[0, 0, 1, 1]),
           (1, 4, 8, 8), "karras", pooled=1280, extra={"width": 1024, "height": 1024}),
    Family("Stable Diffusion 3 / 3.5", "SD3",
           dict(in_channels=16, out_channels=16, patch_size=2, depth=2, adm_in_channels=TEXT, input_size=None,
                context_embedder_config={"target": "torch.nn.Linear", "params": {"in_features": TEXT, "out_features": 128}},
                num_patches=256, pos_embed_max_size=16, pos_embed_scaling_factor=None, x_block_self_attn_layers=[]),
           (1, 16, 8, 8), "sgm_uniform", pooled=TEXT),
    Family("FLUX.1-dev, Krea", "Flux", dict(_FLUX_LIKE, image_model="flux", vec_in_dim=TEXT, guidance_embed=True),
           (1, 16, 8, 8), "simple", pooled=TEXT, extra={"guidance": 3.5}),
    Family("FLUX.1-schnell", "FluxSchnell", dict(_FLUX_LIKE, image_model="flux", vec_in_dim=TEXT, guidance_embed=False),
           (1, 16, 8, 8), "simple", pooled=TEXT),
    Family("Chroma", "Chroma", dict(_FLUX_LIKE, image_model="chroma", in_channels=64, out_channels=64, in_dim=64, out_dim=64,
                                    hidden_dim=64, n_layers=1),
           (1, 16, 8, 8), "simple", extra={"pooled_output": None}),  # its T5 encoder gives no pooled vector
    Family("Qwen-Image", "QwenImage", dict(image_model="qwen_image", in_channels=64, out_channels=16, num_layers=1,
                                           attention_head_dim=32, num_attention_heads=2, joint_attention_dim=TEXT,
                                           axes_dims_rope=(8, 12, 12)),
           (1, 16, 8, 8), "simple"),
    Family("Lumina 2", "Lumina2", dict(image_model="lumina2", patch_size=2, in_channels=16, dim=64, cap_feat_dim=TEXT, n_layers=1,
                                       n_refiner_layers=1, n_heads=2, n_kv_heads=2, qk_norm=True, axes_dims=[8, 12, 12],
                                       axes_lens=[300, 512, 512], multiple_of=16),
           (1, 16, 8, 8), "simple"),
    Family("AuraFlow", "AuraFlow", dict(in_channels=4, out_channels=4, patch_size=2, dim=64, n_layers=2, n_double_layers=1,
                                        n_heads=2, global_conddim=64, cond_seq_dim=TEXT, max_seq=64),
           (1, 4, 8, 8), "simple"),
    Family("HiDream", "HiDream", dict(image_model="hidream", patch_size=2, in_channels=16, out_channels=16, num_layers=1,
                                      num_single_layers=1, attention_head_dim=32, num_attention_heads=2,
                                      caption_channels=[TEXT, TEXT], text_emb_dim=TEXT, num_routed_experts=2,
                                      num_activated_experts=1, axes_dims_rope=[8, 12, 12], max_resolution=[16, 16],
                                      llama_layers=[0, 1]),
           (1, 16, 8, 8), "simple", pooled=TEXT, llama_layers=2),
    Family("PixArt Sigma", "PixArtSigma", dict(image_model="pixart_sigma", input_size=64, patch_size=2, in_channels=4, hidden_size=64,
                                               depth=1, num_heads=2, caption_channels=TEXT, model_max_length=8,
                                               pe_interpolation=1.0, micro_condition=False),
           (1, 4, 64, 64), "normal"),  # its position embedding wants 512 px or more
    Family("Cosmos Predict2 (text to image)", "CosmosT2IPredict2",
           dict(image_model="cosmos_predict2", max_img_h=16, max_img_w=16, max_frames=4, in_channels=16, out_channels=16,
                patch_spatial=2, patch_temporal=1, model_channels=64, num_blocks=1, num_heads=2, concat_padding_mask=True,
                crossattn_emb_channels=TEXT, pos_emb_cls="rope3d", pos_emb_learnable=True, pos_emb_interpolation="crop",
                use_adaln_lora=True, adaln_lora_dim=16, rope_h_extrapolation_ratio=4.0, rope_w_extrapolation_ratio=4.0,
                rope_enable_fps_modulation=False),
           (1, 16, 8, 8), "karras"),
    Family("Wan 2.1 (text to video)", "WAN21_T2V", dict(_WAN, in_dim=16, out_dim=16), (1, 16, 2, 8, 8), "simple"),
    Family("Wan 2.2 (5B, text to video)", "WAN22_T2V", dict(_WAN, in_dim=48, out_dim=48), (1, 48, 2, 8, 8), "simple"),
    Family("LTXV", "LTXV", dict(image_model="ltxv", in_channels=128, cross_attention_dim=64, attention_head_dim=32,
                                num_attention_heads=2, caption_channels=TEXT, num_layers=1),
           (1, 128, 2, 4, 4), "simple", attention_mask=True),
    Family("HunyuanVideo", "HunyuanVideo", dict(_FLUX_LIKE, image_model="hunyuan_video", patch_size=[1, 2, 2], vec_in_dim=TEXT,
                                                meanflow=False, theta=256, guidance_embed=True, byt5=False,
                                                use_cond_type_embedding=False, vision_in_dim=None),
           (1, 16, 2, 8, 8), "simple", pooled=TEXT, extra={"guidance": 6.0}),
]
