"""The `tfmm` command line: parses arguments and calls tfmm's Python API. No logic here."""

import argparse
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
    for o in config.outputs:
        if o.units is None:
            o.labels = ["<label_0>", "<label_1>"]
    return config


def build_parser():
    parser = argparse.ArgumentParser(prog="tfmm", description="Multimodal Keras models.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("summary", help="build the model of a config and print its summary")
    p.add_argument("config")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (repeatable), e.g. training.epochs=2")
    p.add_argument("--expand", action="store_true", help="expand nested encoders")
    p.set_defaults(func=_cmd_summary)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    from tfmm.config import ConfigError

    try:
        return args.func(args)
    except (ConfigError, FileNotFoundError) as e:
        print(f"tfmm {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
