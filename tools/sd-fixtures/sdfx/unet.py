"""UNet2DConditionModel (diffusers.models.unets.unet_2d_condition) for the block types Stable
Diffusion 1.x / 2.x / XL use: CrossAttnDownBlock2D, DownBlock2D, UNetMidBlock2DCrossAttn,
CrossAttnUpBlock2D, UpBlock2D, positional time embedding, optional SDXL "text_time" add-embedding.

`config` is the dict written to unet/config.json; the constructor reads the same keys diffusers
reads, including its quirk that `attention_head_dim` is the number of heads when
`num_attention_heads` is unset (diffusers issue #2011).
"""
import torch
from torch import nn

from .nn import (ResnetBlock2D, Timesteps, TimestepEmbedding, Transformer2DModel, Downsample2D, Upsample2D,
                 downcast, upcast)


def _per_block(value, n):
    return list(value) if isinstance(value, (list, tuple)) else [value] * n


class CrossAttnDownBlock2D(nn.Module):
    def __init__(self, in_channels, out_channels, temb_channels, num_layers, transformer_layers, eps, groups,
                 heads, cross_attention_dim, use_linear_projection, upcast_attention, add_downsample,
                 downsample_padding):
        super().__init__()
        self.has_cross_attention = True
        self.resnets = nn.ModuleList([
            ResnetBlock2D(in_channels if i == 0 else out_channels, out_channels, temb_channels, groups, eps)
            for i in range(num_layers)])
        self.attentions = nn.ModuleList([
            Transformer2DModel(heads, out_channels // heads, out_channels, transformer_layers, cross_attention_dim,
                               groups, use_linear_projection, upcast_attention)
            for _ in range(num_layers)])
        self.downsamplers = (nn.ModuleList([Downsample2D(out_channels, downsample_padding)])
                             if add_downsample else None)

    def forward(self, hidden_states, temb, encoder_hidden_states):
        output_states = ()
        for resnet, attn in zip(self.resnets, self.attentions):
            hidden_states = resnet(hidden_states, temb)
            hidden_states = attn(hidden_states, encoder_hidden_states)
            output_states = output_states + (hidden_states,)
        if self.downsamplers is not None:
            for downsampler in self.downsamplers:
                hidden_states = downsampler(hidden_states)
            output_states = output_states + (hidden_states,)
        return hidden_states, output_states


class DownBlock2D(nn.Module):
    def __init__(self, in_channels, out_channels, temb_channels, num_layers, eps, groups, add_downsample,
                 downsample_padding):
        super().__init__()
        self.has_cross_attention = False
        self.resnets = nn.ModuleList([
            ResnetBlock2D(in_channels if i == 0 else out_channels, out_channels, temb_channels, groups, eps)
            for i in range(num_layers)])
        self.downsamplers = (nn.ModuleList([Downsample2D(out_channels, downsample_padding)])
                             if add_downsample else None)

    def forward(self, hidden_states, temb):
        output_states = ()
        for resnet in self.resnets:
            hidden_states = resnet(hidden_states, temb)
            output_states = output_states + (hidden_states,)
        if self.downsamplers is not None:
            for downsampler in self.downsamplers:
                hidden_states = downsampler(hidden_states)
            output_states = output_states + (hidden_states,)
        return hidden_states, output_states


class UNetMidBlock2DCrossAttn(nn.Module):
    def __init__(self, in_channels, temb_channels, transformer_layers, eps, groups, heads, output_scale_factor,
                 cross_attention_dim, use_linear_projection, upcast_attention):
        super().__init__()
        self.resnets = nn.ModuleList([
            ResnetBlock2D(in_channels, in_channels, temb_channels, groups, eps, output_scale_factor)
            for _ in range(2)])
        self.attentions = nn.ModuleList([
            Transformer2DModel(heads, in_channels // heads, in_channels, transformer_layers, cross_attention_dim,
                               groups, use_linear_projection, upcast_attention)])

    def forward(self, hidden_states, temb, encoder_hidden_states):
        hidden_states = self.resnets[0](hidden_states, temb)
        for attn, resnet in zip(self.attentions, self.resnets[1:]):
            hidden_states = attn(hidden_states, encoder_hidden_states)
            hidden_states = resnet(hidden_states, temb)
        return hidden_states


class CrossAttnUpBlock2D(nn.Module):
    def __init__(self, in_channels, out_channels, prev_output_channel, temb_channels, num_layers,
                 transformer_layers, eps, groups, heads, cross_attention_dim, use_linear_projection,
                 upcast_attention, add_upsample):
        super().__init__()
        self.has_cross_attention = True
        resnets = []
        for i in range(num_layers):
            res_skip_channels = in_channels if i == num_layers - 1 else out_channels
            resnet_in_channels = prev_output_channel if i == 0 else out_channels
            resnets.append(ResnetBlock2D(resnet_in_channels + res_skip_channels, out_channels, temb_channels,
                                         groups, eps))
        self.resnets = nn.ModuleList(resnets)
        self.attentions = nn.ModuleList([
            Transformer2DModel(heads, out_channels // heads, out_channels, transformer_layers, cross_attention_dim,
                               groups, use_linear_projection, upcast_attention)
            for _ in range(num_layers)])
        self.upsamplers = nn.ModuleList([Upsample2D(out_channels)]) if add_upsample else None

    def forward(self, hidden_states, res_hidden_states_tuple, temb, encoder_hidden_states, upsample_size=None):
        for resnet, attn in zip(self.resnets, self.attentions):
            res_hidden_states = res_hidden_states_tuple[-1]
            res_hidden_states_tuple = res_hidden_states_tuple[:-1]
            hidden_states = torch.cat([hidden_states, res_hidden_states], dim=1)
            hidden_states = resnet(hidden_states, temb)
            hidden_states = attn(hidden_states, encoder_hidden_states)
        if self.upsamplers is not None:
            for upsampler in self.upsamplers:
                hidden_states = upsampler(hidden_states, upsample_size)
        return hidden_states


class UpBlock2D(nn.Module):
    def __init__(self, in_channels, out_channels, prev_output_channel, temb_channels, num_layers, eps, groups,
                 add_upsample):
        super().__init__()
        self.has_cross_attention = False
        resnets = []
        for i in range(num_layers):
            res_skip_channels = in_channels if i == num_layers - 1 else out_channels
            resnet_in_channels = prev_output_channel if i == 0 else out_channels
            resnets.append(ResnetBlock2D(resnet_in_channels + res_skip_channels, out_channels, temb_channels,
                                         groups, eps))
        self.resnets = nn.ModuleList(resnets)
        self.upsamplers = nn.ModuleList([Upsample2D(out_channels)]) if add_upsample else None

    def forward(self, hidden_states, res_hidden_states_tuple, temb, upsample_size=None):
        for resnet in self.resnets:
            res_hidden_states = res_hidden_states_tuple[-1]
            res_hidden_states_tuple = res_hidden_states_tuple[:-1]
            hidden_states = torch.cat([hidden_states, res_hidden_states], dim=1)
            hidden_states = resnet(hidden_states, temb)
        if self.upsamplers is not None:
            for upsampler in self.upsamplers:
                hidden_states = upsampler(hidden_states, upsample_size)
        return hidden_states


class UNet2DConditionModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        c = config
        blocks = c["block_out_channels"]
        n = len(c["down_block_types"])
        heads = _per_block(c.get("num_attention_heads") or c["attention_head_dim"], n)
        cross_dim = _per_block(c["cross_attention_dim"], n)
        layers = _per_block(c["layers_per_block"], n)
        tlayers = _per_block(c.get("transformer_layers_per_block", 1), n)
        eps, groups = c["norm_eps"], c["norm_num_groups"]
        linear, upcast_attn = c["use_linear_projection"], bool(c.get("upcast_attention"))
        self.addition_embed_type = c.get("addition_embed_type")

        self.conv_in = nn.Conv2d(c["in_channels"], blocks[0], kernel_size=3, padding=1)
        time_embed_dim = blocks[0] * 4
        self.time_proj = Timesteps(blocks[0], c["flip_sin_to_cos"], c["freq_shift"])
        self.time_embedding = TimestepEmbedding(blocks[0], time_embed_dim)
        if self.addition_embed_type == "text_time":
            self.add_time_proj = Timesteps(c["addition_time_embed_dim"], c["flip_sin_to_cos"], c["freq_shift"])
            self.add_embedding = TimestepEmbedding(c["projection_class_embeddings_input_dim"], time_embed_dim)
        elif self.addition_embed_type is not None:
            raise ValueError(f"unsupported addition_embed_type {self.addition_embed_type}")

        self.down_blocks = nn.ModuleList()
        output_channel = blocks[0]
        for i, kind in enumerate(c["down_block_types"]):
            input_channel, output_channel = output_channel, blocks[i]
            final = i == n - 1
            if kind == "CrossAttnDownBlock2D":
                block = CrossAttnDownBlock2D(input_channel, output_channel, time_embed_dim, layers[i], tlayers[i], eps,
                                             groups, heads[i], cross_dim[i], linear, upcast_attn, not final,
                                             c["downsample_padding"])
            elif kind == "DownBlock2D":
                block = DownBlock2D(input_channel, output_channel, time_embed_dim, layers[i], eps, groups, not final,
                                    c["downsample_padding"])
            else:
                raise ValueError(f"unsupported down block {kind}")
            self.down_blocks.append(block)

        if c.get("mid_block_type", "UNetMidBlock2DCrossAttn") != "UNetMidBlock2DCrossAttn":
            raise ValueError("unsupported mid block")
        self.mid_block = UNetMidBlock2DCrossAttn(blocks[-1], time_embed_dim, tlayers[-1], eps, groups, heads[-1],
                                                 c["mid_block_scale_factor"], cross_dim[-1], linear, upcast_attn)

        self.num_upsamplers = 0
        rev_blocks, rev_heads = list(reversed(blocks)), list(reversed(heads))
        rev_layers, rev_cross = list(reversed(layers)), list(reversed(cross_dim))
        rev_tlayers = list(reversed(tlayers))
        self.up_blocks = nn.ModuleList()
        output_channel = rev_blocks[0]
        for i, kind in enumerate(c["up_block_types"]):
            final = i == n - 1
            prev_output_channel, output_channel = output_channel, rev_blocks[i]
            input_channel = rev_blocks[min(i + 1, n - 1)]
            if not final:
                self.num_upsamplers += 1
            if kind == "CrossAttnUpBlock2D":
                block = CrossAttnUpBlock2D(input_channel, output_channel, prev_output_channel, time_embed_dim,
                                           rev_layers[i] + 1, rev_tlayers[i], eps, groups, rev_heads[i], rev_cross[i],
                                           linear, upcast_attn, not final)
            elif kind == "UpBlock2D":
                block = UpBlock2D(input_channel, output_channel, prev_output_channel, time_embed_dim,
                                  rev_layers[i] + 1, eps, groups, not final)
            else:
                raise ValueError(f"unsupported up block {kind}")
            self.up_blocks.append(block)

        self.conv_norm_out = nn.GroupNorm(num_channels=blocks[0], num_groups=groups, eps=eps)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(blocks[0], c["out_channels"], kernel_size=3, padding=1)

    def forward(self, sample, timestep, encoder_hidden_states, text_embeds=None, time_ids=None):
        default_overall_up_factor = 2 ** self.num_upsamplers
        forward_upsample_size = any(s % default_overall_up_factor != 0 for s in sample.shape[-2:])
        upsample_size = None

        timesteps = timestep
        if len(timesteps.shape) == 0:
            timesteps = timesteps[None]
        timesteps = timesteps.expand(sample.shape[0])
        t_emb = downcast(self.time_proj(timesteps), sample.dtype)  # diffusers: t_emb.to(dtype=sample.dtype)
        emb = self.time_embedding(t_emb)
        if self.addition_embed_type == "text_time":
            time_embeds = self.add_time_proj(time_ids.flatten())
            time_embeds = time_embeds.reshape((text_embeds.shape[0], -1))
            # diffusers concatenates half text_embeds with float32 time_embeds (torch promotes to
            # float32), then casts back: add_embeds.to(emb.dtype)
            add_embeds = torch.concat([upcast(text_embeds), time_embeds], dim=-1)
            add_embeds = downcast(add_embeds, emb.dtype)
            emb = emb + self.add_embedding(add_embeds)

        sample = self.conv_in(sample)
        down_block_res_samples = (sample,)
        for block in self.down_blocks:
            if block.has_cross_attention:
                sample, res_samples = block(sample, emb, encoder_hidden_states)
            else:
                sample, res_samples = block(sample, emb)
            down_block_res_samples += res_samples

        sample = self.mid_block(sample, emb, encoder_hidden_states)

        for i, block in enumerate(self.up_blocks):
            final = i == len(self.up_blocks) - 1
            res_samples = down_block_res_samples[-len(block.resnets):]
            down_block_res_samples = down_block_res_samples[:-len(block.resnets)]
            if not final and forward_upsample_size:
                upsample_size = down_block_res_samples[-1].shape[2:]
            if block.has_cross_attention:
                sample = block(sample, res_samples, emb, encoder_hidden_states, upsample_size)
            else:
                sample = block(sample, res_samples, emb, upsample_size)

        sample = self.conv_act(self.conv_norm_out(sample))
        return self.conv_out(sample)
