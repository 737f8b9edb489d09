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
    concat: tuple = ()        # the shape of the image an image-to-video / inpaint / edit model is given (concat_latent_image)
    unclip: int = 0           # width of the CLIP vision image embedding an unCLIP model is given
    key: str = ""             # the matrix's name for it, where two entries share a config class
    kind: str = "image"       # image, edit (image-conditioned image models) or video: the README groups by it

    @property
    def id(self):
        return self.key or self.config

    def model(self, seed=0):
        """The ModelPatcher ComfyUI would hand a sampler for this family."""
        import comfy.model_base
        import comfy.model_management
        import comfy.model_patcher
        import comfy.supported_models
        with torch.inference_mode():
            config = getattr(comfy.supported_models, self.config)(dict(self.unet))
            config.set_inference_dtype(torch.float32, None)
            if self.model_type:  # what the config would read from real weights
                config.model_type = lambda *args, **kwargs: comfy.model_base.ModelType[self.model_type]
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
            if self.concat:  # as the family's image-to-video / inpaint / edit node puts it in the conditioning
                extra["concat_latent_image"] = torch.randn(self.concat, generator=g)
            if self.unclip:  # as unCLIPConditioning gives it
                import comfy.clip_vision
                vision = comfy.clip_vision.Output()
                vision["image_embeds"] = torch.randn(1, self.unclip, generator=g)
                extra["unclip_conditioning"] = [{"clip_vision_output": vision, "strength": 1.0, "noise_augmentation": 0.0}]
            if self.llama_layers:
                extra["conditioning_llama3"] = torch.randn(1, self.llama_layers, tokens, TEXT, generator=g)
            return [[torch.randn(1, tokens, TEXT, generator=g), extra]]


_UNET = dict(use_checkpoint=False, image_size=32, use_spatial_transformer=True, legacy=False, in_channels=4, out_channels=4,
             model_channels=64, num_res_blocks=[1, 1], channel_mult=[1, 2], transformer_depth=[1, 1], transformer_depth_middle=1,
             transformer_depth_output=[1, 1, 1, 1], context_dim=TEXT, use_linear_in_transformer=True, adm_in_channels=None,
             use_temporal_attention=False, use_temporal_resblock=False, num_heads=-1, num_head_channels=32)
_FLUX_LIKE = dict(in_channels=16, out_channels=16, patch_size=2, context_in_dim=TEXT, hidden_size=64, mlp_ratio=2.0, num_heads=2,
                  depth=1, depth_single_blocks=1, axes_dim=[8, 12, 12], theta=10000, qkv_bias=True)
_SDXL = dict(_UNET, num_classes="sequential", adm_in_channels=2816, transformer_depth=[0, 1], transformer_depth_output=[0, 0, 1, 1])
_SDXL_SIZE = {"width": 1024, "height": 1024}
_LUMINA = dict(image_model="lumina2", patch_size=2, in_channels=16, dim=64, cap_feat_dim=TEXT, n_layers=1, n_refiner_layers=1,
               n_heads=2, n_kv_heads=2, qk_norm=True, axes_dims=[8, 12, 12], axes_lens=[300, 512, 512], multiple_of=16)
_HUNYUAN = dict(_FLUX_LIKE, image_model="hunyuan_video", patch_size=[1, 2, 2], vec_in_dim=TEXT, meanflow=False, theta=256,
                guidance_embed=True, byt5=False, use_cond_type_embedding=False, vision_in_dim=None)
_COSMOS2 = dict(image_model="cosmos_predict2", max_img_h=16, max_img_w=16, max_frames=4, in_channels=16, out_channels=16,
                patch_spatial=2, patch_temporal=1, model_channels=64, num_blocks=1, num_heads=2, concat_padding_mask=True,
                crossattn_emb_channels=TEXT, pos_emb_cls="rope3d", pos_emb_learnable=True, pos_emb_interpolation="crop",
                use_adaln_lora=True, adaln_lora_dim=16, rope_h_extrapolation_ratio=4.0, rope_w_extrapolation_ratio=4.0,
                rope_enable_fps_modulation=False)
_COSMOS1 = dict(image_model="cosmos", max_img_h=16, max_img_w=16, max_frames=4, in_channels=16, out_channels=16, patch_spatial=2,
                patch_temporal=1, model_channels=64, block_config="FA-CA-MLP", concat_padding_mask=True, pos_emb_cls="rope3d",
                pos_emb_learnable=False, pos_emb_interpolation="crop", block_x_format="THWBD", affline_emb_norm=True,
                use_adaln_lora=True, adaln_lora_dim=16, num_blocks=1, num_heads=2, extra_per_block_abs_pos_emb=True,
                extra_per_block_abs_pos_emb_type="learnable", crossattn_emb_channels=TEXT)
_HUNYUAN_DIT = dict(image_model="hydit", input_size=8, patch_size=2, in_channels=4, hidden_size=64, depth=2, num_heads=2,
                    text_states_dim=TEXT, text_states_dim_t5=TEXT, text_len=8, text_len_t5=8)
_WAN = dict(image_model="wan2.1", model_type="t2v", dim=64, ffn_dim=128, num_heads=2, num_layers=1, patch_size=(1, 2, 2),
            freq_dim=256, text_dim=TEXT, window_size=(-1, -1), qk_norm=True, cross_attn_norm=True, eps=1e-6)

_NOISE = torch.Generator().manual_seed(5)  # the fixed extra inputs some families take (a second text encoder, a low-res image)

_MT5 = {"conditioning_mt5xl": torch.randn(1, 8, TEXT, generator=_NOISE), "attention_mask_mt5xl": torch.ones(1, 8, dtype=torch.long)}

FAMILIES = [
    # text to image
    Family("Stable Diffusion 1.5 and its fine-tunes", "SD15", dict(_UNET, use_linear_in_transformer=False), (1, 4, 8, 8), "karras"),
    Family("Stable Diffusion 2.x (v-prediction)", "SD20", dict(_UNET), (1, 4, 8, 8), "normal", model_type="V_PREDICTION"),
    Family("SDXL and its fine-tunes (Illustrious, Pony)", "SDXL", dict(_SDXL), (1, 4, 8, 8), "karras", pooled=1280, extra=_SDXL_SIZE),
    Family("SSD-1B", "SSD1B", dict(_SDXL), (1, 4, 8, 8), "karras", pooled=1280, extra=_SDXL_SIZE),
    Family("Segmind Vega", "Segmind_Vega", dict(_SDXL), (1, 4, 8, 8), "karras", pooled=1280, extra=_SDXL_SIZE),
    Family("KOALA 700M", "KOALA_700M", dict(_SDXL), (1, 4, 8, 8), "karras", pooled=1280, extra=_SDXL_SIZE),
    Family("KOALA 1B", "KOALA_1B", dict(_SDXL), (1, 4, 8, 8), "karras", pooled=1280, extra=_SDXL_SIZE),
    Family("SDXL Refiner", "SDXLRefiner", dict(_SDXL, adm_in_channels=2560), (1, 4, 8, 8), "karras", pooled=1280,
           extra=dict(_SDXL_SIZE, aesthetic_score=6.0)),
    Family("Stable Diffusion 3 / 3.5", "SD3",
           dict(in_channels=16, out_channels=16, patch_size=2, depth=2, adm_in_channels=TEXT, input_size=None,
                context_embedder_config={"target": "torch.nn.Linear", "params": {"in_features": TEXT, "out_features": 128}},
                num_patches=256, pos_embed_max_size=16, pos_embed_scaling_factor=None, x_block_self_attn_layers=[]),
           (1, 16, 8, 8), "sgm_uniform", pooled=TEXT),
    Family("FLUX.1-dev, Krea", "Flux", dict(_FLUX_LIKE, image_model="flux", vec_in_dim=TEXT, guidance_embed=True),
           (1, 16, 8, 8), "simple", pooled=TEXT, extra={"guidance": 3.5}),
    Family("FLUX.1-schnell", "FluxSchnell", dict(_FLUX_LIKE, image_model="flux", vec_in_dim=TEXT, guidance_embed=False),
           (1, 16, 8, 8), "simple", pooled=TEXT),
    Family("FLUX.2", "Flux2", dict(_FLUX_LIKE, image_model="flux2", in_channels=128, out_channels=128, patch_size=1, axes_dim=[8, 8, 8, 8],
                                   theta=2000, global_modulation=True, vec_in_dim=None, mlp_silu_act=True, qkv_bias=False,
                                   ops_bias=False, default_ref_method="index", ref_index_scale=10.0, guidance_embed=True),
           (1, 128, 4, 4), "simple", extra={"guidance": 4.0, "pooled_output": None}),  # its Mistral encoder gives no pooled vector
    Family("Chroma", "Chroma", dict(_FLUX_LIKE, image_model="chroma", in_channels=64, out_channels=64, in_dim=64, out_dim=64,
                                    hidden_dim=64, n_layers=1),
           (1, 16, 8, 8), "simple", extra={"pooled_output": None}),  # its T5 encoder gives no pooled vector
    Family("Chroma Radiance (pixel space)", "ChromaRadiance",
           dict(_FLUX_LIKE, image_model="chroma_radiance", in_channels=3, out_channels=3, patch_size=16, in_dim=64, out_dim=64,
                hidden_dim=64, n_layers=1, nerf_hidden_size=16, nerf_mlp_ratio=2, nerf_depth=1, nerf_max_freqs=8, nerf_tile_size=512,
                nerf_final_head_type="conv", nerf_embedder_dtype=torch.float32),
           (1, 3, 64, 64), "simple", extra={"pooled_output": None}),
    Family("Qwen-Image", "QwenImage", dict(image_model="qwen_image", in_channels=64, out_channels=16, num_layers=1,
                                           attention_head_dim=32, num_attention_heads=2, joint_attention_dim=TEXT,
                                           axes_dims_rope=(8, 12, 12)),
           (1, 16, 8, 8), "simple"),
    Family("Z-Image", "ZImage", dict(_LUMINA, dim=256, n_heads=8, n_kv_heads=8, rope_theta=256.0, ffn_dim_multiplier=8.0 / 3.0,
                                     z_image_modulation=True, time_scale=1000.0, pad_tokens_multiple=32),  # its modulation needs 256 wide
           (1, 16, 8, 8), "simple"),
    Family("Lumina 2", "Lumina2", dict(_LUMINA), (1, 16, 8, 8), "simple"),
    Family("HunyuanImage 2.1", "HunyuanImage21", dict(_HUNYUAN, in_channels=64, out_channels=64, patch_size=[1, 1], axes_dim=[16, 16],
                                                      vec_in_dim=None, guidance_embed=False),
           (1, 64, 4, 4), "simple"),
    Family("Hunyuan-DiT 1.2", "HunyuanDiT", dict(_HUNYUAN_DIT), (1, 4, 8, 8), "normal", attention_mask=True, extra=_MT5),
    Family("Hunyuan-DiT 1.0 / 1.1", "HunyuanDiT1", dict(_HUNYUAN_DIT, image_model="hydit1", size_cond=True, use_style_cond=True),
           (1, 4, 8, 8), "normal", attention_mask=True, extra=_MT5),
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
    Family("PixArt Alpha", "PixArtAlpha", dict(image_model="pixart_alpha", input_size=64, patch_size=2, in_channels=4, hidden_size=96,
                                               depth=1, num_heads=2, caption_channels=TEXT, model_max_length=8,
                                               pe_interpolation=1.0, micro_condition=True),  # size embeddings: a third of the width each
           (1, 4, 64, 64), "normal", extra={"width": 512, "height": 512}),
    Family("Cosmos Predict2 (text to image)", "CosmosT2IPredict2", dict(_COSMOS2), (1, 16, 8, 8), "karras"),
    Family("Stable Cascade (stage C)", "Stable_Cascade_C",
           dict(stable_cascade_stage="c", c_in=16, c_out=16, c_cond=64, c_hidden=[64, 64], nhead=[2, 2], blocks=[[1, 1], [1, 1]],
                c_clip_text=TEXT, c_clip_text_pooled=TEXT, c_clip_img=768),
           (1, 16, 8, 8), "simple", pooled=TEXT),
    Family("Stable Cascade (stage B)", "Stable_Cascade_B",
           dict(stable_cascade_stage="b", c_in=4, c_out=4, c_hidden=[32, 64], nhead=[-1, 2], blocks=[[1, 1], [1, 1]],
                block_repeat=[[1, 1], [1, 1]], level_config=["CT", "CTA"], c_clip=TEXT, c_cond=64),
           (1, 4, 16, 16), "simple", pooled=TEXT),
    Family("SD 2.1 unCLIP", "SD21UnclipH", dict(_UNET, adm_in_channels=2048, num_classes="sequential", use_linear_in_transformer=True),
           (1, 4, 8, 8), "normal", model_type="V_PREDICTION", unclip=1024),
    # image-conditioned image models: editing, inpainting, upscaling
    Family("FLUX.1 Kontext (a reference image)", "Flux", dict(_FLUX_LIKE, image_model="flux", vec_in_dim=TEXT, guidance_embed=True),
           (1, 16, 8, 8), "simple", pooled=TEXT, key="Flux_Kontext", kind="edit",
           extra={"guidance": 2.5, "reference_latents": [torch.randn(1, 16, 8, 8, generator=_NOISE)]}),
    Family("FLUX.1 Fill (inpainting)", "FluxInpaint", dict(_FLUX_LIKE, image_model="flux", in_channels=96, vec_in_dim=TEXT, guidance_embed=True),
           (1, 16, 8, 8), "simple", pooled=TEXT, concat=(1, 16, 8, 8), kind="edit",
           extra={"guidance": 30.0, "concat_mask": torch.ones(1, 1, 64, 64)}),
    Family("OmniGen2", "Omnigen2", dict(image_model="omnigen2", axes_dim_rope=[8, 12, 12], axes_lens=[1024, 1664, 1664], ffn_dim_multiplier=None,
                                        hidden_size=64, in_channels=16, multiple_of=16, norm_eps=1e-5, num_attention_heads=2, num_kv_heads=2,
                                        num_layers=1, num_refiner_layers=1, out_channels=None, patch_size=2, text_feat_dim=TEXT,
                                        timestep_scale=1000.0),
           (1, 16, 8, 8), "simple", attention_mask=True, kind="edit",
           extra={"reference_latents": [torch.randn(1, 16, 8, 8, generator=_NOISE)]}),
    Family("InstructPix2Pix (SD 1.5)", "SD15_instructpix2pix", dict(_UNET, use_linear_in_transformer=False, in_channels=8),
           (1, 4, 8, 8), "karras", concat=(1, 4, 8, 8), kind="edit"),
    Family("InstructPix2Pix (SDXL), CosXL Edit", "SDXL_instructpix2pix", dict(_SDXL, in_channels=8), (1, 4, 8, 8), "karras",
           pooled=1280, extra=_SDXL_SIZE, concat=(1, 4, 8, 8), kind="edit"),
    Family("SD x4 upscaler", "SD_X4Upscaler",
           dict(_UNET, in_channels=7, use_linear_in_transformer=True, model_channels=32, channel_mult=[1, 1, 2, 2],
                num_res_blocks=[1, 1, 1, 1], transformer_depth=[0, 0, 1, 1], transformer_depth_output=[0, 0, 0, 0, 1, 1, 1, 1]),
           (1, 4, 8, 8), "normal", kind="edit",
           extra={"concat_image": torch.randn(1, 3, 8, 8, generator=_NOISE), "noise_augmentation": 0.1}),
    # video
    Family("Wan 2.1 (text to video), Wan 2.2 A14B (text to video)", "WAN21_T2V", dict(_WAN, in_dim=16, out_dim=16), (1, 16, 2, 8, 8),
           "simple", kind="video"),
    Family("Wan 2.2 A14B (image to video)", "WAN21_T2V", dict(_WAN, in_dim=36, out_dim=16), (1, 16, 2, 8, 8), "simple",
           concat=(1, 16, 2, 8, 8), key="WAN22_A14B_I2V", kind="video"),  # ComfyUI's class for it is WAN21_T2V's, with 36 inputs
    Family("Wan 2.1 (image to video)", "WAN21_I2V", dict(_WAN, model_type="i2v", in_dim=36, out_dim=16), (1, 16, 2, 8, 8), "simple",
           concat=(1, 16, 2, 8, 8), kind="video"),
    Family("Wan 2.2 (5B, text and image to video)", "WAN22_T2V", dict(_WAN, in_dim=48, out_dim=48), (1, 48, 2, 8, 8), "simple",
           kind="video"),
    Family("Wan VACE", "WAN21_Vace", dict(_WAN, model_type="vace", in_dim=16, out_dim=16, vace_in_dim=96, vace_layers=1),
           (1, 16, 2, 8, 8), "simple", kind="video"),
    Family("Wan 2.1 Fun Control", "WAN21_FunControl2V", dict(_WAN, model_type="i2v", in_dim=48, out_dim=16), (1, 16, 2, 8, 8), "simple",
           concat=(1, 32, 2, 8, 8), kind="video"),
    Family("Wan 2.1 Fun Camera", "WAN21_Camera", dict(_WAN, model_type="camera", in_dim=32, out_dim=16, in_dim_control_adapter=24),
           (1, 16, 2, 8, 8), "simple", concat=(1, 16, 2, 8, 8), kind="video"),
    Family("Wan 2.2 Fun Camera", "WAN22_Camera", dict(_WAN, model_type="camera_2.2", in_dim=36, out_dim=16, in_dim_control_adapter=24),
           (1, 16, 2, 8, 8), "simple", concat=(1, 16, 2, 8, 8), kind="video"),
    Family("HunyuanVideo", "HunyuanVideo", dict(_HUNYUAN), (1, 16, 2, 8, 8), "simple", pooled=TEXT, extra={"guidance": 6.0}, kind="video"),
    Family("HunyuanVideo (image to video)", "HunyuanVideoI2V", dict(_HUNYUAN, in_channels=33), (1, 16, 2, 8, 8), "simple", pooled=TEXT,
           extra={"guidance": 6.0}, concat=(1, 16, 2, 8, 8), kind="video"),
    Family("SkyReels V1 (image to video)", "HunyuanVideoSkyreelsI2V", dict(_HUNYUAN, in_channels=32), (1, 16, 2, 8, 8), "simple",
           pooled=TEXT, extra={"guidance": 1.0}, concat=(1, 16, 2, 8, 8), kind="video"),
    Family("HunyuanVideo 1.5", "HunyuanVideo15", dict(_HUNYUAN, in_channels=65, out_channels=32, vec_in_dim=None, guidance_embed=False,
                                                      use_cond_type_embedding=True),
           (1, 32, 2, 4, 4), "simple", concat=(1, 32, 2, 4, 4), extra={"pooled_output": None}, kind="video"),
    Family("LTXV", "LTXV", dict(image_model="ltxv", in_channels=128, cross_attention_dim=64, attention_head_dim=32,
                                num_attention_heads=2, caption_channels=TEXT, num_layers=1),
           (1, 128, 2, 4, 4), "simple", attention_mask=True, kind="video"),
    Family("Mochi", "GenmoMochi", dict(image_model="mochi_preview", depth=1, patch_size=2, num_heads=2, hidden_size_x=64, hidden_size_y=32,
                                       mlp_ratio_x=192.0, mlp_ratio_y=2.0, learn_sigma=False, in_channels=12, qk_norm=True,
                                       qkv_bias=False, out_bias=True, attn_drop=0.0, patch_embed_bias=True, posenc_preserve_area=True,
                                       timestep_mlp_bias=True, attend_to_padding=False, timestep_scale=1000.0, use_t5=True,
                                       t5_feat_dim=TEXT, t5_token_length=8, rope_theta=10000.0),  # its MLP must be 12288 wide
           (1, 12, 2, 8, 8), "simple", attention_mask=True, kind="video"),
    Family("Cosmos 1 (text to video)", "CosmosT2V", dict(_COSMOS1), (1, 16, 2, 8, 8), "karras", attention_mask=True, kind="video"),
    Family("Cosmos 1 (image to video)", "CosmosI2V", dict(_COSMOS1, in_channels=17), (1, 16, 2, 8, 8), "karras", attention_mask=True,
           kind="video"),
    Family("Cosmos Predict2 (image to video)", "CosmosI2VPredict2", dict(_COSMOS2, in_channels=17), (1, 16, 2, 8, 8), "karras",
           kind="video"),
    Family("Stable Video Diffusion", "SVD_img2vid",
           dict(_UNET, in_channels=8, adm_in_channels=768, num_classes="sequential", use_temporal_attention=True,
                use_temporal_resblock=True, extra_ff_mix_layer=True, use_spatial_context=True, merge_strategy="learned_with_images",
                video_kernel_size=[3, 1, 1]),
           (2, 4, 8, 8), "karras", concat=(1, 4, 8, 8), kind="video",  # its frames are the latent's batch
           extra={"width": 64, "height": 64, "video_frames": 2, "motion_bucket_id": 127, "fps": 6, "augmentation_level": 0.0}),
]

# The other classes in comfy.supported_models (0.3.75), and why they are not in the matrix. A test checks that the
# two lists together name every class the tested ComfyUI has, so a new family cannot go unnoticed.
NOT_IN_MATRIX = {
    "LotusD": "depth and normal estimation, not image generation",
    "Stable_Zero123": "3D: new views of one object", "SV3D_u": "3D: an orbit video of one object", "SV3D_p": "3D: an orbit video of one object",
    "Hunyuan3Dv2mini": "3D shapes", "Hunyuan3Dv2": "3D shapes", "Hunyuan3Dv2_1": "3D shapes",
    "StableAudio": "audio", "ACEStep": "audio",
    "SD21UnclipL": "the same model class as SD 2.1 unCLIP (SD21UnclipH), with a smaller image embedding",
    "WAN22_S2V": "Wan 2.2 driven by speech: needs audio embeddings to run at all",
    "WAN21_HuMo": "Wan driven by audio and a reference: needs audio embeddings to run at all",
    "WAN22_Animate": "Wan driven by a pose video and a face: needs both to run at all",
    "HunyuanImage21Refiner": "a refiner stage whose latents ComfyUI repacks around a first image; not built here",
    "HunyuanVideo15_SR_Distilled": "a super-resolution stage; not built here",
}
