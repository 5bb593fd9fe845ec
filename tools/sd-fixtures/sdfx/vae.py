"""AutoencoderKL (diffusers.models.autoencoders.autoencoder_kl / vae.py): the parts optimum exports.

optimum's `_get_submodels_for_export_diffusion` deep-copies the whole AutoencoderKL twice and
replaces `forward`:
  vae_encoder: sample -> {"latent_parameters": encode(sample).latent_dist.parameters}
               (the quant_conv output: mean and logvar, 2 * latent_channels channels)
  vae_decoder: latent_sample -> decode(latent_sample).sample  (post_quant_conv, then Decoder)
so the initializers are named `encoder.*` / `quant_conv.*` and `post_quant_conv.*` / `decoder.*`.
Scaling by `scaling_factor` happens in the pipeline, outside both graphs.
"""
import torch.nn.functional as F
from torch import nn

from .nn import Attention, ResnetBlock2D, Upsample2D


class UNetMidBlock2D(nn.Module):
    """resnet, single-head self-attention over all pixels (upcast_softmax=True), resnet; no temb."""

    def __init__(self, channels, groups):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(channels, channels, None, groups, 1e-6) for _ in range(2)])
        self.attentions = nn.ModuleList([
            Attention(channels, heads=1, dim_head=channels, bias=True, upcast_softmax=True, norm_num_groups=groups,
                      eps=1e-6, residual_connection=True)])

    def forward(self, hidden_states):
        hidden_states = self.resnets[0](hidden_states, None)
        for attn, resnet in zip(self.attentions, self.resnets[1:]):
            hidden_states = attn(hidden_states)
            hidden_states = resnet(hidden_states, None)
        return hidden_states


class UpDecoderBlock2D(nn.Module):
    def __init__(self, in_channels, out_channels, num_layers, groups, add_upsample):
        super().__init__()
        self.resnets = nn.ModuleList([
            ResnetBlock2D(in_channels if i == 0 else out_channels, out_channels, None, groups, 1e-6)
            for i in range(num_layers)])
        self.upsamplers = nn.ModuleList([Upsample2D(out_channels)]) if add_upsample else None

    def forward(self, hidden_states):
        for resnet in self.resnets:
            hidden_states = resnet(hidden_states, None)
        if self.upsamplers is not None:
            for upsampler in self.upsamplers:
                hidden_states = upsampler(hidden_states)
        return hidden_states


class EncoderDownsample2D(nn.Module):
    """Downsample2D(use_conv=True, padding=0, name="op"): pad right/bottom by one, 3x3 stride-2 conv."""

    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size=3, stride=2, padding=0)

    def forward(self, hidden_states):
        return self.conv(F.pad(hidden_states, (0, 1, 0, 1), mode="constant", value=0))


class DownEncoderBlock2D(nn.Module):
    def __init__(self, in_channels, out_channels, num_layers, groups, add_downsample):
        super().__init__()
        self.resnets = nn.ModuleList([
            ResnetBlock2D(in_channels if i == 0 else out_channels, out_channels, None, groups, 1e-6)
            for i in range(num_layers)])
        self.downsamplers = nn.ModuleList([EncoderDownsample2D(out_channels)]) if add_downsample else None

    def forward(self, hidden_states):
        for resnet in self.resnets:
            hidden_states = resnet(hidden_states, None)
        if self.downsamplers is not None:
            for downsampler in self.downsamplers:
                hidden_states = downsampler(hidden_states)
        return hidden_states


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        blocks, groups = cfg["block_out_channels"], cfg["norm_num_groups"]
        self.conv_in = nn.Conv2d(cfg["latent_channels"], blocks[-1], kernel_size=3, stride=1, padding=1)
        self.mid_block = UNetMidBlock2D(blocks[-1], groups)
        self.up_blocks = nn.ModuleList()
        rev = list(reversed(blocks))
        output_channel = rev[0]
        for i, _ in enumerate(cfg["up_block_types"]):
            prev_output_channel, output_channel = output_channel, rev[i]
            self.up_blocks.append(UpDecoderBlock2D(prev_output_channel, output_channel, cfg["layers_per_block"] + 1,
                                                   groups, i != len(blocks) - 1))
        self.conv_norm_out = nn.GroupNorm(num_channels=blocks[0], num_groups=groups, eps=1e-6)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(blocks[0], cfg["out_channels"], 3, padding=1)

    def forward(self, sample):
        sample = self.conv_in(sample)
        sample = self.mid_block(sample)
        for up_block in self.up_blocks:
            sample = up_block(sample)
        return self.conv_out(self.conv_act(self.conv_norm_out(sample)))


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        blocks, groups = cfg["block_out_channels"], cfg["norm_num_groups"]
        self.conv_in = nn.Conv2d(cfg["in_channels"], blocks[0], kernel_size=3, stride=1, padding=1)
        self.down_blocks = nn.ModuleList()
        output_channel = blocks[0]
        for i, _ in enumerate(cfg["down_block_types"]):
            input_channel, output_channel = output_channel, blocks[i]
            self.down_blocks.append(DownEncoderBlock2D(input_channel, output_channel, cfg["layers_per_block"], groups,
                                                       i != len(blocks) - 1))
        self.mid_block = UNetMidBlock2D(blocks[-1], groups)
        self.conv_norm_out = nn.GroupNorm(num_channels=blocks[-1], num_groups=groups, eps=1e-6)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(blocks[-1], 2 * cfg["latent_channels"], 3, padding=1)

    def forward(self, sample):
        sample = self.conv_in(sample)
        for down_block in self.down_blocks:
            sample = down_block(sample)
        sample = self.mid_block(sample)
        return self.conv_out(self.conv_act(self.conv_norm_out(sample)))


class AutoencoderKL(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.quant_conv = nn.Conv2d(2 * cfg["latent_channels"], 2 * cfg["latent_channels"], 1)
        self.post_quant_conv = nn.Conv2d(cfg["latent_channels"], cfg["latent_channels"], 1)

    def encode_parameters(self, sample):
        return self.quant_conv(self.encoder(sample))

    def decode(self, latent_sample):
        return self.decoder(self.post_quant_conv(latent_sample))

    def forward(self, latent_sample):
        return self.decode(latent_sample)

