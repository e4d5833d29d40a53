"""Cross-attention fusion: one modality's tokens attend to the others'."""

import dataclasses
from dataclasses import dataclass
from typing import Literal, Optional

import keras

from tfmm.fusion.registry import (
    AttentionFusionBase,
    dense_stack,
    normalized,
    register_fusion,
    with_presence,
)
from tfmm.schema import ConfigError
from tfmm.layers.fusion import ApplyPresence, MaskedMeanPooling


@dataclass(frozen=True)
class CrossAttentionFusionConfig(AttentionFusionBase):
    """Token-level fusion: the `query` input's sequence attends to every other input's
    sequence (BERT/TextCNN tokens, the ResNet feature grid, LSTM frames) with
    `MultiHeadAttention`, residual and layer norm; each sequence is then mean-pooled over
    its valid tokens and the pooled vectors are concatenated. Each projected sequence is
    layer-normalised, so ResNet's large activations cannot swamp the attention."""

    type: Literal["cross_attention"] = "cross_attention"
    # Input whose tokens are the queries; default: the first text input, else the first.
    query: Optional[str] = None
    # Blocks of (self-attention of the query tokens, cross-attention to each other input, feed-
    # forward).
    num_layers: int = 1

    def validate_inputs(self, inputs, path):
        names = [i.name for i in inputs]
        if self.query is not None and self.query not in names:
            raise ConfigError(
                f"{path}.query: no input named {self.query!r}; inputs: "
                f"{names}. Received: query={self.query!r}"
            )

    def resolve_inputs(self, inputs):
        if self.query is not None:
            return self
        texts = [i.name for i in inputs if i.type == "text"]
        return dataclasses.replace(self, query=(texts or [inputs[0].name])[0])


@register_fusion("cross_attention", config=CrossAttentionFusionConfig, needs_sequences=True)
def cross_attention_fusion(features, config, presence=None, outputs=()):
    """Token-level fusion with `keras.layers.MultiHeadAttention`.

    Every sequence is projected to `config.dim` and layer-normalised. The query input's
    tokens (`fusion.query`, by default the first text input) attend to each other, then
    in turn to each other input's tokens (the ResNet feature grid, the LSTM frames, a
    second text), in pre-LN blocks (LayerNorm, attention, residual); a feed-forward block
    closes each of the `num_layers` layers, and a LayerNorm the stack. With a single
    input, its tokens attend to themselves. Each sequence is then mean-pooled over its
    valid tokens, and the pooled vectors are concatenated and go through `hidden_units`.

    A missing modality is masked out of the keys, its attention output is zeroed, and
    its pooled vector is zeroed; when the query modality is missing, the other pooled
    vectors carry the example.

    Args:
        features: dict of input name -> {"sequence", "mask"}.
        config: `CrossAttentionFusionConfig`.
        presence: None or float32 [batch, modalities].
        outputs: unused.

    Example:

    >>> import keras
    >>> f = {n: {"sequence": keras.Input((t, 6)), "mask": keras.Input((t,), dtype="bool")}
    ...      for n, t in (("text", 5), ("image", 4))}
    >>> cfg = CrossAttentionFusionConfig(query="text", dim=8, num_heads=2, hidden_units=[3])
    >>> cross_attention_fusion(f, cfg).shape
    (None, 3)
    """
    names = list(features)
    index = {name: k for k, name in enumerate(names)}
    # Config validation fills in the default (the first text input, else the first).
    query = config.query if config.query in features else names[0]
    seqs = {
        name: keras.layers.Dense(config.dim, name=f"fusion_project_{name}")(f["sequence"])
        for name, f in features.items()
    }
    seqs = normalized(seqs, True, "fusion_project_norm")
    masks = with_presence(
        {name: f["mask"] for name, f in features.items()}, presence, "fusion_mask"
    )
    others = [n for n in names if n != query] or [query]
    q = seqs[query]
    # Pre-LN blocks (LayerNorm before each attention and the feed-forward, one after the
    # stack): the post-LN blocks this had stayed at chance on hard data at AdamW 3e-3
    # without warmup, as single_stream's did (BENCHMARKS.md, quality).
    for layer in range(config.num_layers):
        if others != [query]:
            # The query's tokens first attend to each other (a word read in its context:
            # "not calm" is not "calm"), then to each other input's.
            q_norm = keras.layers.LayerNormalization(name=f"fusion_self_norm_{layer}")(q)
            attended = keras.layers.MultiHeadAttention(
                config.num_heads,
                config.dim // config.num_heads,
                dropout=config.dropout,
                name=f"fusion_self_attend_{layer}",
            )(q_norm, q_norm, query_mask=masks[query], value_mask=masks[query])
            q = keras.layers.Add(name=f"fusion_self_residual_{layer}")([q, attended])
        for other in others:
            q_norm = keras.layers.LayerNormalization(name=f"fusion_norm_{other}_{layer}")(q)
            attended = keras.layers.MultiHeadAttention(
                config.num_heads,
                config.dim // config.num_heads,
                dropout=config.dropout,
                name=f"fusion_attend_{other}_{layer}",
            )(q_norm, seqs[other], query_mask=masks[query], value_mask=masks[other])
            if presence is not None:
                attended = ApplyPresence(
                    index[other], name=f"fusion_attend_presence_{other}_{layer}"
                )(attended, presence)
            q = keras.layers.Add(name=f"fusion_residual_{other}_{layer}")([q, attended])
        h = keras.layers.LayerNormalization(name=f"fusion_ffn_norm_{layer}")(q)
        h = keras.layers.Dense(
            2 * config.dim, activation=config.activation, name=f"fusion_ffn_in_{layer}"
        )(h)
        h = keras.layers.Dense(config.dim, name=f"fusion_ffn_out_{layer}")(h)
        if config.dropout:
            h = keras.layers.Dropout(config.dropout, name=f"fusion_ffn_dropout_{layer}")(h)
        q = keras.layers.Add(name=f"fusion_ffn_residual_{layer}")([q, h])
    q = keras.layers.LayerNormalization(name="fusion_final_norm")(q)
    pooled = {}
    for name in names:
        seq = q if name == query else seqs[name]
        pooled[name] = MaskedMeanPooling(name=f"fusion_pool_{name}")(seq, masks[name])
    pooled = with_presence(pooled, presence, "fusion_pooled_presence")
    vectors = list(pooled.values())
    x = vectors[0] if len(vectors) == 1 else keras.layers.Concatenate(name="fusion_concat")(vectors)
    return dense_stack(x, config)
