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

Example (three processes on one machine):

```python
from tfmm.data.service import start_dispatcher, start_worker
dispatcher = start_dispatcher(port=0)
workers = [start_worker(dispatcher.target.split("://")[1]) for _ in range(2)]
# then data.service: dispatcher.target in the config
```
"""

import re

import tensorflow as tf

_ADDRESS = re.compile(r"^(grpc://)?[A-Za-z0-9_.\-\[\]:]+:\d+$")


def check_address(address, key="data.service"):
    """`address` as tf.data takes it (`grpc://HOST:PORT`); raises ValueError naming `key`."""
    if not isinstance(address, str) or not _ADDRESS.match(address):
        raise ValueError(f"{key}: expected grpc://HOST:PORT (a tf.data service "
                         f"dispatcher). Received: {address!r}")
    return address if address.startswith("grpc://") else f"grpc://{address}"


def distribute(ds, address, job_name=None):
    """Runs `ds` (everything applied to it so far) on the service's workers, each element
    once per pass over `ds` (dynamic sharding: the dispatcher hands out the source's
    elements as workers ask for them). `job_name`: consumers that give the same name share
    one job's elements (several trainer processes); None, a job of this consumer alone."""
    service = tf.data.experimental.service
    return ds.apply(service.distribute(processing_mode=service.ShardingPolicy.DYNAMIC,
                                       service=check_address(address), job_name=job_name))


def start_dispatcher(port=0):
    """A dispatcher on `port` (0: a free one); its address is `.target`."""
    service = tf.data.experimental.service
    return service.DispatchServer(service.DispatcherConfig(port=port))


def start_worker(dispatcher_address, port=0, host="localhost"):
    """A worker serving the dispatcher at `dispatcher_address` (HOST:PORT) on `port` (0: a
    free one), reachable by trainers at `host`."""
    service = tf.data.experimental.service
    address = check_address(dispatcher_address, "--dispatcher-address").split("://", 1)[1]
    return service.WorkerServer(service.WorkerConfig(
        dispatcher_address=address, worker_address=f"{host}:%port%", port=port))
