"""tf.data pipelines: manifest / TFRecord / TFDS -> batched (x, y) for `model.fit`."""

import tensorflow as tf

from tfmm.data.manifest import Manifest, _is_dataframe
from tfmm.data.preprocessor import Preprocessor
from tfmm.data.stream import ParquetStream, open_stream, refuse_service

# The sources' helpers, importable from here as before.
from tfmm.data.sources import (  # noqa: F401
    expand_files,
    load_manifest,
    media_columns,
    raw_columns,
    source_kind,
)
from tfmm.data.tfrecord import read_tfrecords

AUTOTUNE = tf.data.AUTOTUNE
# Examples a tf.data service worker sends per request (`data.service`).
SERVICE_CHUNK = 16


def make_dataset(
    config,
    source,
    vocabularies=None,
    training=False,
    input_context=None,
    batch_size=None,
    with_labels=True,
    report_dir=None,
    repeat=False,
):
    """A batched, prefetched `tf.data.Dataset` of `(x, y)` for the model of `config`.

    All decoding and preprocessing runs in TensorFlow ops inside `Dataset.map`, in
    parallel. Under a `tf.distribute` strategy, pass the `InputContext`
    (`strategy.distribute_datasets_from_function`): each input pipeline then reads a
    disjoint shard and batches at the per-replica batch size.

    Args:
        config: `tfmm.Config` with labels filled (see `fit_preprocessing`).
        source: str. A manifest (.csv/.jsonl/.parquet), a TFRecord file or glob, or
            `tfds:NAME/SPLIT`. Relative paths resolve against the config's folder. Or a
            pandas DataFrame (media paths relative to the working directory; wrap it in
            `tfmm.data.Manifest(frame, base_dir=...)` to say otherwise), a `Manifest`,
            a dict of column -> list of str that `load_manifest` returned, or a
            `ParquetStream` (a large .parquet path streams on its own: `data.stream`).
        vocabularies: dict of text input name -> vocabulary.
        training: bool. Shuffle (seeded by `data.seed`) and drop the last partial batch.
        input_context: `tf.distribute.InputContext` or None.
        batch_size: int. Global batch size; defaults to `data.batch_size`.
        with_labels: bool. Yield `(x, y)` (True) or `x` only.
        report_dir: str. Where `on_bad_example: skip` writes its report.
        repeat: bool. Repeat forever (for steps_per_epoch training).

    Returns:
        `tf.data.Dataset`.

    Example:

    ```python
    vocabs = tfmm.data.fit_preprocessing(config, tfmm.data.Manifest("train.csv"))
    ds = tfmm.data.make_dataset(config, "train.csv", vocabs, training=True)
    model.fit(ds, epochs=3)
    ```
    """
    if isinstance(source, Manifest) or _is_dataframe(source):
        source = load_manifest(
            config,
            source if isinstance(source, Manifest) else Manifest(source),
            with_labels,
            report_dir,
        )
    columns = source if isinstance(source, dict) else None
    stream = source if isinstance(source, ParquetStream) else None
    if stream is not None:
        source = stream.path
    else:
        source = "<columns>.csv" if columns is not None else config.resolve_path(source)
    batch_size = batch_size or config.data.batch_size
    if input_context is not None:
        batch_size = input_context.get_per_replica_batch_size(batch_size)
    kind = source_kind(source)
    cached = config.data.cache_mode != "none"
    # The training pipeline only: evaluation and prediction read in order, here.
    service = config.data.service if training else None
    if service and stream is not None:
        refuse_service(config, stream.path)
    if service and kind != "manifest":
        raise ValueError(
            f"data.service: only manifest sources are sent to a tf.data "
            f"service. Received: {source!r}"
        )
    # The steps, in order: rows -> examples (read, decoded, preprocessed) -> a tf.data
    # service and/or a cache -> repeat -> batches (text tokenised per batch).
    ds, loader = _rows(
        config,
        source,
        kind,
        columns,
        stream,
        training,
        cached,
        service,
        repeat,
        input_context,
        with_labels,
        report_dir,
    )
    preprocessor = Preprocessor(config, vocabularies)
    if training and not cached and kind != "manifest":
        ds = ds.shuffle(
            config.data.shuffle_buffer, seed=config.data.seed, reshuffle_each_iteration=True
        )
    ds = ds.map(_examples(config, preprocessor, loader, with_labels), num_parallel_calls=AUTOTUNE)
    if service:
        ds = _through_service(ds, config, service, input_context)
    if cached:
        ds = _cached(ds, config, training)
    if repeat and not (kind == "manifest" and training and not cached):
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=training, num_parallel_calls=AUTOTUNE)
    if any(i.type == "text" for i in config.inputs):
        ds = ds.map(_tokenizer(config, preprocessor), num_parallel_calls=AUTOTUNE)
    return ds.with_options(_options(config, training)).prefetch(AUTOTUNE)


def _options(config, training):
    options = tf.data.Options()
    options.deterministic = config.data.deterministic or not training
    # Each element's ops run on one thread: the parallelism is across elements
    # (num_parallel_calls), and the training step keeps the intra-op pool to itself.
    options.threading.max_intra_op_parallelism = 1
    return options


def _rows(
    config,
    source,
    kind,
    columns,
    stream,
    training,
    cached,
    service,
    repeat,
    input_context,
    with_labels,
    report_dir,
):
    """(dataset of raw rows, the function that reads a row's media files or None)."""
    if kind == "tfrecord":
        return read_tfrecords(
            config, source, input_context=input_context, with_labels=with_labels
        ), None
    if kind == "tfds":
        from tfmm.data.tfds import read_tfds

        return read_tfds(config, source, input_context=input_context, with_labels=with_labels), None
    if columns is None and stream is None:
        stream = open_stream(config, source, with_labels, report_dir)
    if stream is not None:
        # Read a record batch at a time; its length is known only after the checks.
        shuffled = training and not cached
        ds = stream.dataset(shuffled, repeat and shuffled, input_context)
        return ds, _media_reader(config)
    if columns is None:
        columns = load_manifest(config, source, with_labels, report_dir)
    rows = len(next(iter(columns.values())))
    if service:
        # With cache, the repeat comes after it (a repeated source would never fill it).
        ds = _service_rows(
            columns, config.data.seed, config.data.shuffle_buffer, repeat and not cached
        )
    elif training and not cached:
        ds = _shuffled_rows(columns, config.data.seed, repeat, input_context)
    else:
        ds = _shard(tf.data.Dataset.from_tensor_slices(columns), input_context)
    if not repeat and not service:
        # A known length, so `fit` shows "n/N" and an ETA from the first epoch, and
        # does not warn that the input "ran out of data".
        ds = ds.apply(tf.data.experimental.assert_cardinality(_shard_rows(rows, input_context)))
    return ds, _media_reader(config)


def _media_reader(config):
    """A row's media paths -> the files' bytes (an optional input's empty path: empty
    bytes, "missing")."""
    media = media_columns(config)
    optional = {i.column for i in config.inputs if i.optional}

    def read(raw):
        raw = dict(raw)
        for col in media:
            path = raw[col]
            raw[col] = (
                tf.cond(
                    tf.strings.length(path) > 0,
                    lambda path=path: tf.io.read_file(path),
                    lambda: tf.constant(b""),
                )
                if col in optional
                else tf.io.read_file(path)
            )
        return raw

    return read


def _examples(config, preprocessor, loader, with_labels):
    """A raw row -> (x, y) (or x), the text still raw: it is tokenised per batch."""
    text_inputs = [i for i in config.inputs if i.type == "text"]

    def process(raw):
        if loader is not None:
            raw = loader(raw)
        x = preprocessor.features(raw, text=False)
        for i in text_inputs:
            x[_RAW_TEXT + i.name] = raw[i.column]
            if i.pair_column:
                x[_RAW_TEXT + i.name + _PAIR] = raw[i.pair_column]
        return (x, preprocessor.targets(raw)) if with_labels else x

    return process


def _tokenizer(config, preprocessor):
    """A batch's raw text -> the text inputs' tensors: one TextVectorization/WordPiece
    call on 32 strings costs about what one call on a single string does."""
    text_inputs = [i for i in config.inputs if i.type == "text"]

    def tokenize(x, *y):
        x = dict(x)
        for i in text_inputs:
            pair = x.pop(_RAW_TEXT + i.name + _PAIR) if i.pair_column else None
            x.update(preprocessor.text[i.name](x.pop(_RAW_TEXT + i.name), pair))
        return (x, *y) if y else x

    return tokenize


def _through_service(ds, config, service, input_context):
    """Reading and decoding run on the service's workers. They send chunks of examples
    (one request per example costs more than decoding a small one), kept whole (no
    remainder dropped); the batches are made here, so each is full-size."""
    from tfmm.data.service import distribute

    return distribute(
        ds.batch(SERVICE_CHUNK),
        service,
        job_name=f"tfmm-{config.name}-train"
        if input_context and input_context.num_input_pipelines > 1
        else None,
    ).unbatch()


def _cached(ds, config, training):
    if config.data.cache_mode == "memory":
        ds = ds.cache()
    else:
        # A snapshot, not `cache(filename)`: it is keyed by a fingerprint of the pipeline
        # above (files, preprocessing, shard), written to a temporary folder and committed
        # only when a pass completes, so a killed run or a changed config never reads a
        # stale or partial cache. Uncompressed: decoded pixels and samples barely
        # compress, and the snappy reader refuses elements over its 256 KB buffer (a 5 s
        # clip is 320 KB).
        ds = ds.snapshot(config.resolve_path(config.data.cache), compression=None)
    if training:
        ds = ds.shuffle(
            config.data.shuffle_buffer, seed=config.data.seed, reshuffle_each_iteration=True
        )
    return ds


_RAW_TEXT = "__raw_text__"
_PAIR = "__pair__"


def _shuffled_rows(columns, seed, repeat, input_context):
    """The manifest's rows in a new full permutation every epoch (no shuffle buffer).

    The permutation of epoch e is a pure function of (data.seed, e)
    (`tf.random.experimental.index_shuffle`), so it does not depend on how many
    iterators were made before: a run under MirroredStrategy, where Keras opens the
    dataset once to build the model, sees the same order as one on a single device, and
    each worker's shard of an epoch is disjoint from the others'. Without `repeat`, each
    new iterator draws its epoch key from a seeded random stream instead.
    """
    table = {k: tf.constant(v) for k, v in columns.items()}
    n = len(next(iter(columns.values())))
    epochs = (
        tf.data.Dataset.counter()
        if repeat
        else tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
    )

    def epoch_order(epoch):
        key = tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch, tf.int64)])
        return tf.data.Dataset.range(n).map(
            lambda i: tf.random.experimental.index_shuffle(i, key, n - 1)
        )

    order = _shard(epochs.flat_map(epoch_order), input_context)
    return order.map(lambda i: {k: tf.gather(v, i) for k, v in table.items()})


def _service_rows(columns, seed, buffer, repeat):
    """The manifest's rows for a tf.data service job: runs of rows the dispatcher splits
    among the workers as they ask (each row once per pass), shuffled on each worker
    through a buffer (`data.shuffle_buffer`), not the full permutation of
    `_shuffled_rows`."""
    table = {k: tf.constant(v) for k, v in columns.items()}
    n = len(next(iter(columns.values())))
    # The dispatcher hands out one element of the source per request: runs of
    # SERVICE_CHUNK rows, not single rows (one request per row held a worker to a few
    # hundred rows a second).
    ds = tf.data.Dataset.range((n + SERVICE_CHUNK - 1) // SERVICE_CHUNK)
    if repeat:
        ds = ds.repeat()
    ds = ds.flat_map(
        lambda c: tf.data.Dataset.range(c * SERVICE_CHUNK, tf.minimum((c + 1) * SERVICE_CHUNK, n))
    )
    ds = ds.shuffle(min(buffer, n), seed=seed, reshuffle_each_iteration=True)
    return ds.map(lambda i: {k: tf.gather(v, i) for k, v in table.items()})


def _shard_rows(rows, input_context):
    """Rows of a manifest that this input pipeline reads (`Dataset.shard` keeps every
    n-th row, starting at the pipeline's id)."""
    if input_context is None or input_context.num_input_pipelines <= 1:
        return rows
    return len(range(input_context.input_pipeline_id, rows, input_context.num_input_pipelines))


def _shard(ds, input_context):
    if input_context is None or input_context.num_input_pipelines <= 1:
        return ds
    return ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
