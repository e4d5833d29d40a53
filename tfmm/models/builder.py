"""Config -> one Keras functional model: encoders, fusion, heads."""

from typing import TYPE_CHECKING, Any, Mapping, Optional

import keras

from tfmm.encoders import build_encoder
from tfmm.fusion import INSPECTION_OUTPUTS, build_fusion, needs_sequences
from tfmm.layers.augment import input_augmenter
from tfmm.layers.fusion import GradientScale, MaskedMeanPooling, ModalityPresence
from tfmm.layers.heads import Head
from tfmm.models.heads import build_head, head_settings, loss_for, metrics_for

if TYPE_CHECKING:
    from tfmm.config import Config


def build_model(config: "Config", vocabularies: Optional[Mapping[str, Any]] = None) -> keras.Model:
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
        raise ValueError(
            f"vocabularies given for unknown inputs {sorted(unknown)}; inputs: "
            f"{[i.name for i in config.inputs]}"
        )
    sequences = needs_sequences(config.fusion)
    inputs, features, encoded = {}, {}, {}
    for input_config in config.inputs:
        encoder = build_encoder(
            input_config, vocabulary=vocabularies.get(input_config.name), return_sequence=sequences
        )
        names = encoder.input_names_for(input_config.name)
        inner = {}
        for t in encoder.inputs:
            outer = keras.Input(t.shape[1:], dtype=t.dtype, name=names[t.name])
            inputs[names[t.name]] = outer
            inner[t.name] = outer
        augmenter = input_augmenter(input_config, config.data.seed)
        if augmenter is not None:
            inner[encoder.primary_input] = augmenter(inner[encoder.primary_input])
        if len(inner) == 1:
            features[input_config.name] = encoder(next(iter(inner.values())))
        else:
            features[input_config.name] = encoder(inner)
        if input_config.optional:
            name = f"{input_config.name}_present"
            inputs[name] = keras.Input((), dtype="float32", name=name)
    presence = _presence(config, inputs, features)
    fused = build_fusion(features, config.fusion, presence, config.outputs)
    outputs = {}
    for o in config.outputs:
        if isinstance(fused, dict):  # late fusion: already the head's logits
            outputs[o.name] = Head(
                o.type,
                o.units,
                labels=o.labels,
                project=False,
                name=f"head_{o.name}",
                **head_settings(o),
            )(fused[o.name])
        else:
            outputs[o.name] = build_head(o, fused)
    for aux_name, o, input_name in config.auxiliary_outputs():
        vector = features[input_name]
        if isinstance(vector, dict):
            if input_name not in encoded:
                encoded[input_name] = MaskedMeanPooling(name=f"aux_pool_{input_name}")(
                    vector["sequence"], vector["mask"]
                )
            vector = encoded[input_name]
        if config.fusion.balance == "gradient_blending":
            vector = GradientScale(name=f"blend_{aux_name}")(vector)
        outputs[aux_name] = build_head(o, vector, name=f"head_{aux_name}")
    return keras.Model(inputs=inputs, outputs=outputs, name=config.name)


def _presence(config, inputs, features):
    """The [batch, modalities] presence tensor, or None when every modality is always
    present and there is no modality dropout."""
    optional = [i.optional for i in config.inputs]
    # One input has nothing to drop in favour of another.
    rate = config.fusion.modality_dropout if len(config.inputs) > 1 else 0.0
    if not any(optional) and not rate:
        return None
    refs = []
    for i in config.inputs:
        if i.optional:
            refs.append(inputs[f"{i.name}_present"])
        else:
            f = features[i.name]
            refs.append(f["mask"] if isinstance(f, dict) else f)
    return ModalityPresence(optional, rate=rate, seed=config.data.seed, name="modality_presence")(
        refs
    )


def inspection_model(model):
    """The model with the fusion's inspection outputs added (`INSPECTION_OUTPUTS`, as the
    fusions declare them: `fusion_gate`, the gated fusion's per-example modality weights,
    [batch, modalities] in config input order).

    Training outputs stay as they are (Keras's `fit` needs a target for every output);
    use this for prediction and export. A model without such layers is returned as is.

    Example:

    ```python
    gates = tfmm.models.inspection_model(model).predict(x)["fusion_gate"]
    ```
    """
    extra = {}
    for name in INSPECTION_OUTPUTS:
        try:
            extra[name] = model.get_layer(name).output
        except ValueError:
            continue
    if not extra:
        return model
    return keras.Model(model.input, {**model.output, **extra}, name=model.name)


def compile_model(
    model: keras.Model,
    config: "Config",
    optimizer: Optional[keras.optimizers.Optimizer] = None,
    jit_compile: bool = False,
) -> keras.Model:
    """`model.compile` with the losses, loss weights and metrics of each configured head."""
    if optimizer is None:
        from tfmm.training.optimizers import build_optimizer

        optimizer = build_optimizer(config, steps_per_epoch=None, warmup=False)
    smoothing = config.training.label_smoothing
    losses = {o.name: loss_for(o, smoothing) for o in config.outputs}
    weights = {o.name: o.loss_weight for o in config.outputs}
    metrics = {o.name: metrics_for(o) for o in config.outputs}
    for aux_name, o, _ in config.auxiliary_outputs():
        losses[aux_name] = loss_for(o, smoothing)
        weights[aux_name] = o.loss_weight * config.fusion.auxiliary_loss_weight
        metrics[aux_name] = metrics_for(o)
    model.compile(
        optimizer=optimizer,
        loss=losses,
        loss_weights=weights,
        metrics=metrics,
        jit_compile=jit_compile,
    )
    return model
