"""Builds the torch modules of a pipeline (seeded) and writes the optimum ONNX layout."""
import gc
import json
import time

import torch

from . import bpe, clip, kinds, onnx_io
from .nn import init_weights, round_weights_to_fp16
from .unet import UNet2DConditionModel
from .vae import AutoencoderKL

SEEDS = {"text_encoder": 101, "text_encoder_2": 102, "unet": 201, "vae": 301}
BATCH, SEQ, LATENT_CHANNELS = 2, 16, 4  # optimum DEFAULT_DUMMY_SHAPES: batch_size 2, sequence_length 16


def write_json(path, obj):
    """diffusers' save_config / transformers' save_pretrained format: indent 2, sorted keys, newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


class Pipeline:
    """The torch modules, configs and tokenizer of one fixture."""

    def __init__(self, kind, size="tiny", half=False, timestep_dtype=None):
        self.kind, self.size, self.half = kind, size, half
        self.spec = kinds.spec(kind, size)
        self.timestep_dtype = timestep_dtype or self.spec["timestep"]
        self.merges = bpe.learn_merges()
        self.vocab = bpe.build_vocab(self.merges)
        self.text_encoders = []
        for folder, tok_folder, cfg, pad in self.spec["text_encoders"]:
            cfg = dict(cfg, vocab_size=len(self.vocab))
            with_projection = cfg["architectures"][0] == "CLIPTextModelWithProjection"
            model = (clip.CLIPTextModelWithProjection if with_projection else clip.CLIPTextModel)(cfg)
            self._init(model, SEEDS[folder])
            tokenizer = bpe.ClipTokenizer(self.vocab, self.merges, pad)
            self.text_encoders.append((folder, tok_folder, cfg, pad, with_projection, model, tokenizer))
        started = time.monotonic()
        self.unet = UNet2DConditionModel(self.spec["unet"])
        self._init(self.unet, SEEDS["unet"])
        self.build_seconds = time.monotonic() - started
        self.vae = AutoencoderKL(self.spec["vae"])
        self._init(self.vae, SEEDS["vae"])

    def _init(self, model, seed):
        model.eval()
        init_weights(model, seed)
        if self.half:
            round_weights_to_fp16(model)

    # ------------------------------------------------------------------ dummy inputs (trace only)

    def dummy_timestep(self):
        if self.timestep_dtype == "int64":
            return torch.tensor([981, 981], dtype=torch.int64)  # optimum <= 1.23: int64 of shape [steps]
        return torch.tensor(981.0)  # optimum >= 1.24: a scalar of the model's float dtype

    def unet_args(self, height=64, width=64):
        gen = torch.Generator().manual_seed(0)
        cfg = self.spec["unet"]
        args = [torch.randn(BATCH, cfg["in_channels"], height, width, generator=gen), self.dummy_timestep(),
                torch.randn(BATCH, SEQ, cfg["cross_attention_dim"], generator=gen)]
        names = ["sample", "timestep", "encoder_hidden_states"]
        axes = {"sample": {0: "batch_size", 2: "height", 3: "width"},
                "timestep": {0: "steps"} if self.timestep_dtype == "int64" else {},
                "encoder_hidden_states": {0: "batch_size", 1: "sequence_length"}}
        if cfg.get("addition_embed_type") == "text_time":
            proj = cfg["projection_class_embeddings_input_dim"] - 6 * cfg["addition_time_embed_dim"]
            args += [torch.randn(BATCH, proj, generator=gen), torch.rand(BATCH, 6, generator=gen) * 64]
            names += ["text_embeds", "time_ids"]
            axes.update({"text_embeds": {0: "batch_size"}, "time_ids": {0: "batch_size"}})
        axes["out_sample"] = {0: "batch_size", 2: "height", 3: "width"}
        return tuple(args), names, ["out_sample"], axes

    # ------------------------------------------------------------------ export

    def export_unet(self, out, height=64, width=64):
        args, names, outputs, axes = self.unet_args(height, width)
        proto = onnx_io.export(self.unet, args, names, outputs, axes, half=self.half)
        onnx_io.save(proto, out / "unet" / "model.onnx", external=True)
        write_json(out / "unet" / "config.json", self.spec["unet"])
        return proto

    def export_unet_large(self, out):
        """A UNet over 2 GB: torch must write to a path (one file per tensor); then the streamed
        re-save into model.onnx_data. The torch module is dropped before the re-save."""
        args, names, outputs, axes = self.unet_args()
        path = out / "unet" / "model.onnx"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.unet.eval()
        with torch.no_grad():
            torch.onnx.export(self.unet, args, str(path), input_names=names, output_names=outputs,
                              dynamic_axes=axes, do_constant_folding=True, opset_version=onnx_io.OPSET)
        self.unet = None
        del args
        gc.collect()
        onnx_io.consolidate_external_data(path)
        write_json(out / "unet" / "config.json", self.spec["unet"])
        return onnx_io.check_large(path)

    def export_text_encoders(self, out):
        for folder, tok_folder, cfg, pad, with_projection, model, _ in self.text_encoders:
            model.text_model.half = self.half
            ids = torch.randint(0, len(self.vocab), (BATCH, SEQ), generator=torch.Generator().manual_seed(0))
            outputs = clip.output_names(cfg, with_projection)
            axes = {"input_ids": {0: "batch_size", 1: "sequence_length"}}
            for name in outputs:
                # optimum names both axes of every output this way, text_embeds and pooler_output included
                axes[name] = {0: "batch_size"} if name == "pooler_output" else {0: "batch_size", 1: "sequence_length"}
            proto = onnx_io.export(model, (ids,), ["input_ids"], outputs, axes, half=self.half)
            model.text_model.half = False
            onnx_io.save(proto, out / folder / "model.onnx", external=False)
            config = dict(cfg)
            if self.half:
                config["torch_dtype"] = "float16"
            write_json(out / folder / "config.json", config)
            bpe.write_tokenizer(out / tok_folder, self.vocab, self.merges, pad)

    def export_vae(self, out):
        cfg = self.spec["vae"]
        factor = 2 ** (len(cfg["up_block_types"]) - 1)
        gen = torch.Generator().manual_seed(0)
        self.vae.forward = self.vae.decode
        latent = torch.randn(BATCH, cfg["latent_channels"], 64, 64, generator=gen)
        proto = onnx_io.export(self.vae, (latent,), ["latent_sample"], ["sample"], {
            "latent_sample": {0: "batch_size", 2: "latent_height", 3: "latent_width"},
            "sample": {0: "batch_size", 2: f"latent_height * {factor}", 3: f"latent_width * {factor}"}},
            half=self.half)
        onnx_io.save(proto, out / "vae_decoder" / "model.onnx", external=False)
        self.vae.forward = self.vae.encode_parameters
        image = torch.randn(BATCH, cfg["in_channels"], 64, 64, generator=gen)
        proto = onnx_io.export(self.vae, (image,), ["sample"], ["latent_parameters"], {
            "sample": {0: "batch_size", 2: "sample_height", 3: "sample_width"},
            "latent_parameters": {0: "batch_size", 2: f"sample_height / {factor}", 3: f"sample_width / {factor}"}},
            half=self.half)
        onnx_io.save(proto, out / "vae_encoder" / "model.onnx", external=False)
        del self.vae.forward
        write_json(out / "vae_decoder" / "config.json", cfg)
        write_json(out / "vae_encoder" / "config.json", cfg)

    def write_configs(self, out):
        write_json(out / "model_index.json", self.spec["model_index"])
        write_json(out / "scheduler" / "scheduler_config.json",
                   dict(self.spec["scheduler"], _diffusers_version=kinds.DIFFUSERS_VERSION))
        if self.spec["model_index"].get("feature_extractor", [None])[0] is not None:
            write_json(out / "feature_extractor" / "preprocessor_config.json", FEATURE_EXTRACTOR)


# transformers CLIPImageProcessor config of the safety checker's feature extractor (224 px CLIP).
FEATURE_EXTRACTOR = {
    "crop_size": {"height": 224, "width": 224}, "do_center_crop": True, "do_convert_rgb": True,
    "do_normalize": True, "do_rescale": True, "do_resize": True,
    "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_processor_type": "CLIPImageProcessor",
    "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3, "rescale_factor": 0.00392156862745098,
    "size": {"shortest_edge": 224},
}
