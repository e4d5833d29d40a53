"""Contrastive and masked-LM pretraining, and `training.init_from`."""

import dataclasses
import json
import os

import numpy as np
import pytest

import tfmm
from tests.helpers import run_on_two_logical_cpus, run_tfmm, write_tiny_train_config
from tfmm.pretraining import info_nce, retrieval_recall


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_contrastive_loss_is_lower_on_aligned_than_on_shuffled_pairs():
    rng = np.random.default_rng(0)
    text = _unit(rng.normal(size=(16, 8))).astype("float32")
    image = _unit(text + 0.05 * rng.normal(size=text.shape)).astype("float32")
    aligned = float(np.mean(info_nce(text, image, 10.0)))
    shuffled = float(np.mean(info_nce(text, image[rng.permutation(16)], 10.0)))
    # Aligned pairs: near zero. Shuffled: near or above chance, log(16) = 2.77.
    assert aligned < 0.25 and shuffled > 1.5


def test_global_negatives_split_across_replicas_equal_one_device():
    """Each replica's rows, scored against the gathered batch, give exactly the rows of
    the one-device loss: the loss of a global batch does not depend on the split."""
    rng = np.random.default_rng(1)
    a = _unit(rng.normal(size=(8, 4))).astype("float32")
    b = _unit(rng.normal(size=(8, 4))).astype("float32")
    whole = np.asarray(info_nce(a, b, 5.0))
    for replica in (0, 1):
        rows = slice(4 * replica, 4 * replica + 4)
        part = np.asarray(
            info_nce(
                a[rows], b[rows], 5.0, anchor_all=a, other_all=b, labels=np.arange(4) + 4 * replica
            )
        )
        np.testing.assert_allclose(part, whole[rows], rtol=1e-5)


def test_retrieval_recall():
    e = np.eye(6, dtype="float32")
    assert retrieval_recall(e, e) == {"recall@1": 1.0, "recall@5": 1.0}
    shifted = e[[1, 2, 3, 4, 5, 0]]
    assert retrieval_recall(e, shifted)["recall@1"] == 0.0


@pytest.mark.slow
def test_contrastive_pretraining_initialises_training(train_data, tmp_path):
    config_path = write_tiny_train_config(
        tmp_path, train_data, modalities=("text", "audio"), epochs=2
    )
    pre = str(tmp_path / "pre")
    code, out = run_tfmm(
        [
            "pretrain",
            config_path,
            "--objective",
            "contrastive",
            "--out",
            pre,
            "--projection-dim",
            "8",
        ]
    )
    assert code == 0, out
    summary = json.load(open(os.path.join(pre, "pretrain.json")))
    assert summary["objective"] == "contrastive"
    assert summary["encoders"] == ["audio", "text"]
    # Three validation rows: any ranking finds the pair in its top 5 (what the
    # objective learns is tested on data made for it, below).
    metrics = summary["metrics"]
    assert metrics["n"] == 3 and metrics["eval_split"] == "val"
    assert metrics["text_to_audio_recall@5"] == metrics["audio_to_text_recall@5"] == 1.0
    assert metrics["text_to_audio_recall@1"] * 3 in (0.0, 1.0, 2.0, 3.0)
    assert len(open(os.path.join(pre, "history.csv")).read().splitlines()) == 3

    # The encoders of a model built for training start from exactly these weights.
    config = tfmm.load_config(config_path, overrides=[f"training.init_from={pre}"])
    vocabs = json.load(open(os.path.join(pre, "vocabularies.json")))
    model = tfmm.build_model(_with_labels(config), vocabs)
    done = tfmm.pretraining.initialise_from(model, config, pre, log=lambda *a: None)
    assert done == ["text", "audio"]
    with np.load(os.path.join(pre, "encoders", "audio.weights.npz")) as saved:
        for k, w in enumerate(model.get_layer("audio_encoder").get_weights()):
            np.testing.assert_array_equal(w, saved[f"w{k:04d}"])

    # And `tfmm train` with init_from runs, logging what it initialised.
    run = str(tmp_path / "run")
    code, out = run_tfmm(
        [
            "train",
            config_path,
            "--out",
            run,
            "--set",
            f"training.init_from={pre}",
            "--set",
            "training.epochs=1",
        ]
    )
    assert code == 0, out
    assert "encoders initialised from" in out and "text, audio" in out


@pytest.mark.slow
def test_init_from_names_the_input_whose_encoder_differs(train_data, tmp_path):
    config_path = write_tiny_train_config(
        tmp_path, train_data, modalities=("text", "audio"), epochs=1
    )
    pre = str(tmp_path / "pre")
    tfmm.pretraining.pretrain(tfmm.load_config(config_path), pre, log=lambda *a: None, verbose=0)
    config = tfmm.load_config(config_path, overrides=["inputs.audio.encoder.units=[5]"])
    model = tfmm.build_model(_with_labels(config))
    with pytest.raises(
        ValueError,
        match=r"input 'audio': weight .*lstm.* has shape "
        r"\(8, 20\) but .*audio\.weights\.npz holds \(8, 16\)",
    ):
        tfmm.pretraining.initialise_from(model, config, pre)
    with pytest.raises(FileNotFoundError, match=r"init_from: no directory"):
        tfmm.pretraining.initialise_from(model, config, str(tmp_path / "nothing"))


def _with_labels(config):
    for o in config.outputs:
        o.labels = o.labels or [f"c{k}" for k in range(8)]
    return config


VOCAB = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "a",
    "red",
    "blue",
    "green",
    "square",
    "circle",
    "triangle",
    "small",
    "large",
    "of",
    "the",
    "and",
    "with",
]


@pytest.mark.slow
def test_mlm_pretraining_of_a_bert_encoder(train_data, tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(VOCAB) + "\n")
    bert = {
        "type": "bert",
        "vocabulary": str(vocab),
        "num_layers": 1,
        "num_heads": 2,
        "hidden_dim": 8,
        "intermediate_dim": 16,
        "sequence_length": 12,
        "max_sequence_length": 16,
    }
    config_path = write_tiny_train_config(
        tmp_path,
        train_data,
        modalities=("text", "audio"),
        epochs=2,
        inputs={"text": {"encoder": bert}},
    )
    config = tfmm.load_config(config_path)
    pre = str(tmp_path / "mlm")
    metrics = tfmm.pretraining.pretrain(
        config, pre, objective="mlm", log=lambda *a: None, verbose=0
    )
    # What the objective learns is tested on data made for it, below.
    assert sorted(metrics) == ["val_loss", "val_masked_accuracy"]
    assert np.isfinite(metrics["val_loss"]) and metrics["val_loss"] > 0
    assert sorted(os.listdir(os.path.join(pre, "encoders"))) == ["text.weights.npz"]
    # The pretrained backbone differs from a fresh one and loads into the train model.
    model = tfmm.build_model(_with_labels(tfmm.load_config(config_path)))
    fresh = [w.copy() for w in model.get_layer("text_encoder").get_weights()]
    tfmm.pretraining.initialise_from(model, config, pre, log=lambda *a: None)
    loaded = model.get_layer("text_encoder").get_weights()
    assert any(not np.allclose(a, b) for a, b in zip(fresh, loaded))
    with pytest.raises(ValueError, match=r"mlm pretrains one bert text encoder"):
        tfmm.pretraining.pretrain(
            tfmm.load_config(config_path, overrides=["inputs.text.encoder={type: textcnn}"]),
            str(tmp_path / "x"),
            objective="mlm",
        )


def test_contrastive_pretraining_learns_to_retrieve_the_paired_image(tmp_path):
    """Eight captions, each paired with one solid colour. A correct contrastive
    objective learns which colour goes with which caption: retrieval on 8 distinct
    validation pairs far above chance (recall@1 1/8)."""
    import csv

    import yaml
    from PIL import Image

    colours = [
        (230, 20, 20),
        (20, 200, 30),
        (20, 40, 230),
        (240, 240, 20),
        (20, 220, 220),
        (220, 20, 220),
        (250, 250, 250),
        (10, 10, 10),
    ]
    words = ["red", "green", "blue", "yellow", "cyan", "magenta", "white", "black"]
    for k, c in enumerate(colours):
        Image.fromarray(np.full((8, 8, 3), c, np.uint8)).save(tmp_path / f"{k}.png")
    for split, repeats in (("train", 8), ("val", 1)):
        with open(tmp_path / f"{split}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["caption", "image_path", "label"])
            w.writerows(
                [[f"a {words[k]} thing", f"{k}.png", "x"] for _ in range(repeats) for k in range(8)]
            )
    cfg = {
        "name": "clip",
        "inputs": [
            {
                "name": "text",
                "type": "text",
                "column": "caption",
                "encoder": {
                    "type": "textcnn",
                    "vocab_size": 50,
                    "sequence_length": 4,
                    "embedding_dim": 8,
                    "kernel_sizes": [1],
                    "filters": 8,
                    "dropout": 0.0,
                },
            },
            {
                "name": "image",
                "type": "image",
                "column": "image_path",
                "image_size": 8,
                "encoder": {"type": "cnn", "filters": [8]},
            },
        ],
        "outputs": [{"name": "label", "type": "multiclass", "column": "label"}],
        "data": {
            "train": str(tmp_path / "train.csv"),
            "val": str(tmp_path / "val.csv"),
            "batch_size": 8,
        },
        "training": {"epochs": 25, "learning_rate": 1e-2},
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    metrics = tfmm.pretraining.pretrain(
        tfmm.load_config(str(tmp_path / "c.yaml")),
        str(tmp_path / "pre"),
        projection_dim=8,
        log=lambda *a: None,
        verbose=0,
    )
    assert metrics["n"] == 8
    assert metrics["text_to_image_recall@1"] >= 0.5, metrics
    assert metrics["image_to_text_recall@1"] >= 0.5, metrics

    # `tfmm embed` reads the same shared space: unit vectors whose retrieval is the
    # run's own (ranks worked here, not by retrieval_recall).
    from tfmm.embeddings import embed

    emb = embed(str(tmp_path / "pre"), str(tmp_path / "val.csv"), keep_columns=["caption"])
    assert emb.space == "shared" and sorted(emb.vectors) == ["image", "text"]
    assert emb.columns["caption"] == [f"a {w} thing" for w in words]
    t, i = emb.vectors["text"], emb.vectors["image"]
    np.testing.assert_allclose(np.linalg.norm(t, axis=1), 1.0, rtol=1e-5)
    sims = t @ i.T
    top = sims.argmax(1)
    assert np.mean(top == np.arange(8)) == pytest.approx(metrics["text_to_image_recall@1"])

    # `tfmm search`: a caption encoded alone is the vector `embed` wrote for it, and the
    # search ranks the images by it (exact cosine, best first).
    from tfmm.search import Index, encode

    q = encode(str(tmp_path / "pre"), "text", ["a blue thing", "a black thing"])
    np.testing.assert_allclose(q / np.linalg.norm(q, axis=1, keepdims=True), t[[2, 7]], atol=1e-5)
    emb.save(str(tmp_path / "val.npz"))
    hits = Index(str(tmp_path / "val.npz"), "image").search(q, k=8)
    assert [h["row"] for h in hits[0]] == list(np.argsort(-sims[2], kind="stable") + 1)
    assert hits[1][0]["caption"] == f"a {words[sims[7].argmax()]} thing"
    code, out = run_tfmm(
        [
            "search",
            str(tmp_path / "val.npz"),
            "--in",
            "image",
            "--run",
            str(tmp_path / "pre"),
            "--text",
            "a blue thing",
            "--k",
            "3",
        ]
    )
    assert code == 0, out
    lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    assert [h["row"] for h in lines] == [h["row"] for h in hits[0][:3]]
    assert [h["rank"] for h in lines] == [1, 2, 3]
    # tfmm evaluate of the pretraining run: recall@k in each direction, and chance.
    code, out = run_tfmm(
        ["evaluate", str(tmp_path / "pre"), "--manifest", str(tmp_path / "val.csv"), "--json"]
    )
    assert code == 0, out
    report = json.loads(out[out.index("{") : out.rindex("}") + 1])
    assert report["random"] == {"recall@1": 1 / 8, "recall@5": 5 / 8, "recall@10": 1.0}
    assert report["text_to_image"]["recall@1"] == pytest.approx(np.mean(top == np.arange(8)))
    ranks = (sims.T >= np.diag(sims)[:, None]).sum(1) - 1
    assert report["image_to_text"]["recall@5"] == pytest.approx(np.mean(ranks < 5))


def test_mlm_learns_to_fill_in_a_predictable_word(tmp_path):
    """Every text is the same sentence, so a masked token is the word its position
    holds. A correct masked LM learns it within a few epochs; chance is 1 in 18 tokens
    (and the loss, the mean over masked tokens, starts near ln 18 = 2.9)."""
    import csv

    import yaml

    sentence = " ".join(VOCAB[5:13])
    for split, n in (("train", 64), ("val", 64)):
        with open(tmp_path / f"{split}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["caption", "label"])
            w.writerows([[sentence, "x"]] * n)
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(VOCAB) + "\n")
    cfg = {
        "name": "mlm",
        "inputs": [
            {
                "name": "text",
                "type": "text",
                "column": "caption",
                "encoder": {
                    "type": "bert",
                    "vocabulary": str(vocab),
                    "num_layers": 1,
                    "num_heads": 2,
                    "hidden_dim": 16,
                    "intermediate_dim": 32,
                    "sequence_length": 12,
                    "max_sequence_length": 16,
                    "dropout": 0.0,
                },
            }
        ],
        "outputs": [{"name": "label", "type": "multiclass", "column": "label"}],
        "data": {
            "train": str(tmp_path / "train.csv"),
            "val": str(tmp_path / "val.csv"),
            "batch_size": 8,
        },
        "training": {"epochs": 8, "learning_rate": 3e-3},
    }
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    metrics = tfmm.pretraining.pretrain(
        tfmm.load_config(str(tmp_path / "c.yaml")),
        str(tmp_path / "pre"),
        objective="mlm",
        log=lambda *a: None,
        verbose=0,
    )
    assert metrics["val_masked_accuracy"] > 0.9, metrics
    # The loss falls from about ln 18 (a mean over the padding slots of the masks as well
    # would start near half of it) and keeps falling after the accuracy saturates.
    with open(tmp_path / "pre" / "history.csv") as f:
        losses = [float(r["loss"]) for r in csv.DictReader(f)]
    assert losses[0] > 2.3 and metrics["val_loss"] < 1.0 and losses[-1] < losses[0] - 1.5


MIRRORED_SCRIPT = """
import csv, json, logging, sys
import tfmm
# tfmm's messages (the `tfmm` logger) on stdout, as a script shows them.
logging.basicConfig(level="INFO", stream=sys.stdout, format="%(message)s")
config_path, out = sys.argv[1], sys.argv[2]
histories = {}
for strategy, per_replica in (("default", 8), ("mirrored", 4)):
    config = tfmm.load_config(config_path, overrides=[
        f"training.strategy={strategy}", f"data.batch_size={per_replica}",
        "data.deterministic=true"])
    tfmm.pretraining.pretrain(config, f"{out}/{strategy}", verbose=0)
    with open(f"{out}/{strategy}/history.csv") as f:
        histories[strategy] = [float(r["loss"]) for r in csv.DictReader(f)]
print("RESULT " + json.dumps(histories))
"""


@pytest.mark.slow
def test_contrastive_negatives_are_global_across_replicas(train_data, tmp_path):
    """Two replicas of 4 with negatives gathered from both give the losses of one device
    with a batch of 8 (with only local negatives, each row would have 3, not 7)."""
    config = write_tiny_train_config(tmp_path, train_data, epochs=3)
    h, stdout = run_on_two_logical_cpus(MIRRORED_SCRIPT, [config, str(tmp_path)], tmp_path)
    assert "global batch 8 (in-batch negatives: 7 per example)" in stdout
    assert len(h["default"]) == len(h["mirrored"]) == 3
    for one, two in zip(h["default"], h["mirrored"]):
        assert two == pytest.approx(one, rel=1e-4)
    assert h["default"][-1] < h["default"][0]


def test_init_from_encoders_count_as_pretrained_for_freezing(tmp_path):
    from tfmm.training.setup import pretrained_encoders

    run = tmp_path / "pre"
    (run / "encoders").mkdir(parents=True)
    (run / "encoders" / "audio.weights.npz").write_bytes(b"")
    config = tfmm.config_from_dict(
        {
            "inputs": [{"name": "text", "type": "text"}, {"name": "audio", "type": "audio"}],
            "outputs": [{"name": "y", "labels": ["a", "b"]}],
            "training": {"init_from": str(run), "freeze_pretrained_epochs": 1},
        }
    )
    assert pretrained_encoders(config) == ["audio_encoder"]
    config = dataclasses.replace(
        config, training=dataclasses.replace(config.training, init_from=None)
    )
    assert pretrained_encoders(config) == []


class _Killed(Exception):
    pass


def test_contrastive_pretraining_resumes_after_an_interruption(train_data, tmp_path, monkeypatch):
    # Killed after epoch 1's backup, the same call resumes at epoch 2 from the backup's
    # weights and optimizer step; the history is one run of 3 epochs.
    import csv

    import keras

    from tfmm.pretraining import loop

    config_path = write_tiny_train_config(
        tmp_path, train_data, modalities=("text", "audio"), epochs=3
    )
    seen = {"epochs": [], "begin": []}

    class Probe(keras.callbacks.Callback):
        def __init__(self, kill):
            super().__init__()
            self.kill = kill

        def on_train_begin(self, logs=None):
            seen["begin"].append(
                (
                    [w.copy() for w in self.model.get_weights()],
                    int(self.model.optimizer.iterations.numpy()),
                )
            )

        def on_epoch_end(self, epoch, logs=None):
            seen["epochs"].append(epoch)
            if self.kill and epoch == 0:
                seen["kill"] = (
                    [w.copy() for w in self.model.get_weights()],
                    int(self.model.optimizer.iterations.numpy()),
                )
                raise _Killed()

    original = loop._callbacks
    pre = str(tmp_path / "pre")
    for kill in (True, False):
        monkeypatch.setattr(loop, "_callbacks", lambda *a, kill=kill: original(*a) + [Probe(kill)])
        config = tfmm.load_config(config_path)
        if kill:
            with pytest.raises(_Killed):
                tfmm.pretraining.pretrain(
                    config,
                    pre,
                    objective="contrastive",
                    projection_dim=8,
                    log=lambda *a: None,
                    verbose=0,
                )
        else:
            tfmm.pretraining.pretrain(
                config,
                pre,
                objective="contrastive",
                projection_dim=8,
                log=lambda *a: None,
                verbose=0,
            )
    assert seen["epochs"] == [0, 1, 2]
    weights, step = seen["begin"][1]
    assert step == seen["kill"][1] > 0
    for a, b in zip(weights, seen["kill"][0]):
        np.testing.assert_array_equal(a, b)
    with open(os.path.join(pre, "history.csv")) as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [0, 1, 2]
    assert os.path.exists(os.path.join(pre, "encoders", "text.weights.npz"))


def test_a_tabular_input_takes_part_in_contrastive_pretraining_and_init_from(tmp_path):
    from tests.helpers import table_config_dict, write_table

    for split, n, seed in (("train", 40, 0), ("val", 16, 1), ("test", 8, 2)):
        write_table(tmp_path / f"{split}.csv", n=n, seed=seed, hostile=split == "test")
    cfg = tfmm.config_from_dict(table_config_dict(tmp_path, epochs=2))
    pre = str(tmp_path / "pre")
    metrics = tfmm.pretraining.pretrain(cfg, pre, projection_dim=4, log=lambda *a: None, verbose=0)
    assert "note_to_facts_recall@1" in metrics and "facts_to_note_recall@5" in metrics
    summary = json.load(open(os.path.join(pre, "pretrain.json")))
    assert summary["encoders"] == ["facts", "note"]
    # Its shared space holds the table's rows too, empty cells and unseen categories included.
    from tfmm.embeddings import embed

    emb = embed(pre, str(tmp_path / "test.csv"))
    assert emb.vectors["facts"].shape == (8, 4)
    np.testing.assert_allclose(np.linalg.norm(emb.vectors["facts"], axis=1), 1.0, rtol=1e-5)
    # A model built for training starts from the pretrained table encoder.
    config = dataclasses.replace(cfg, training=dataclasses.replace(cfg.training, init_from=pre))
    vocabs = json.load(open(os.path.join(pre, "vocabularies.json")))
    model = tfmm.build_model(config, vocabs)
    done = tfmm.pretraining.initialise_from(model, config, pre, log=lambda *a: None)
    assert "facts" in done
    with np.load(os.path.join(pre, "encoders", "facts.weights.npz")) as saved:
        for k, w in enumerate(model.get_layer("facts_encoder").get_weights()):
            np.testing.assert_array_equal(w, saved[f"w{k:04d}"])


def test_contrastive_pretraining_sees_another_view_of_an_input_with_augment_on(
    train_data, tmp_path
):
    """`inputs[].augment` reaches the pretrainer: in training each call sees another view
    of the augmented image (and the same text); outside training, the same embeddings;
    saved and loaded, the augmenter comes back with the model."""
    import keras

    from tests.helpers import tiny_demo_dict
    from tfmm.data import Manifest, fit_text_vocabularies, make_dataset
    from tfmm.pretraining import build_pretrainer

    def pretrainer(augment):
        keras.utils.set_random_seed(0)
        cfg = tiny_demo_dict(train_data, ("text", "image"), inputs={"image": {"augment": augment}})
        config = tfmm.config_from_dict(cfg)
        train = config.resolve_path(config.data.train)
        vocabularies = fit_text_vocabularies(config, Manifest(train))
        model = build_pretrainer(config, vocabularies, projection_dim=4)
        batch = next(iter(make_dataset(config, train, vocabularies, with_labels=False)))
        return model, batch

    model, batch = pretrainer(True)
    a, b = model(batch, training=True), model(batch, training=True)
    assert np.abs(np.asarray(a["image"]) - np.asarray(b["image"])).max() > 1e-3
    np.testing.assert_allclose(a["text"], b["text"], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(model(batch)["image"], model(batch)["image"])

    path = str(tmp_path / "pretrainer.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.augmenters["image"]).__name__ == "ImageAugmentation"
    np.testing.assert_allclose(loaded(batch)["image"], model(batch)["image"], rtol=1e-5, atol=1e-6)

    plain, batch = pretrainer(False)
    assert plain.augmenters == {}
    a, b = plain(batch, training=True), plain(batch, training=True)
    np.testing.assert_allclose(a["image"], b["image"], rtol=1e-5, atol=1e-6)


def test_contrastive_pretraining_locks_a_pretrained_tower(train_data, tmp_path):
    """LiT: `training.init_from` a run that trained the audio encoder, with
    `freeze_pretrained_epochs` = `epochs`: the audio encoder comes out of pretraining
    exactly as the run left it, while without the lock the same pretraining moves it."""
    import keras

    from tests.helpers import tiny_demo_dict
    from tfmm.training import train
    from tfmm.training.setup import pretrained_encoders

    audio_run = str(tmp_path / "audio_run")
    keras.utils.clear_session()
    train(
        tfmm.config_from_dict(tiny_demo_dict(train_data, ("audio",), epochs=1)),
        audio_run,
        log=lambda *a: None,
        verbose=0,
    )
    source = keras.saving.load_model(os.path.join(audio_run, "model.keras"))
    tower = source.get_layer("audio_encoder").get_weights()

    def pretrain(out, freeze):
        cfg = tiny_demo_dict(train_data, ("text", "audio"), epochs=2)
        cfg["training"].update(init_from=audio_run, freeze_pretrained_epochs=freeze)
        config = tfmm.config_from_dict(cfg)
        logged = []
        keras.utils.clear_session()
        tfmm.pretraining.pretrain(config, str(tmp_path / out), log=logged.append, verbose=0)
        with np.load(str(tmp_path / out / "encoders" / "audio.weights.npz")) as saved:
            return [saved[f"w{k:04d}"] for k in range(len(tower))], logged, config

    locked, logged, config = pretrain("locked", 2)
    # Only the audio encoder is the run's: the text input it never had stays trainable.
    assert pretrained_encoders(config) == ["audio_encoder"]
    assert any("locked (pretrained, not trained): audio_encoder" in m for m in logged)
    for got, want in zip(locked, tower):
        np.testing.assert_array_equal(got, want)
    moved, _, _ = pretrain("unlocked", 0)
    assert max(np.abs(g - w).max() for g, w in zip(moved, tower)) > 1e-6

    cfg = tiny_demo_dict(train_data, ("text", "audio"), epochs=2)
    cfg["training"].update(init_from=audio_run, freeze_pretrained_epochs=1)
    with pytest.raises(ValueError, match=r"0 or training.epochs \(2\).*Received: freeze_pre"):
        tfmm.pretraining.pretrain(
            tfmm.config_from_dict(cfg), str(tmp_path / "half"), log=lambda *a: None, verbose=0
        )
    # A pretraining run that has both encoders would lock everything: refused.
    cfg["training"].update(init_from=str(tmp_path / "locked"), freeze_pretrained_epochs=2)
    with pytest.raises(ValueError, match=r"every encoder is locked \(text_encoder, audio_"):
        tfmm.pretraining.pretrain(
            tfmm.config_from_dict(cfg), str(tmp_path / "all"), log=lambda *a: None, verbose=0
        )
