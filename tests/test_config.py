import pytest

import tfmm
from tfmm.config import ConfigError
from tests.helpers import TINY_INPUTS


def _cfg(**overrides):
    data = {
        "inputs": [dict(TINY_INPUTS["text"])],
        "outputs": [{"name": "label", "labels": ["a", "b"]}],
    }
    data.update(overrides)
    return data


def test_defaults_filled_in():
    config = tfmm.config_from_dict(_cfg())
    assert config.inputs[0].column == "text"
    assert config.outputs[0].column == "label"
    assert config.fusion.type == "concat"
    assert config.data.on_bad_example == "fail"
    # A fusion mapping without `type` tunes the default fusion.
    tuned = tfmm.config_from_dict(_cfg(fusion={"hidden_units": [], "dropout": 0.1}))
    assert (tuned.fusion.type, tuned.fusion.hidden_units, tuned.fusion.dropout) == (
        "concat",
        [],
        0.1,
    )


def test_default_encoder_per_modality():
    config = tfmm.config_from_dict(
        _cfg(
            inputs=[
                {"name": "photo", "type": "image"},
                {"name": "clip", "type": "audio"},
                {"name": "note", "type": "text"},
            ]
        )
    )
    # Text: tfidf, chosen over textcnn on validation rows (BENCHMARKS.md, tables).
    assert [i.encoder.type for i in config.inputs] == ["cnn", "cnn", "tfidf"]
    # A token-level fusion needs tokens: textcnn; an explicit tfidf there is refused.
    tokens = tfmm.config_from_dict(
        _cfg(inputs=[{"name": "note", "type": "text"}], fusion={"type": "single_stream"})
    )
    assert tokens.inputs[0].encoder.type == "textcnn"
    with pytest.raises(
        tfmm.ConfigError, match="tfidf has no token sequence for the cross_attention fusion"
    ):
        tfmm.config_from_dict(
            _cfg(
                inputs=[{"name": "note", "type": "text", "encoder": "tfidf"}],
                fusion={"type": "cross_attention"},
            )
        )
    assert config.inputs[0].image_hw == (224, 224)
    assert config.fusion.normalize is True


def test_encoder_shorthand_string():
    config = tfmm.config_from_dict(
        _cfg(inputs=[{"name": "t", "type": "text", "encoder": "textcnn"}])
    )
    assert config.inputs[0].encoder.kernel_sizes == [3, 4, 5]


@pytest.mark.parametrize(
    "data, match",
    [
        (
            _cfg(fusoin={"type": "concat"}),
            r"fusoin: unknown key\. Did you mean 'fusion'\? Allowed keys: \[.*'inputs'",
        ),
        (
            _cfg(
                inputs=[{"name": "t", "type": "text", "encoder": {"type": "textcnn", "filtres": 3}}]
            ),
            r"inputs\[0\]\.encoder\.filtres: unknown key\. Did you mean 'filters'",
        ),
        (
            _cfg(
                inputs=[
                    {"name": "t", "type": "text", "encoder": {"type": "textcnn", "filters": "many"}}
                ]
            ),
            r"inputs\[0\]\.encoder\.filters: expected an int\. Received: 'many'",
        ),
        (
            _cfg(inputs=[{"name": "t", "type": "text", "encoder": {"type": "gpt9"}}]),
            r"inputs\[0\]\.encoder\.type: unknown type 'gpt9'; allowed: \['bert', 'cnn', "
            r"'efficientnet', 'ft_transformer', 'hub', 'keras_hub', 'lstm', 'mlp', 'mobilenet', "
            r"'resnet50', 'textcnn', 'tfidf'\]",
        ),
        (
            _cfg(inputs=[{"name": "t", "type": "text", "encoder": {"type": "resnet50"}}]),
            r"inputs\[0\]\.encoder\.type: encoder 'resnet50' cannot read a text input; "
            r"allowed for text: \['tfidf', 'bert', 'hub', 'textcnn'\]",
        ),
        (
            _cfg(inputs=[{"name": "t", "type": "text", "encoder": {"units": 8}}]),
            r"inputs\[0\]\.encoder\.type: required key is missing; one of \['bert', 'cnn', ",
        ),
        (_cfg(inputs=[{"type": "text"}]), r"inputs\[0\]\.name: required key is missing"),
        ({"inputs": [TINY_INPUTS["text"]]}, r"outputs: required key is missing"),
        (
            _cfg(inputs=[{"name": "t", "type": "video"}]),
            r"inputs\[0\]\.type: must be one of \['text', 'image', 'audio', 'tabular'\]\. "
            r"Received: 'video'",
        ),
        (
            _cfg(outputs=[{"name": "label", "type": "binary", "labels": ["a", "b", "c"]}]),
            r"outputs\[0\]\.labels: a binary output has exactly 2 labels",
        ),
        (
            _cfg(inputs=[{"name": "t", "type": "text", "image_size": 64}]),
            r"inputs\[0\]\.image_size: only applies to image inputs, not text",
        ),
        (
            _cfg(inputs=[{"name": "p", "type": "image", "image_size": 16, "encoder": "resnet50"}]),
            r"inputs\[0\]\.image_size: ResNet50 needs at least 32x32 pixels",
        ),
        (
            _cfg(inputs=[dict(TINY_INPUTS["text"]), dict(TINY_INPUTS["text"])]),
            r"inputs: duplicate input name 'text'",
        ),
        (_cfg(data={"batch_size": True}), r"data\.batch_size: expected an int\. Received: True"),
        (
            _cfg(name="../../escape"),
            r"name: names the run's folder under runs/: .* Received: "
            r"name='\.\./\.\./escape'",
        ),
        (_cfg(name="a/b"), r"name: names the run's folder"),
        (
            _cfg(
                inputs=[
                    {
                        "name": "photo",
                        "type": "image",
                        "column": "path",
                        "image_size": 32,
                        "encoder": "cnn",
                    },
                    {"name": "sound", "type": "audio", "column": "path", "encoder": "cnn"},
                ]
            ),
            r"inputs: 'photo' \(image\) and 'sound' \(audio\) both read column 'path'",
        ),
        (_cfg(data={"max_file_mb": 0}), r"data\.max_file_mb"),
        (
            _cfg(inputs=[{"name": "t", "type": "text", "encoder": {"type": "bert"}}]),
            r"inputs\[0\]\.encoder: a bert encoder needs either `preset`",
        ),
        (
            _cfg(inputs=[], outputs=[{"name": "y", "labels": ["a", "b"]}]),
            r"inputs: at least one input is required",
        ),
    ],
)
def test_config_errors_name_the_key(data, match):
    with pytest.raises(ConfigError, match=match):
        tfmm.config_from_dict(data)


def test_load_config_from_yaml(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "inputs:\n  - {name: caption, type: text, encoder: textcnn}\n"
        "outputs:\n  - {name: label, labels: [x, y]}\n"
        "data: {train: train.csv}\n"
    )
    config = tfmm.load_config(str(path))
    assert config.base_dir == str(tmp_path)
    assert config.resolve_path(config.data.train) == str(tmp_path / "train.csv")


def test_load_config_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"config file not found: '.*nope\.yaml'"):
        tfmm.load_config(str(tmp_path / "nope.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("inputs: [\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml' is not valid YAML"):
        tfmm.load_config(str(bad))
    typo = tmp_path / "typo.yaml"
    typo.write_text("inputs: []\noutputs: []\ntraning: {}\n")
    with pytest.raises(
        ConfigError,
        match=r"typo\.yaml: traning: unknown key\. "
        r"Did you mean 'training'",
    ):
        tfmm.load_config(str(typo))


def test_overrides_by_name_and_index():
    config = tfmm.config_from_dict(
        _cfg(),
        overrides=[
            "training.epochs=3",
            "inputs.text.encoder.filters=7",
            "outputs.0.loss_weight=0.5",
            "data.train=/data/train.csv",
            "training.learning_rate=1e-4",
        ],
    )
    assert config.training.learning_rate == 1e-4
    assert config.training.epochs == 3
    assert config.inputs[0].encoder.filters == 7
    assert config.outputs[0].loss_weight == 0.5
    assert config.data.train == "/data/train.csv"


@pytest.mark.parametrize(
    "item, match",
    [
        ("training.epoks=3", r"training\.epoks: unknown key\. Did you mean 'epochs'"),
        ("inputs.nope.encoder.filters=3", r"--set inputs\.nope: no item named 'nope'"),
        ("training.epochs", r"--set expects key=value\. Received: 'training\.epochs'"),
        ("training.epochs=three", r"training\.epochs: expected an int\. Received: 'three'"),
    ],
)
def test_bad_overrides_are_refused_by_name(item, match):
    with pytest.raises(ConfigError, match=match):
        tfmm.config_from_dict(_cfg(), overrides=[item])


def test_to_dict_round_trips():
    config = tfmm.config_from_dict(_cfg())
    again = tfmm.config_from_dict(config.to_dict())
    assert again == config


def test_one_registration_makes_an_encoder_a_config_choice():
    from dataclasses import dataclass
    from typing import Literal

    from tfmm.encoders import registry
    from tfmm.schema import positive

    @dataclass
    class TinyConfig(registry.EncoderSpec):
        type: Literal["tiny"] = "tiny"
        width: int = 4

        def validate(self, path):
            positive(self, path, "width")

    def build_tiny(input_config, vocabulary=None, return_sequence=False):
        import keras

        name = "dense" if input_config.name == "misnamed" else registry.encoder_name(input_config)
        return keras.layers.Dense(input_config.encoder.width, name=name)

    try:
        registry.register_encoder("tiny", config=TinyConfig, modalities=("image",))(build_tiny)
        config = tfmm.config_from_dict(
            _cfg(
                inputs=[{"name": "photo", "type": "image", "encoder": {"type": "tiny", "width": 3}}]
            )
        )
        assert isinstance(config.inputs[0].encoder, TinyConfig)
        built = registry.build_encoder(config.inputs[0])
        assert (built.units, built.name) == (3, "photo_encoder")
        misnamed = tfmm.config_from_dict(
            _cfg(inputs=[{"name": "misnamed", "type": "image", "encoder": "tiny"}])
        ).inputs[0]
        with pytest.raises(
            ValueError,
            match=r"encoder 'tiny': its builder must name the "
            r"encoder 'misnamed_encoder' .* Received: "
            r"name='dense'",
        ):
            registry.build_encoder(misnamed)
        with pytest.raises(
            ConfigError,
            match=r"inputs\[0\]\.encoder\.width: must be "
            r"positive\. Received: width=0",
        ):
            tfmm.config_from_dict(
                _cfg(
                    inputs=[
                        {"name": "photo", "type": "image", "encoder": {"type": "tiny", "width": 0}}
                    ]
                )
            )
        with pytest.raises(
            ConfigError,
            match=r"encoder 'tiny' cannot read a text input; "
            r"allowed for text: \['tfidf', 'bert', 'hub', "
            r"'textcnn'\]",
        ):
            tfmm.config_from_dict(_cfg(inputs=[{"name": "t", "type": "text", "encoder": "tiny"}]))
        with pytest.raises(ValueError, match="encoder 'tiny' is already registered"):
            registry.register_encoder("tiny", config=TinyConfig, modalities=("image",))(build_tiny)
    finally:
        for table in (registry.ENCODERS, registry.ENCODER_CONFIGS, registry.ENCODER_MODALITIES):
            table.pop("tiny", None)
    with pytest.raises(ValueError, match="encoder 'other': its config's type is 'tiny'"):
        registry.register_encoder("other", config=TinyConfig, modalities=("image",))(build_tiny)
    with pytest.raises(ConfigError, match=r"unknown type 'tiny'"):
        tfmm.config_from_dict(_cfg(inputs=[{"name": "p", "type": "image", "encoder": "tiny"}]))


def test_a_config_is_validated_resolved_then_frozen():
    import dataclasses

    from tfmm.inputs import InputConfig

    config = tfmm.config_from_dict(_cfg(fusion={"type": "cross_attention"}))
    assert config.fusion.query == "text"  # resolved: the first text input
    assert config.inputs[0].column == "text"
    for part, key in (
        (config, "name"),
        (config.training, "epochs"),
        (config.fusion, "query"),
        (config.inputs[0], "column"),
        (config.inputs[0].encoder, "filters"),
        (config.data, "batch_size"),
    ):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(part, key, None)
    changed = dataclasses.replace(config, training=dataclasses.replace(config.training, epochs=3))
    assert (changed.training.epochs, config.training.epochs) == (3, 10)
    # validate checks without filling anything in; resolve returns the filled copy.
    raw = InputConfig("photo", "image")
    raw.validate("inputs[0]")
    assert (raw.column, raw.encoder) == (None, None)
    assert (raw.resolve().column, raw.resolve().encoder.type) == ("photo", "cnn")


def test_cross_attention_queries_with_the_first_text_input_by_default():
    two_texts = [
        dict(TINY_INPUTS["image"]),
        dict(TINY_INPUTS["text"], name="title"),
        dict(TINY_INPUTS["text"], name="body"),
    ]
    config = tfmm.config_from_dict(_cfg(inputs=two_texts, fusion={"type": "cross_attention"}))
    assert config.fusion.query == "title"
    no_text = [dict(TINY_INPUTS["audio"]), dict(TINY_INPUTS["image"])]
    config = tfmm.config_from_dict(_cfg(inputs=no_text, fusion={"type": "cross_attention"}))
    assert config.fusion.query == "audio"
    config = tfmm.config_from_dict(
        _cfg(inputs=two_texts, fusion={"type": "cross_attention", "query": "body"})
    )
    assert config.fusion.query == "body"


def test_auto_optimizer_follows_the_encoders_and_the_learning_rate():
    text = {"name": "note", "type": "text"}
    table = {"name": "facts", "type": "tabular", "numeric": ["x"]}
    image = {"name": "photo", "type": "image"}

    def training(inputs, **t):
        c = tfmm.config_from_dict(_cfg(inputs=inputs, training=t))
        return c.training.optimizer, c.training.learning_rate

    # A bag of n-grams, alone or with the table's mlp (either optimizer): SGD at 0.03.
    assert training([text, table]) == ("sgd", 0.03)
    assert training([text]) == ("sgd", 0.03)
    # The table alone: AdamW, as before.
    assert training([table]) == ("adamw", 3e-3)
    # Any other encoder, or a token-level fusion's textcnn: AdamW at 3e-3.
    assert training([text, image]) == ("adamw", 3e-3)
    assert training([{**text, "encoder": "textcnn"}, table]) == ("adamw", 3e-3)
    assert training([{**table, "encoder": "ft_transformer"}]) == ("adamw", 3e-3)
    # A learning rate given without an optimizer keeps AdamW (as before "auto").
    assert training([text, table], learning_rate=1e-3) == ("adamw", 1e-3)
    # An optimizer given without a learning rate gets that optimizer's default rate.
    assert training([text, image], optimizer="sgd") == ("sgd", 0.03)
    assert training([text, table], optimizer="adam") == ("adam", 3e-3)
    with pytest.raises(ConfigError, match=r"training\.learning_rate: must be positive"):
        training([text], learning_rate=0.0)
