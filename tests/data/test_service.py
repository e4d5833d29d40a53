"""tf.data service: a dispatcher and two worker processes on 127.0.0.1 feed training."""

import csv
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

import tfmm
from tfmm.cli import main
from tests.helpers import tiny_demo_dict


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@pytest.fixture(scope="module")
def service():
    """`tfmm data serve`: a dispatcher and two workers, ended when the module is done."""
    port = _free_port()
    serve = [sys.executable, "-m", "tfmm.cli", "data", "serve"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    procs = [subprocess.Popen(serve + ["--dispatcher", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)]
    try:
        _wait_for(port)
        for _ in range(2):
            worker_port = _free_port()
            procs.append(subprocess.Popen(
                serve + ["--worker", "--dispatcher-address", f"127.0.0.1:{port}",
                         "--port", str(worker_port), "--host", "127.0.0.1"],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
            _wait_for(worker_port)
        yield f"grpc://127.0.0.1:{port}"
    finally:
        for p in procs:
            p.kill()
            p.wait(timeout=30)


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
    local = {int(y["idx"].numpy().ravel()[0]): x for x, y in tfmm.data.make_dataset(
        local_config, str(path), vocabs, training=False, batch_size=1)}
    for x, y in ds.take(3):
        want = local[int(y["idx"].numpy().ravel()[0])]
        for k in want:
            np.testing.assert_allclose(x[k].numpy(), want[k].numpy(), atol=1e-5)


def test_training_through_the_service_finishes(service, train_data, tmp_path):
    from tests.helpers import write_tiny_train_config

    config = write_tiny_train_config(tmp_path, train_data, epochs=1,
                                     data={"service": service})
    assert main(["train", config, "--out", str(tmp_path / "run")]) == 0
    assert os.path.exists(tmp_path / "run" / "model.keras")


def test_a_bad_service_address_is_refused_by_key():
    with pytest.raises(tfmm.config.ConfigError,
                       match=r"data\.service: expected grpc://HOST:PORT .* Received: 'http://x'"):
        tfmm.config_from_dict({"inputs": [{"name": "t", "type": "text"}],
                               "outputs": [{"name": "l", "labels": ["a", "b"]}],
                               "data": {"service": "http://x"}})
