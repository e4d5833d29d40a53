"""Config -> one Keras functional model: encoders, fusion, heads."""

import keras

from tfmm.encoders import build_encoder
from tfmm.fusion import build_fusion
from tfmm.models.heads import build_head, loss_for, metrics_for


def build_model(config, vocabularies=None):
    """Builds the fused model that `config` describes.

    Each input gets an encoder sublayer named `{input}_encoder`; the encoders' vectors go
    to the fusion (by default one `Concatenate` named `fusion_concat`), then one `Head`
    per output. Inputs and outputs are dicts keyed by the config's names:

    - text (textcnn): `{name}` int32 token ids [batch, sequence_length];
    - text (bert): `{name}_token_ids`, `{name}_segment_ids`, `{name}_padding_mask`;
    - text (hub): `{name}` strings [batch];
    - image: `{name}` float32 RGB pixels in [0, 255], [batch, height, width, 3];
    - audio: `{name}` float32 waveform in [-1, 1], [batch, num_samples], and
      `{name}_length` int32 valid samples per clip.

    `tfmm.data` turns raw strings, image files and WAV files into exactly these tensors.

    Args:
        config: `tfmm.Config`. Every output must have its labels (or be a regression).
        vocabularies: dict of input name -> list of str, for textcnn inputs (the
            TextVectorization vocabulary adapted on training text). Stored in the model.

    Returns:
        A `keras.Model` named `config.name`.

    Example:

    >>> import tfmm
    >>> config = tfmm.config_from_dict({
    ...     "inputs": [{"name": "text", "type": "text",
    ...                 "encoder": {"type": "textcnn", "vocab_size": 100,
    ...                             "sequence_length": 8, "filters": 4}}],
    ...     "outputs": [{"name": "label", "labels": ["neg", "pos"]}]})
    >>> model = tfmm.build_model(config)
    >>> sorted(model.output.keys()) if isinstance(model.output, dict) else model.output_names
    ['label']
    """
    vocabularies = vocabularies or {}
    unknown = set(vocabularies) - {i.name for i in config.inputs}
    if unknown:
        raise ValueError(f"vocabularies given for unknown inputs {sorted(unknown)}; inputs: "
                         f"{[i.name for i in config.inputs]}")
    inputs, features = {}, {}
    for input_config in config.inputs:
        encoder = build_encoder(input_config, vocabulary=vocabularies.get(input_config.name))
        names = encoder.input_names_for(input_config.name)
        inner = {}
        for t in encoder.inputs:
            outer = keras.Input(t.shape[1:], dtype=t.dtype, name=names[t.name])
            inputs[names[t.name]] = outer
            inner[t.name] = outer
        if len(inner) == 1:
            features[input_config.name] = encoder(next(iter(inner.values())))
        else:
            features[input_config.name] = encoder(inner)
    fused = build_fusion(features, config.fusion)
    outputs = {o.name: build_head(o, fused) for o in config.outputs}
    return keras.Model(inputs=inputs, outputs=outputs, name=config.name)


def compile_model(model, config, optimizer=None, jit_compile=False):
    """`model.compile` with the losses, loss weights and metrics of each configured head."""
    if optimizer is None:
        optimizer = keras.optimizers.AdamW(config.training.learning_rate,
                                           weight_decay=config.training.weight_decay)
    model.compile(
        optimizer=optimizer,
        loss={o.name: loss_for(o) for o in config.outputs},
        loss_weights={o.name: o.loss_weight for o in config.outputs},
        metrics={o.name: metrics_for(o) for o in config.outputs},
        jit_compile=jit_compile,
    )
    return model
