"""The `tfmm` command line: parses arguments and calls tfmm's Python API. No logic here."""

import argparse
import json
import os
import sys


def _cmd_summary(args):
    import tfmm

    config = tfmm.load_config(args.config, overrides=args.set)
    model = tfmm.build_model(_with_placeholder_labels(config))
    model.summary(line_length=120, expand_nested=args.expand)
    return 0


def _with_placeholder_labels(config):
    # `summary` needs no data: outputs whose labels come from the training split get two
    # placeholder labels so the graph can be shown.
    import dataclasses

    return dataclasses.replace(
        config,
        outputs=[
            dataclasses.replace(o, labels=["<label_0>", "<label_1>"]) if o.units is None else o
            for o in config.outputs
        ],
    )


def _cmd_data_demo(args):
    from tfmm.data.demo import make_demo_dataset

    paths = make_demo_dataset(args.out, n=args.n, seed=args.seed)
    for split, path in paths.items():
        print(f"{split}: {path}")
    return 0


def _cmd_data_check(args):
    import tfmm
    from tfmm._quiet import decoder_messages_dropped
    from tfmm.data import Manifest, check_manifest
    from tfmm.data.check import labels_from_training, media_summary

    if args.config:
        config = tfmm.load_config(args.config, overrides=args.set)
    else:
        config = _config_for_manifest(args.manifest)
    manifest = Manifest(args.manifest)
    with_labels = all(o.column in manifest.columns for o in config.outputs)
    from tfmm.data.stream import ParquetStream, streams

    if streams(config, args.manifest):
        # Too large to load (`data.stream`): checked a record batch at a time; the
        # per-column summaries need whole columns and are left out.
        stream = ParquetStream(config, args.manifest, with_labels=with_labels)
        with decoder_messages_dropped() as stderr:
            problems, _ = stream.problems(progress_stream=stderr)
        for p in problems:
            print(p)
        print(
            f"{args.manifest}: {len(stream)} rows (streamed: no column summaries), "
            f"{len({p.row for p in problems})} with problems ({len(problems)} problems)"
        )
        return 1 if problems else 0
    label_lines = labels_from_training(config, manifest) if with_labels else []
    with decoder_messages_dropped() as stderr:
        problems = check_manifest(config, manifest, with_labels=with_labels, progress_stream=stderr)
    for p in problems:
        print(p)
    for line in media_summary(config, manifest) + label_lines:
        print(line)
    bad_rows = len({p.row for p in problems})
    print(
        f"{args.manifest}: {len(manifest)} rows, {bad_rows} with problems "
        f"({len(problems)} problems)"
    )
    return 1 if problems else 0


def _config_for_manifest(path):
    """Without --config, check the demo layout's columns (caption, image_path, ...)."""
    import os

    import tfmm
    from tfmm.data.demo import demo_config

    return tfmm.config_from_dict(demo_config(os.path.dirname(os.path.abspath(path))))


def _cmd_data_tfrecord(args):
    import tfmm
    from tfmm.data import write_tfrecords

    config = (
        tfmm.load_config(args.config, overrides=args.set)
        if args.config
        else _config_for_manifest(args.manifest)
    )
    files = write_tfrecords(config, args.manifest, args.out, shards=args.shards)
    print(f"wrote {len(files)} shards to {args.out}")
    return 0


def _cmd_data_serve(args):
    from tfmm.data.service import start_dispatcher, start_worker

    if args.dispatcher == args.worker:
        raise ValueError("data serve: give one of --dispatcher or --worker")
    if args.dispatcher:
        server = start_dispatcher(port=args.port)
        print(
            f"tfmm data serve: dispatcher at {server.target} (data.service: "
            f"grpc://HOST:{server.target.rsplit(':', 1)[1]})",
            flush=True,
        )
    else:
        if not args.dispatcher_address:
            raise ValueError("data serve --worker: --dispatcher-address HOST:PORT is required")
        server = start_worker(args.dispatcher_address, port=args.port, host=args.host)
        # WorkerServer keeps its bound address private; the port is printed when it has it.
        from tfmm._keras_compat import worker_server_address

        bound = worker_server_address(server, f"{args.host}:{args.port}")
        print(f"tfmm data serve: worker of {args.dispatcher_address} at {bound}", flush=True)
    server.join()
    return 0


def _cmd_train(args):
    import tfmm
    from tfmm.training import train

    overrides = list(args.set)
    if args.strategy:
        overrides.append(f"training.strategy={args.strategy}")
    if args.mlflow:
        overrides.append(f"tracking.mlflow={args.mlflow}")
    config = tfmm.load_config(args.config, overrides=overrides)
    out = args.out or os.path.join("runs", config.name)
    _, metrics = train(config, out)
    print(f"tfmm train: run directory {out}")
    if metrics:
        print(json.dumps(_headline(metrics), indent=2))
    return 0


def _cmd_pretrain(args):
    import tfmm
    from tfmm.pretraining import pretrain

    overrides = list(args.set)
    if args.strategy:
        overrides.append(f"training.strategy={args.strategy}")
    config = tfmm.load_config(args.config, overrides=overrides)
    out = args.out or os.path.join("runs", f"{config.name}-{args.objective}")
    pretrain(
        config,
        out,
        objective=args.objective,
        input_name=args.input,
        projection_dim=args.projection_dim,
    )
    print(
        f"tfmm pretrain: run directory {out}; start training from it with "
        f"--set training.init_from={out}"
    )
    return 0


def _headline(metrics):
    return {
        name: {
            k: v for k, v in m.items() if k in ("accuracy", "macro_f1", "auroc", "mae", "rmse", "n")
        }
        for name, m in metrics.items()
    }


def _cmd_evaluate(args):
    from tfmm.files import RunDir
    from tfmm.training import evaluate, load_run
    from tfmm.training.inference import evaluation_dir

    if os.path.exists(os.path.join(args.run, "pretrain.json")):
        return _evaluate_retrieval(args)
    model, config, vocabs = load_run(args.run)
    run_dir = args.run if os.path.isdir(args.run) else os.path.dirname(os.path.abspath(args.run))
    out_dir = args.out or evaluation_dir(run_dir, args.manifest)
    os.makedirs(out_dir, exist_ok=True)
    manifest = os.path.abspath(args.manifest)
    if args.missing:
        return _evaluate_missing(model, config, manifest, vocabs, out_dir, args.json)
    metrics = evaluate(
        model, config, manifest, vocabs, run_dir=out_dir, split=os.path.basename(args.manifest)
    )
    RunDir(out_dir).write_metrics({"manifest": manifest, **metrics})
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        for name, m in metrics.items():
            print(
                f"{name}: "
                + ", ".join(f"{k}={v:.4f}" for k, v in m.items() if isinstance(v, float))
            )
            for label, pc in m.get("per_class", {}).items():
                print(
                    f"  {label:<24} precision {pc['precision']:.3f}  recall "
                    f"{pc['recall']:.3f}  n={pc['support']}"
                )
    print(f"tfmm evaluate: report (metrics.json, confusion matrix) in {out_dir}", file=sys.stderr)
    return 0


def _evaluate_retrieval(args):
    """`tfmm evaluate` of a contrastive pretraining run: cross-modal recall@1/5/10 in each
    direction on the manifest's rows, beside a random ranking's."""
    from tfmm.embeddings import retrieval_report
    from tfmm.files import RunDir
    from tfmm.training.inference import evaluation_dir

    manifest = os.path.abspath(args.manifest)
    report = retrieval_report(args.run, manifest)
    out_dir = args.out or evaluation_dir(args.run, args.manifest)
    os.makedirs(out_dir, exist_ok=True)
    RunDir(out_dir).write_metrics({"manifest": manifest, "retrieval": report})
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            if isinstance(value, dict):
                print(f"{key}: " + ", ".join(f"{k}={v:.4f}" for k, v in value.items()))
    print(f"tfmm evaluate: retrieval on {report['n']} rows in {out_dir}", file=sys.stderr)
    return 0


def _evaluate_missing(model, config, manifest, vocabs, out_dir, as_json):
    from tfmm.training.inference import evaluate_missing

    rows = evaluate_missing(model, config, manifest, vocabs)
    table = [
        {
            "removed": removed or "none",
            **{
                f"{name}_{k}": v
                for name, m in _headline(metrics).items()
                for k, v in m.items()
                if k != "n"
            },
        }
        for removed, metrics in rows
    ]
    with open(os.path.join(out_dir, "missing.json"), "w") as f:
        json.dump({"manifest": manifest, "rows": table}, f, indent=2)
    if as_json:
        print(json.dumps(table, indent=2))
    else:
        keys = [k for k in table[0] if k != "removed"]
        print("removed".ljust(12) + "".join(k.rjust(18) for k in keys))
        for row in table:
            print(row["removed"].ljust(12) + "".join(f"{row[k]:18.4f}" for k in keys))
    print(
        f"tfmm evaluate: each modality removed in turn (presence 0); table in "
        f"{os.path.join(out_dir, 'missing.json')}",
        file=sys.stderr,
    )
    return 0


def _cmd_predict(args):
    from tfmm.export.runtime import is_export, predict_export
    from tfmm.training import load_run, predict
    from tfmm.predictions import write_predictions

    keep = [c.strip() for c in (args.keep_columns or "").split(",") if c.strip()]
    manifest = os.path.abspath(args.manifest)
    if is_export(args.run):
        rows = predict_export(args.run, manifest, keep_columns=keep)
    else:
        model, config, vocabs = load_run(args.run)
        rows = predict(model, config, manifest, vocabs, keep_columns=keep)
    if args.out:
        with open(args.out, "w", newline="", encoding="utf-8") as f:
            write_predictions(rows, f, args.format)
        print(f"tfmm predict: {len(rows)} rows -> {args.out}", file=sys.stderr)
    else:
        write_predictions(rows, sys.stdout, args.format)
    if args.explain:
        if is_export(args.run):
            raise ValueError("tfmm predict --explain: give the run directory, not an export")
        from tfmm.explain import explain

        explain(args.run, manifest, [int(r["row"]) for r in rows], args.explain)
        print(
            f"tfmm predict: explanations of {len(rows)} rows -> "
            f"{os.path.join(args.explain, 'explanations.md')}",
            file=sys.stderr,
        )
    return 0


def _cmd_embed(args):
    from tfmm.embeddings import embed

    if not args.out.endswith((".parquet", ".npz")):
        raise ValueError(f"tfmm embed: --out is a .parquet or .npz file. Received: {args.out!r}")
    keep = [c.strip() for c in (args.keep_columns or "").split(",") if c.strip()]
    emb = embed(args.run, os.path.abspath(args.manifest), keep_columns=keep)
    emb.save(args.out)
    widths = ", ".join(f"{k} {v.shape[1]}" for k, v in emb.vectors.items())
    print(
        f"tfmm embed: {len(emb)} rows ({emb.space} space: {widths}) -> {args.out}",
        file=sys.stderr,
    )
    return 0


def _cmd_search(args):
    import json

    from tfmm.search import Index, encode

    index = Index(args.embeddings, args.vector, approximate=args.approximate)
    given = [
        (k, v) for k, v in (("text", args.text), ("image", args.image), ("audio", args.audio)) if v
    ]
    if args.like is not None:
        if given:
            raise ValueError("tfmm search: give --like ROW or one query (--text/--image/--audio)")
        rows = index.embeddings.rows
        if args.like not in rows:
            raise ValueError(
                f"tfmm search: --like {args.like}: no such row in {args.embeddings!r} "
                f"(rows {rows[0]}-{rows[-1]})"
            )
        query = index.matrix[rows.index(args.like)][None]
    elif len(given) == 1:
        if not args.run:
            raise ValueError(
                "tfmm search: --text/--image/--audio need --run (the run that embedded)"
            )
        kind, value = given[0]
        import yaml

        with open(os.path.join(args.run, "config.yaml"), encoding="utf-8") as f:
            inputs = yaml.safe_load(f)["inputs"]
        name = args.query_input or next((i["name"] for i in inputs if i["type"] == kind), None)
        if name is None:
            raise ValueError(
                f"tfmm search: the run has no {kind} input; its inputs: "
                f"{[i['name'] for i in inputs]}"
            )
        query = encode(args.run, name, [value])
    else:
        raise ValueError("tfmm search: give one query: --text, --image, --audio or --like ROW")
    for rank, hit in enumerate(index.search(query, k=args.k)[0], start=1):
        print(json.dumps({"rank": rank, **hit}))
    return 0


def _cmd_explain(args):
    from tfmm.explain import explain

    try:
        rows = [int(r) for r in args.rows.split(",") if r.strip()]
    except ValueError:
        raise ValueError(
            f"tfmm explain: --rows is a comma-separated list of row numbers. Received: "
            f"{args.rows!r}"
        ) from None
    reports = explain(args.run, args.manifest, rows, args.out, output=args.output)
    print(
        f"tfmm explain: {len(reports)} rows -> {os.path.join(args.out, 'explanations.md')}",
        file=sys.stderr,
    )
    return 0


def _cmd_export(args):
    from tfmm.export import export, resolve_formats

    formats = resolve_formats(args.format)
    out = args.out
    if out is None:
        from tfmm.training import load_run

        out = os.path.join("savedmodels", load_run(args.run)[1].name)
    export(args.run, out, formats=formats)
    from tfmm.tracking import Tracker

    tracker = Tracker.of_run(args.run) if os.path.isdir(args.run) else None
    if tracker is not None:
        tracker.log_export(out)
    return 0


def _cmd_tune(args):
    from tfmm.tuning import tune

    out = args.out or os.path.join("tuning", os.path.splitext(os.path.basename(args.config))[0])
    role = "chief" if args.chief else "worker" if args.worker else None
    tune(
        args.config,
        args.space,
        out,
        max_trials=args.max_trials,
        objective=args.objective,
        algorithm=args.algorithm,
        seed=args.seed,
        overrides=args.set + ([f"tracking.mlflow={args.mlflow}"] if args.mlflow else []),
        role=role,
        oracle=args.oracle,
        worker=args.worker,
        executions_per_trial=args.executions_per_trial,
    )
    return 0


def _cmd_demo(args):
    from tfmm.demo import run_demo

    run_demo(
        args.out,
        n=args.n,
        seed=args.seed,
        epochs=args.epochs,
        export_dir=None if args.no_export else args.export_dir,
    )
    return 0


_STRATEGIES = ["auto", "default", "one_device", "mirrored", "multiworker", "tpu"]
_SET_HELP = "override a config key (repeatable), e.g. --set training.epochs=2"


def _set_option(p):
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=_SET_HELP)


def build_parser():
    from tfmm import __version__

    parser = argparse.ArgumentParser(
        prog="tfmm",
        description="Multimodal (text, image, audio) Keras models: data, training, export.",
    )
    parser.add_argument("--version", action="version", version=f"tfmm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("summary", help="build the model of a config and print its summary")
    p.add_argument("config", help="YAML config file")
    _set_option(p)
    p.add_argument("--expand", action="store_true", help="expand nested encoders")
    p.set_defaults(func=_cmd_summary)

    p = sub.add_parser("train", help="train a config with model.fit")
    p.add_argument("config", help="YAML config file")
    _set_option(p)
    p.add_argument(
        "--out",
        help="run directory (default runs/NAME); started again after a "
        "kill, the same command resumes",
    )
    p.add_argument(
        "--strategy",
        choices=_STRATEGIES,
        help="tf.distribute strategy (default: training.strategy, auto)",
    )
    p.add_argument(
        "--mlflow",
        default=None,
        metavar="URI",
        help="log to MLflow (tracking.mlflow; pip install 'tfmm[mlflow]'), e.g. "
        "sqlite:///mlflow.db",
    )
    p.set_defaults(func=_cmd_train)
    p = sub.add_parser(
        "pretrain",
        help="pretrain the encoders without labels (contrastive "
        "alignment of paired modalities, or masked LM)",
    )
    p.add_argument("config", help="YAML config file")
    p.add_argument(
        "--objective",
        choices=["contrastive", "mlm"],
        required=True,
        help="contrastive: align each input with the first text input; "
        "mlm: masked-LM on a bert input's text",
    )
    _set_option(p)
    p.add_argument("--out", help="run directory (default runs/NAME-OBJECTIVE)")
    p.add_argument("--input", help="mlm: the bert input to pretrain (if several)")
    p.add_argument(
        "--projection-dim",
        type=int,
        default=64,
        help="contrastive: width of the projection heads (default 64)",
    )
    p.add_argument(
        "--strategy",
        choices=_STRATEGIES,
        help="tf.distribute strategy (default: training.strategy, auto)",
    )
    p.set_defaults(func=_cmd_pretrain)

    p = sub.add_parser(
        "tune",
        help="search config keys with KerasTuner, choosing on the validation split "
        "(pip install 'tfmm[tune]')",
    )
    p.add_argument("config", help="YAML config file (the base of every trial)")
    p.add_argument(
        "--space",
        required=True,
        help="YAML search space: config keys -> {choice: [...]}, {uniform: [low, high]}, "
        "{log_uniform: [low, high]} or {int: [low, high]}",
    )
    _set_option(p)
    p.add_argument("--max-trials", type=int, default=12, help="trials in all (default 12)")
    p.add_argument(
        "--objective",
        default=None,
        help="validation value to optimise (default: training.monitor resolved, e.g. val_accuracy)",
    )
    p.add_argument(
        "--algorithm",
        default="random",
        choices=["random", "bayesian", "hyperband"],
        help="KerasTuner oracle (default random)",
    )
    p.add_argument("--seed", type=int, default=0, help="the oracle's seed")
    p.add_argument(
        "--executions-per-trial",
        type=int,
        default=1,
        help="training runs per trial (data seeds data.seed, +1, ...); the trial's score is "
        "their mean (default 1)",
    )
    p.add_argument(
        "--out", default=None, help="search folder (default tuning/CONFIG_NAME); resumes there"
    )
    role = p.add_mutually_exclusive_group()
    role.add_argument(
        "--chief", action="store_true", help="distributed: serve the oracle at --oracle"
    )
    role.add_argument(
        "--worker", default=None, metavar="NAME", help="distributed: run trials from --oracle"
    )
    p.add_argument("--oracle", default=None, metavar="HOST:PORT", help="the chief's address")
    p.add_argument(
        "--mlflow",
        default=None,
        metavar="URI",
        help="log to MLflow (tracking.mlflow; pip install 'tfmm[mlflow]'), e.g. "
        "sqlite:///mlflow.db",
    )
    p.set_defaults(func=_cmd_tune)

    p = sub.add_parser("evaluate", help="metrics of a run on a labelled manifest")
    p.add_argument("run", help="run directory, or a model.keras beside its config.yaml")
    p.add_argument("--manifest", required=True, help="labelled CSV/JSONL manifest")
    p.add_argument(
        "--json", action="store_true", help="print the metrics as JSON instead of a table"
    )
    p.add_argument(
        "--missing",
        action="store_true",
        help="the metrics with each modality removed in turn (its presence set "
        "to 0), one row per modality, beside the full model's",
    )
    p.add_argument(
        "--out",
        help="report folder (metrics.json, confusion matrix); default "
        "a new RUN/eval-MANIFEST folder, never the training-time "
        "files",
    )
    p.set_defaults(func=_cmd_evaluate)
    p = sub.add_parser(
        "predict",
        help="labels and probabilities per manifest row, as CSV (or JSON Lines) on stdout",
    )
    p.add_argument(
        "run",
        help="run directory, a model.keras beside its config.yaml, or an "
        "export (SavedModel version directory, .onnx file)",
    )
    p.add_argument("--manifest", required=True, help="CSV/JSONL manifest (labels not needed)")
    p.add_argument("--out", help="file to write instead of stdout")
    p.add_argument(
        "--format", choices=["csv", "jsonl"], default="csv", help="output format (default csv)"
    )
    p.add_argument(
        "--keep-columns",
        metavar="COL,...",
        help="manifest columns to carry into each output row (e.g. an id)",
    )
    p.add_argument(
        "--explain",
        metavar="DIR",
        help="also explain every row (tfmm explain's report, in DIR; one forward pass per "
        "occluded part: for a few rows)",
    )
    p.set_defaults(func=_cmd_predict)
    p = sub.add_parser(
        "embed",
        help="per manifest row, the fused vector and each input's vector (a contrastive "
        "pretraining run: the shared space), to Parquet or .npz",
    )
    p.add_argument("run", help="run directory of tfmm train or tfmm pretrain (contrastive)")
    p.add_argument("--manifest", required=True, help="CSV/JSONL/Parquet manifest")
    p.add_argument("--out", required=True, help="a .parquet (tfmm[tables]) or .npz file")
    p.add_argument(
        "--keep-columns",
        metavar="COL,...",
        help="manifest columns to carry beside the vectors (e.g. an id)",
    )
    p.set_defaults(func=_cmd_embed)
    p = sub.add_parser(
        "search",
        help="the rows of an embeddings file nearest a query (cosine top-k, exact or "
        "approximate), as JSON lines",
    )
    p.add_argument("embeddings", help="a file tfmm embed wrote (.parquet or .npz)")
    p.add_argument(
        "--in",
        dest="vector",
        required=True,
        help="which vectors to search: an input's name (e.g. image) or fused",
    )
    p.add_argument("--run", help="the run that wrote the embeddings (to encode the query)")
    p.add_argument("--text", help="query text")
    p.add_argument("--image", help="query image file")
    p.add_argument("--audio", help="query audio file")
    p.add_argument("--like", type=int, metavar="ROW", help="query: a row of the embeddings file")
    p.add_argument(
        "--query-input",
        help="the run's input that encodes the query (default: its first of that type)",
    )
    p.add_argument("--k", type=int, default=10, help="how many rows (default 10)")
    p.add_argument(
        "--approximate",
        action="store_true",
        help="FAISS's HNSW index instead of the exact search (pip install 'tfmm[faiss]')",
    )
    p.set_defaults(func=_cmd_search)
    p = sub.add_parser(
        "explain",
        help="why a row's prediction came out as it did: each modality's share, the text "
        "tokens, an image heat map, the audio stretch, the table columns (by occlusion)",
    )
    p.add_argument("run", help="run directory of tfmm train")
    p.add_argument("--manifest", required=True, help="CSV/JSONL/Parquet manifest")
    p.add_argument("--rows", required=True, metavar="N,...", help="manifest rows (from 1)")
    p.add_argument("--out", required=True, help="folder for explanations.md/.json and PNGs")
    p.add_argument("--output", help="which output to explain (default: the first)")
    p.set_defaults(func=_cmd_explain)
    p = sub.add_parser(
        "export", help="SavedModel (TF Serving) and/or ONNX, checked in their runtimes"
    )
    p.add_argument("run", help="run directory, or a model.keras beside its config.yaml")
    # Checked by the library against its table of formats (tfmm.export.formats), so a
    # new format needs no edit here.
    p.add_argument(
        "--format",
        default="all",
        metavar="FORMAT[,FORMAT]",
        help="what to write: savedmodel, onnx, tflite, a comma-separated list, "
        "or all (default: savedmodel and onnx; tflite on request)",
    )
    p.add_argument(
        "--out", help="base directory; versions go in OUT/1, OUT/2, ... (default savedmodels/NAME)"
    )
    p.set_defaults(func=_cmd_export)
    p = sub.add_parser(
        "demo",
        help="demo data, fused vs single-modality models, compared, then the fused model exported",
    )
    p.add_argument(
        "--out", default="demo_run", help="folder for the data, runs and results (default demo_run)"
    )
    p.add_argument("--n", type=int, default=600, help="examples to generate (default 600)")
    p.add_argument("--seed", type=int, default=0, help="data seed (default 0)")
    p.add_argument(
        "--epochs", type=int, default=8, help="training epochs of each model (default 8)"
    )
    p.add_argument(
        "--export-dir",
        default=os.path.join("savedmodels", "demo"),
        help="base directory of the export (default savedmodels/demo)",
    )
    p.add_argument("--no-export", action="store_true", help="skip the export")
    p.set_defaults(func=_cmd_demo)

    data = sub.add_parser("data", help="datasets: demo, check, tfrecord, serve")
    dsub = data.add_subparsers(dest="data_command", required=True)
    p = dsub.add_parser("demo", help="write the demo multimodal dataset as real files")
    p.add_argument("--out", default="demo_data", help="output folder (default demo_data)")
    p.add_argument("--n", type=int, default=600, help="examples (default 600)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    p.set_defaults(func=_cmd_data_demo)
    p = dsub.add_parser("check", help="report every problem of a manifest; exit 1 if any")
    p.add_argument("manifest", help="CSV/JSONL manifest")
    p.add_argument(
        "--config",
        help="config whose inputs/outputs name the columns (default: the demo dataset's columns)",
    )
    _set_option(p)
    p.set_defaults(func=_cmd_data_check)
    p = dsub.add_parser("tfrecord", help="write a manifest's examples to TFRecord shards")
    p.add_argument("manifest", help="CSV/JSONL manifest")
    p.add_argument("--out", required=True, help="output folder of the shards")
    p.add_argument("--shards", type=int, default=4, help="number of shards (default 4)")
    p.add_argument(
        "--config",
        help="config whose inputs/outputs name the columns (default: the demo dataset's columns)",
    )
    _set_option(p)
    p.set_defaults(func=_cmd_data_tfrecord)
    p = dsub.add_parser(
        "serve",
        help="run a tf.data service dispatcher or worker (for data.service); runs until stopped",
    )
    p.add_argument("--dispatcher", action="store_true", help="run the dispatcher")
    p.add_argument("--worker", action="store_true", help="run a worker")
    p.add_argument(
        "--port", type=int, default=0, help="port to listen on (default 0: a free one, printed)"
    )
    p.add_argument("--dispatcher-address", help="HOST:PORT of the dispatcher (--worker)")
    p.add_argument(
        "--host",
        default="localhost",
        help="this machine's name as trainers reach it (--worker; default localhost)",
    )
    p.set_defaults(func=_cmd_data_serve)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    # The command keeps TensorFlow's C++ start-up lines out of its output (a library
    # import leaves the user's environment alone).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tfmm._quiet import start_tensorflow

    start_tensorflow()
    from tfmm._extras import MissingExtra
    from tfmm.config import ConfigError
    from tfmm.data.errors import DataError

    from tfmm._log import to_stdout

    with to_stdout():  # the library's messages (the `tfmm` logger) as plain lines
        if os.environ.get("TFMM_DEBUG"):
            # The whole traceback, for bug reports.
            return args.func(args)
        try:
            return args.func(args)
        except (ConfigError, DataError, MissingExtra, OSError, ValueError, RuntimeError) as e:
            print(f"tfmm {args.command}: error: {e}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main())
