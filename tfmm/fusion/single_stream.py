"""Single-stream fusion: one Transformer over every modality's tokens."""

from dataclasses import dataclass, field
from typing import Literal

import keras

from tfmm.fusion.registry import AttentionFusionBase, dense_stack, register_fusion, with_presence
from tfmm.layers.fusion import MaskedMeanPooling, ModalityTypeEmbedding
from tfmm.schema import positive
from tfmm._extras import require


@dataclass(frozen=True)
class SingleStreamFusionConfig(AttentionFusionBase):
    """All modalities' tokens projected to `dim`, a learned modality-type embedding added,
    concatenated into one sequence and run through keras-hub `TransformerEncoder` layers,
    then mean-pooled over the valid tokens. Each projected sequence is layer-normalised
    before the type embedding is added."""

    type: Literal["single_stream"] = "single_stream"
    # keras-hub TransformerEncoder layers over the joint token sequence.
    num_layers: int = 2
    # The feed-forward width of each layer.
    intermediate_dim: int = 256
    hidden_units: list[int] = field(default_factory=list)

    def validate(self, path):
        super().validate(path)
        positive(self, path, "num_layers", "intermediate_dim")


@register_fusion("single_stream", config=SingleStreamFusionConfig, needs_sequences=True)
def single_stream_fusion(features, config, presence=None, outputs=()):
    """Concatenates all tokens into one sequence and runs Transformer encoder layers.

    Each modality's tokens are projected to `config.dim`, layer-normalised, and get that
    modality's learned type embedding (`fusion_type_{name}`), so the Transformer knows
    which tokens are text, image grid cells or audio frames. The sequences and their masks
    are concatenated along the token axis, go through `num_layers` keras-hub
    `TransformerEncoder` layers (the mask as padding mask), and are mean-pooled over the
    valid tokens.

    A missing modality's tokens are masked: no other token attends to them and they are
    left out of the pooling.

    Args:
        features: dict of input name -> {"sequence", "mask"}.
        config: `SingleStreamFusionConfig`.
        presence: None or float32 [batch, modalities].
        outputs: unused.

    Example:

    >>> import keras
    >>> f = {n: {"sequence": keras.Input((t, 6)), "mask": keras.Input((t,), dtype="bool")}
    ...      for n, t in (("text", 5), ("image", 4))}
    >>> cfg = SingleStreamFusionConfig(dim=8, num_heads=2, num_layers=1,
    ...                                intermediate_dim=16)
    >>> single_stream_fusion(f, cfg).shape
    (None, 8)
    """
    keras_hub = require("keras_hub", "the single_stream fusion")

    tokens, masks = (
        [],
        with_presence({n: f["mask"] for n, f in features.items()}, presence, "fusion_mask"),
    )
    for name, f in features.items():
        t = keras.layers.Dense(config.dim, name=f"fusion_project_{name}")(f["sequence"])
        t = keras.layers.LayerNormalization(name=f"fusion_project_norm_{name}")(t)
        tokens.append(ModalityTypeEmbedding(name=f"fusion_type_{name}")(t))
    if len(tokens) == 1:
        x, mask = tokens[0], next(iter(masks.values()))
    else:
        x = keras.layers.Concatenate(axis=1, name="fusion_tokens")(tokens)
        mask = keras.layers.Concatenate(axis=1, name="fusion_token_mask")(list(masks.values()))
    # Pre-LN blocks (LayerNorm before attention and feed-forward, one after the stack):
    # the post-LN default never left ln(classes) at tfmm's learning rate (3e-3, no
    # warmup) on hard data (BENCHMARKS.md, quality).
    for i in range(config.num_layers):
        x = keras_hub.layers.TransformerEncoder(
            config.intermediate_dim,
            config.num_heads,
            dropout=config.dropout,
            normalize_first=True,
            name=f"fusion_transformer_{i}",
        )(x, padding_mask=mask)
    x = keras.layers.LayerNormalization(name="fusion_final_norm")(x)
    x = MaskedMeanPooling(name="fusion_pool")(x, mask)
    return dense_stack(x, config)
