"""CLIPTextModel / CLIPTextModelWithProjection after transformers' modeling_clip (the eager
attention of transformers 4.3x-4.47, which optimum's CLIPModelPatcher also forces for 4.43-4.47).

Outputs, in the order optimum's CLIPTextOnnxConfig / CLIPTextWithProjectionOnnxConfig name them:
  CLIPTextModel:               last_hidden_state, pooler_output[, hidden_states.0 .. hidden_states.N]
  CLIPTextModelWithProjection: text_embeds, last_hidden_state[, hidden_states.0 .. hidden_states.N]
hidden_states.0 is the embedding output, hidden_states.i the output of layer i (hidden_states.N is
*before* final_layer_norm; last_hidden_state is after it).
"""
import torch
from torch import nn

from .nn import downcast


class CLIPTextEmbeddings(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.token_embedding = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.position_embedding = nn.Embedding(cfg["max_position_embeddings"], cfg["hidden_size"])
        self.register_buffer("position_ids", torch.arange(cfg["max_position_embeddings"]).expand((1, -1)),
                             persistent=False)

    def forward(self, input_ids):
        seq_length = input_ids.shape[-1]
        position_ids = self.position_ids[:, :seq_length]
        return self.token_embedding(input_ids) + self.position_embedding(position_ids)


class CLIPAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_dim = cfg["hidden_size"]
        self.num_heads = cfg["num_attention_heads"]
        self.head_dim = self.embed_dim // self.num_heads
        self.scale = self.head_dim ** -0.5
        self.k_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.v_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.q_proj = nn.Linear(self.embed_dim, self.embed_dim)
        self.out_proj = nn.Linear(self.embed_dim, self.embed_dim)

    def _shape(self, tensor, seq_len, bsz):
        return tensor.view(bsz, seq_len, self.num_heads, self.head_dim).transpose(1, 2).contiguous()

    def forward(self, hidden_states, causal_attention_mask):
        bsz, tgt_len, embed_dim = hidden_states.size()
        query_states = self.q_proj(hidden_states) * self.scale
        key_states = self._shape(self.k_proj(hidden_states), -1, bsz)
        value_states = self._shape(self.v_proj(hidden_states), -1, bsz)
        proj_shape = (bsz * self.num_heads, -1, self.head_dim)
        query_states = self._shape(query_states, tgt_len, bsz).view(*proj_shape)
        key_states = key_states.view(*proj_shape)
        value_states = value_states.view(*proj_shape)
        src_len = key_states.size(1)
        attn_weights = torch.bmm(query_states, key_states.transpose(1, 2))
        attn_weights = attn_weights.view(bsz, self.num_heads, tgt_len, src_len) + causal_attention_mask
        attn_weights = attn_weights.view(bsz * self.num_heads, tgt_len, src_len)
        attn_weights = nn.functional.softmax(attn_weights, dim=-1)
        attn_output = torch.bmm(attn_weights, value_states)
        attn_output = attn_output.view(bsz, self.num_heads, tgt_len, self.head_dim)
        attn_output = attn_output.transpose(1, 2)
        attn_output = attn_output.reshape(bsz, tgt_len, embed_dim)
        return self.out_proj(attn_output)


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class CLIPMLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        acts = {"quick_gelu": QuickGELU(), "gelu": nn.GELU()}
        self.activation_fn = acts[cfg["hidden_act"]]
        self.fc1 = nn.Linear(cfg["hidden_size"], cfg["intermediate_size"])
        self.fc2 = nn.Linear(cfg["intermediate_size"], cfg["hidden_size"])

    def forward(self, hidden_states):
        return self.fc2(self.activation_fn(self.fc1(hidden_states)))


class CLIPEncoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.self_attn = CLIPAttention(cfg)
        self.layer_norm1 = nn.LayerNorm(cfg["hidden_size"], eps=cfg["layer_norm_eps"])
        self.mlp = CLIPMLP(cfg)
        self.layer_norm2 = nn.LayerNorm(cfg["hidden_size"], eps=cfg["layer_norm_eps"])

    def forward(self, hidden_states, causal_attention_mask):
        residual = hidden_states
        hidden_states = self.self_attn(self.layer_norm1(hidden_states), causal_attention_mask)
        hidden_states = residual + hidden_states
        residual = hidden_states
        return residual + self.mlp(self.layer_norm2(hidden_states))


class CLIPEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layers = nn.ModuleList([CLIPEncoderLayer(cfg) for _ in range(cfg["num_hidden_layers"])])

    def forward(self, hidden_states, causal_attention_mask):
        states = (hidden_states,)
        for layer in self.layers:
            hidden_states = layer(hidden_states, causal_attention_mask)
            states = states + (hidden_states,)
        return hidden_states, states


def make_causal_mask(bsz, tgt_len, dtype, half):
    """transformers' _make_causal_mask: torch.full(float32, finfo(dtype).min), zeros on and below
    the diagonal, then `.to(dtype)`."""
    mask = torch.full((tgt_len, tgt_len), torch.finfo(torch.float16 if half else torch.float32).min)
    mask_cond = torch.arange(mask.size(-1))
    mask.masked_fill_(mask_cond < (mask_cond + 1).view(mask.size(-1), 1), 0)
    mask = downcast(mask, dtype)
    return mask[None, None, :, :].expand(bsz, 1, tgt_len, tgt_len)


class CLIPTextTransformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.half = False
        self.eos_token_id = cfg["eos_token_id"]
        self.embeddings = CLIPTextEmbeddings(cfg)
        self.encoder = CLIPEncoder(cfg)
        self.final_layer_norm = nn.LayerNorm(cfg["hidden_size"], eps=cfg["layer_norm_eps"])

    def forward(self, input_ids):
        input_shape = input_ids.size()
        input_ids = input_ids.view(-1, input_shape[-1])
        hidden_states = self.embeddings(input_ids)
        causal_attention_mask = make_causal_mask(input_shape[0], input_shape[-1], hidden_states.dtype, self.half)
        last, states = self.encoder(hidden_states, causal_attention_mask)
        last_hidden_state = self.final_layer_norm(last)
        if self.eos_token_id == 2:
            # the configs Stable Diffusion ships keep the pre-#24773 eos_token_id 2: take the argmax id
            # (the eos token has the largest id in CLIP's vocabulary)
            eos_index = input_ids.to(dtype=torch.int).argmax(dim=-1)
        else:
            eos_index = (input_ids.to(dtype=torch.int) == self.eos_token_id).int().argmax(dim=-1)
        pooled_output = last_hidden_state[torch.arange(last_hidden_state.shape[0]), eos_index]
        return last_hidden_state, pooled_output, states


class CLIPTextModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.output_hidden_states = bool(cfg.get("output_hidden_states"))
        self.text_model = CLIPTextTransformer(cfg)

    def forward(self, input_ids):
        last_hidden_state, pooled, states = self.text_model(input_ids)
        out = (last_hidden_state, pooled)
        return out + states if self.output_hidden_states else out


class CLIPTextModelWithProjection(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.output_hidden_states = bool(cfg.get("output_hidden_states"))
        self.text_model = CLIPTextTransformer(cfg)
        self.text_projection = nn.Linear(cfg["hidden_size"], cfg["projection_dim"], bias=False)

    def forward(self, input_ids):
        last_hidden_state, pooled, states = self.text_model(input_ids)
        out = (self.text_projection(pooled), last_hidden_state)
        return out + states if self.output_hidden_states else out


def output_names(cfg, with_projection):
    names = ["text_embeds", "last_hidden_state"] if with_projection else ["last_hidden_state", "pooler_output"]
    if cfg.get("output_hidden_states"):
        names += [f"hidden_states.{i}" for i in range(cfg["num_hidden_layers"] + 1)]
    return names
