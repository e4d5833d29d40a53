"""tf.data service: a dispatcher and two worker processes on 127.0.0.1 feed training."""

import csv
import os

import numpy as np
import pytest

import tfmm
from tfmm.cli import main
from tests.helpers import tiny_demo_dict


@pytest.fixture(scope="module")
def service():
    """`tfmm data serve`: a dispatcher and two worker processes, ended after the module."""
    from tfmm.data.service import start_local_service, stop_local_service

    address, procs = start_local_service(workers=2)
    yield address
    stop_local_service(procs)


def _indexed_manifest(train_data, tmp_path):
    """train.csv with an `idx` column: each row's number, to see which rows arrive."""
    with open(train_data / "train.csv", newline="") as f:
        rows = list(csv.reader(f))
    rows[0].append("idx")
    for k, row in enumerate(rows[1:], start=1):
        row.append(str(k))
        for j, name in enumerate(rows[0]):
            if name.endswith("_path"):
                row[j] = str(train_data / row[j])
    path = tmp_path / "indexed.csv"
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path, len(rows) - 1


def test_each_row_arrives_once_per_epoch_through_two_workers(service, train_data, tmp_path):
    path, n = _indexed_manifest(train_data, tmp_path)
    cfg = tiny_demo_dict(train_data, modalities=("text", "image", "audio"))
    cfg["outputs"] = [{"name": "idx", "type": "regression", "column": "idx"}]
    cfg["data"].update(train=str(path), service=service)
    config = tfmm.config_from_dict(cfg)
    vocabs = tfmm.data.fit_preprocessing(config, tfmm.data.Manifest(str(path)))
    ds = tfmm.data.make_dataset(config, str(path), vocabs, training=True, batch_size=1)
    assert b"DataServiceDataset" in ds._as_serialized_graph().numpy()  # not read here
    for _ in range(2):  # two epochs, two iterators
        seen = [int(y["idx"].numpy().ravel()[0]) for _, y in ds]
        assert sorted(seen) == list(range(1, n + 1))
    # The same decoded tensors as the local pipeline (by row).
    local_config = tfmm.config_from_dict(dict(cfg, data=dict(cfg["data"], service=None)))
    local = {
        int(y["idx"].numpy().ravel()[0]): x
        for x, y in tfmm.data.make_dataset(
            local_config, str(path), vocabs, training=False, batch_size=1
        )
    }
    for x, y in ds.take(3):
        want = local[int(y["idx"].numpy().ravel()[0])]
        for k in want:
            np.testing.assert_allclose(x[k].numpy(), want[k].numpy(), atol=1e-5)


def test_training_through_the_service_finishes(service, train_data, tmp_path):
    from tests.helpers import write_tiny_train_config

    config = write_tiny_train_config(tmp_path, train_data, epochs=1, data={"service": service})
    assert main(["train", config, "--out", str(tmp_path / "run")]) == 0
    assert os.path.exists(tmp_path / "run" / "model.keras")


def test_a_bad_service_address_is_refused_by_key():
    from tfmm.config import ConfigError

    with pytest.raises(
        ConfigError, match=r"data\.service: expected grpc://HOST:PORT .* Received: 'localhost'"
    ):
        tfmm.config_from_dict(
            {
                "inputs": [{"name": "t", "type": "text"}],
                "outputs": [{"name": "l", "labels": ["a", "b"]}],
                "data": {"service": "localhost"},
            }
        )
