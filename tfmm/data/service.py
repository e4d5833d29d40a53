"""tf.data service: the training input pipeline's decoding on other processes or machines.

TensorFlow's own engine (`tf.data.experimental.service`): a dispatcher hands out the
work, and workers run the pipeline's reading and decoding and send the decoded examples
to the trainer. With `data.service: grpc://HOST:PORT` in a config, `make_dataset` sends
its training pipeline there in the dynamic-sharding mode (each example once per epoch,
whichever worker reads it); evaluation and prediction stay local. Start the servers with

    tfmm data serve --dispatcher --port 5050
    tfmm data serve --worker --dispatcher-address HOST:5050 [--port 5051]

Every worker reads the manifest's media paths itself: they must resolve to the same files
on every machine (shared storage, or the same copy at the same path).

Example (a dispatcher and two workers as processes on this machine):

```python
from tfmm.data.service import start_local_service, stop_local_service
address, procs = start_local_service(workers=2)   # data.service: address
...
stop_local_service(procs)
```
"""

import re

import tensorflow as tf

_ADDRESS = re.compile(r"^(grpc://)?[A-Za-z0-9_.\-\[\]:]+:\d+$")


def check_address(address, key="data.service"):
    """`address` as tf.data takes it (`grpc://HOST:PORT`); raises ValueError naming `key`."""
    if not isinstance(address, str) or not _ADDRESS.match(address):
        raise ValueError(
            f"{key}: expected grpc://HOST:PORT (a tf.data service "
            f"dispatcher). Received: {address!r}"
        )
    return address if address.startswith("grpc://") else f"grpc://{address}"


def distribute(ds, address, job_name=None):
    """Runs `ds` (everything applied to it so far) on the service's workers, each element
    once per pass over `ds` (dynamic sharding: the dispatcher hands out the source's
    elements as workers ask for them). `job_name`: consumers that give the same name share
    one job's elements (several trainer processes); None, a job of this consumer alone."""
    service = tf.data.experimental.service
    # No compression: decoded pixels and samples barely compress, and compressing them
    # on the worker and back on the trainer cost more than the decoding.
    return ds.apply(
        service.distribute(
            processing_mode=service.ShardingPolicy.DYNAMIC,
            service=check_address(address),
            job_name=job_name,
            compression=None,
        )
    )


def start_dispatcher(port=0):
    """A dispatcher on `port` (0: a free one); its address is `.target`."""
    service = tf.data.experimental.service
    return service.DispatchServer(service.DispatcherConfig(port=port))


def start_worker(dispatcher_address, port=0, host="localhost"):
    """A worker serving the dispatcher at `dispatcher_address` (HOST:PORT) on `port` (0: a
    free one), reachable by trainers at `host`."""
    service = tf.data.experimental.service
    address = check_address(dispatcher_address, "--dispatcher-address").split("://", 1)[1]
    return service.WorkerServer(
        service.WorkerConfig(dispatcher_address=address, worker_address=f"{host}:%port%", port=port)
    )


def _free_port(host):
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _wait_for(host, port, timeout):
    import socket
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"tf.data service: nothing listens on {host}:{port} after {timeout} s")


def start_local_service(workers=2, host="127.0.0.1", timeout=60):
    """Starts `tfmm data serve` processes on this machine: a dispatcher and `workers`
    workers on free ports. Returns (the `data.service` address, the processes); end
    them with `stop_local_service`. For trying the service out, tests and benchmarks."""
    import os
    import subprocess
    import sys

    serve = [sys.executable, "-m", "tfmm.cli", "data", "serve"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    port = _free_port(host)
    procs = []
    try:
        procs.append(
            subprocess.Popen(
                serve + ["--dispatcher", "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        _wait_for(host, port, timeout)
        for _ in range(workers):
            worker_port = _free_port(host)
            procs.append(
                subprocess.Popen(
                    serve
                    + [
                        "--worker",
                        "--dispatcher-address",
                        f"{host}:{port}",
                        "--port",
                        str(worker_port),
                        "--host",
                        host,
                    ],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            _wait_for(host, worker_port, timeout)
    except BaseException:
        stop_local_service(procs)
        raise
    return f"grpc://{host}:{port}", procs


def stop_local_service(procs):
    """Ends the processes of `start_local_service`."""
    for p in procs:
        p.kill()
    for p in procs:
        p.wait(timeout=30)
