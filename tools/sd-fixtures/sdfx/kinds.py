"""What differs between the pipeline kinds: component configs, scheduler, tokenizer padding,
model_index.json. Values are those of the real checkpoints (see ../README.md) with the sizes
shrunk; the JSON files carry every key diffusers' save_config writes (diffusers 0.31.0 signatures)
so a loader meets the same keys it meets in a real `optimum-cli export onnx` folder.
"""
DIFFUSERS_VERSION = "0.31.0"
TRANSFORMERS_VERSION = "4.46.3"

EOS = "<|endoftext|>"

# ------------------------------------------------------------------ schedulers (as re-saved by diffusers)

_SCALED_LINEAR = {"beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085,
                  "num_train_timesteps": 1000, "trained_betas": None}

PNDM_SD15 = dict(_SCALED_LINEAR, _class_name="PNDMScheduler", prediction_type="epsilon", set_alpha_to_one=False,
                 skip_prk_steps=True, steps_offset=1, timestep_spacing="leading")

# stabilityai/stable-diffusion-2-1 ships {clip_sample false, prediction_type v_prediction,
# set_alpha_to_one false, skip_prk_steps true, steps_offset 1} and no timestep_spacing; diffusers
# fills the DDIM default "leading" and drops skip_prk_steps (not a DDIMScheduler argument) on save.
DDIM_SD21 = dict(_SCALED_LINEAR, _class_name="DDIMScheduler", clip_sample=False, clip_sample_range=1.0,
                 dynamic_thresholding_ratio=0.995, prediction_type="v_prediction", rescale_betas_zero_snr=False,
                 sample_max_value=1.0, set_alpha_to_one=False, steps_offset=1, thresholding=False,
                 timestep_spacing="leading")

# stabilityai/stable-diffusion-xl-base-1.0: EulerDiscreteScheduler with timestep_spacing "leading"
# (not Euler's default "linspace"), steps_offset 1, interpolation linear, no Karras sigmas.
EULER_SDXL = dict(_SCALED_LINEAR, _class_name="EulerDiscreteScheduler", final_sigmas_type="zero",
                  interpolation_type="linear", prediction_type="epsilon", rescale_betas_zero_snr=False,
                  sigma_max=None, sigma_min=None, steps_offset=1, timestep_spacing="leading",
                  timestep_type="discrete", use_beta_sigmas=False, use_exponential_sigmas=False,
                  use_karras_sigmas=False)

# ------------------------------------------------------------------ component configs

_UNET_DEFAULTS = {
    "act_fn": "silu", "addition_embed_type": None, "addition_embed_type_num_heads": 64,
    "addition_time_embed_dim": None, "attention_type": "default", "center_input_sample": False,
    "class_embed_type": None, "class_embeddings_concat": False, "conv_in_kernel": 3, "conv_out_kernel": 3,
    "cross_attention_norm": None, "downsample_padding": 1, "dropout": 0.0, "dual_cross_attention": False,
    "encoder_hid_dim": None, "encoder_hid_dim_type": None, "flip_sin_to_cos": True, "freq_shift": 0,
    "in_channels": 4, "mid_block_only_cross_attention": None, "mid_block_scale_factor": 1,
    "mid_block_type": "UNetMidBlock2DCrossAttn", "norm_eps": 1e-05, "num_attention_heads": None,
    "num_class_embeds": None, "only_cross_attention": False, "out_channels": 4,
    "projection_class_embeddings_input_dim": None, "resnet_out_scale_factor": 1.0,
    "resnet_skip_time_act": False, "resnet_time_scale_shift": "default",
    "reverse_transformer_layers_per_block": None, "time_cond_proj_dim": None, "time_embedding_act_fn": None,
    "time_embedding_dim": None, "time_embedding_type": "positional", "timestep_post_act": None,
    "transformer_layers_per_block": 1, "upcast_attention": False, "use_linear_projection": False,
}

_VAE_DEFAULTS = {
    "act_fn": "silu", "force_upcast": True, "in_channels": 3, "latent_channels": 4, "latents_mean": None,
    "latents_std": None, "mid_block_add_attention": True, "out_channels": 3, "shift_factor": None,
    "use_post_quant_conv": True, "use_quant_conv": True,
}

_CLIP_DEFAULTS = {
    "attention_dropout": 0.0, "bos_token_id": 0, "dropout": 0.0, "eos_token_id": 2, "initializer_factor": 1.0,
    "initializer_range": 0.02, "layer_norm_eps": 1e-05, "max_position_embeddings": 77,
    "model_type": "clip_text_model", "pad_token_id": 1, "torch_dtype": "float32",
    "transformers_version": TRANSFORMERS_VERSION,
}


def unet_config(**values):
    return dict(_UNET_DEFAULTS, _class_name="UNet2DConditionModel", _diffusers_version=DIFFUSERS_VERSION, **values)


def vae_config(**values):
    return dict(_VAE_DEFAULTS, _class_name="AutoencoderKL", _diffusers_version=DIFFUSERS_VERSION, **values)


def clip_config(architecture, **values):
    return dict(_CLIP_DEFAULTS, architectures=[architecture], **values)


def _tiny_vae(scaling_factor):
    return vae_config(block_out_channels=[8, 8, 8, 8], down_block_types=["DownEncoderBlock2D"] * 4,
                      layers_per_block=1, norm_num_groups=8, sample_size=64, scaling_factor=scaling_factor,
                      up_block_types=["UpDecoderBlock2D"] * 4)


def _tiny_clip(architecture, act, **values):
    return clip_config(architecture, hidden_act=act, hidden_size=32, intermediate_size=64, num_attention_heads=2,
                       num_hidden_layers=2, projection_dim=32, vocab_size=None, **values)


def _model_index(pipeline, scheduler, extra):
    return dict({"_class_name": pipeline, "_diffusers_version": DIFFUSERS_VERSION,
                 "scheduler": ["diffusers", scheduler],
                 "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
                 "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}, **extra)


_SD_INDEX_EXTRA = {"feature_extractor": ["transformers", "CLIPImageProcessor"], "image_encoder": [None, None],
                   "requires_safety_checker": True,
                   "safety_checker": ["stable_diffusion", "StableDiffusionSafetyChecker"]}


def _sd15(size):
    unet = unet_config(attention_head_dim=2, block_out_channels=[16, 32], cross_attention_dim=32,
                       down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"], layers_per_block=1,
                       norm_num_groups=8, sample_size=8, up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"])
    if size == "full":
        unet = unet_config(attention_head_dim=8, block_out_channels=[320, 640, 1280, 1280], cross_attention_dim=768,
                           down_block_types=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"], layers_per_block=2,
                           norm_num_groups=32, sample_size=64,
                           up_block_types=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3)
    text = _tiny_clip("CLIPTextModel", "quick_gelu")
    if size == "full":
        text["hidden_size"] = 768  # must match the UNet's cross_attention_dim; the rest stays tiny
    return {
        "pipeline": "StableDiffusionPipeline",
        "model_index": _model_index("StableDiffusionPipeline", "PNDMScheduler", _SD_INDEX_EXTRA),
        "scheduler": PNDM_SD15, "unet": unet, "vae": _tiny_vae(0.18215),
        "text_encoders": [("text_encoder", "tokenizer", text, EOS)],
        "timestep": "int64",
    }


def _sd21v(size):
    if size != "tiny":
        raise ValueError("--size full is only defined for sd15")
    unet = unet_config(attention_head_dim=[1, 2], block_out_channels=[16, 32], cross_attention_dim=32,
                       down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"], layers_per_block=1,
                       norm_num_groups=8, sample_size=8, up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"],
                       upcast_attention=True, use_linear_projection=True)
    return {
        "pipeline": "StableDiffusionPipeline",
        "model_index": _model_index("StableDiffusionPipeline", "DDIMScheduler",
                                    {"feature_extractor": ["transformers", "CLIPImageProcessor"],
                                     "image_encoder": [None, None], "requires_safety_checker": False,
                                     "safety_checker": [None, None]}),
        "scheduler": DDIM_SD21, "unet": unet, "vae": _tiny_vae(0.18215),
        "text_encoders": [("text_encoder", "tokenizer", _tiny_clip("CLIPTextModel", "gelu"), "!")],
        "timestep": "float",
    }


def _sdxl(size):
    if size != "tiny":
        raise ValueError("--size full is only defined for sd15")
    unet = unet_config(addition_embed_type="text_time", addition_time_embed_dim=8, attention_head_dim=[1, 2],
                       block_out_channels=[16, 32], cross_attention_dim=64,
                       down_block_types=["DownBlock2D", "CrossAttnDownBlock2D"], layers_per_block=1,
                       norm_num_groups=8, projection_class_embeddings_input_dim=6 * 8 + 32, sample_size=8,
                       transformer_layers_per_block=[1, 2], up_block_types=["CrossAttnUpBlock2D", "UpBlock2D"],
                       upcast_attention=None, use_linear_projection=True)
    index = _model_index("StableDiffusionXLPipeline", "EulerDiscreteScheduler",
                         {"feature_extractor": [None, None], "force_zeros_for_empty_prompt": True,
                          "image_encoder": [None, None],
                          "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
                          "tokenizer_2": ["transformers", "CLIPTokenizer"]})
    index["add_watermarker"] = None
    return {
        "pipeline": "StableDiffusionXLPipeline",
        "model_index": index,
        "scheduler": EULER_SDXL, "unet": unet, "vae": _tiny_vae(0.13025),
        "text_encoders": [
            ("text_encoder", "tokenizer", _tiny_clip("CLIPTextModel", "quick_gelu", output_hidden_states=True), EOS),
            ("text_encoder_2", "tokenizer_2",
             _tiny_clip("CLIPTextModelWithProjection", "gelu", output_hidden_states=True), "!"),
        ],
        "timestep": "float",
    }


KINDS = {"sd15": _sd15, "sd21v": _sd21v, "sdxl": _sdxl}


def spec(kind, size="tiny"):
    return KINDS[kind](size)
