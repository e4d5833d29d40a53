"""Domain-adaptive masked-language-model pretraining of a BERT encoder (keras-hub)."""

import tensorflow as tf
from tfmm._extras import require


def mlm_input(config, name=None):
    """The bert input to pretrain (`name`, or the only bert input)."""
    berts = [i for i in config.inputs if i.type == "text" and i.encoder.pretrains_masked_lm]
    if name is not None:
        berts = [i for i in berts if i.name == name]
    if len(berts) != 1:
        kinds = {i.name: i.encoder.type for i in config.inputs}
        raise ValueError(
            f"--objective mlm pretrains one bert text encoder; name it with "
            f"--input when there are several. Received: inputs {kinds}"
            + (f", --input {name!r}" if name else "")
        )
    return berts[0]


def masked_lm(encoder, input_config, vocabulary, mask_rate=0.15, seed=0):
    """(keras-hub `BertMaskedLM` sharing `encoder`'s backbone, its preprocessor)."""
    keras_hub = require("keras_hub", "tfmm pretrain --objective mlm")

    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=encoder.lowercase)
    seq = encoder.sequence_length
    preprocessor = keras_hub.models.BertMaskedLMPreprocessor(
        tokenizer,
        sequence_length=seq,
        mask_selection_rate=mask_rate,
        mask_selection_length=max(1, int(round(seq * mask_rate)) + 1),
    )
    # The masked-LM loss never reaches BERT's pooler; frozen, it is left out of the
    # optimizer (instead of a "gradients do not exist" warning every run).
    set_pooler_trainable(encoder.backbone, False)
    model = keras_hub.models.BertMaskedLM(encoder.backbone, preprocessor=None)
    return model, preprocessor


def set_pooler_trainable(backbone, trainable):
    """Freezes or unfreezes BERT's pooler (`pooled_dense`), if the backbone has one."""
    try:
        backbone.get_layer("pooled_dense").trainable = trainable
    except ValueError:
        pass


def text_dataset(texts, preprocessor, batch_size, training, seed):
    """Batches of (x, y, sample_weight) for the masked LM from a list of strings."""
    ds = tf.data.Dataset.from_tensor_slices(texts)
    if training:
        ds = ds.shuffle(len(texts), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=training and len(texts) >= batch_size)
    return ds.map(preprocessor, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
