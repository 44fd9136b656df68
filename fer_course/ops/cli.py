"""The command line: ``python -m fer_course`` (installed also as ``fer-course``).

    python -m fer_course predict photo.jpg [more.jpg ...] [--json] [--views scale3]
    python -m fer_course data data/fer2013.csv [--json]
    python -m fer_course models
    python -m fer_course export-web _build/html/_static/demo
    python -m fer_course batch book/02_backbones.ipynb --profile smoke --out batch/smoke

``predict`` prints one table per photo (a face per row: box, label, the 7 probabilities);
a photo that cannot be read is reported and the others go on (exit status 1 if any failed);
``--views`` scores each face over a set of test-time views (chapter 7 chose ``scale3``).
``data`` prints a data file's splits and classes. ``batch`` runs a chapter over many models
(``fer_course.ops.batch``; needs the ``batch`` extra). ``models`` lists the shipped networks.
``export-web`` writes the files of the book's live page (``fer_course.ops.web_demo``): the
network as ONNX, the detector's cascade and the browser runtime.

>>> build_parser().parse_args(["predict", "a.jpg", "--json"]).json
True
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["BATCH_NEEDS", "build_parser", "main", "missing_batch_packages"]

BATCH_NEEDS = ("papermill", "nbformat", "submitit", "yaml")
"""What ``batch`` imports beyond the core library: the ``batch`` extra."""


def missing_batch_packages() -> list[str]:
    """The modules of the ``batch`` extra that are not installed (empty when all are).

    >>> isinstance(missing_batch_packages(), list)
    True
    """
    return [name for name in BATCH_NEEDS if importlib.util.find_spec(name) is None]


def run_batch(argv: Sequence[str]) -> int:
    """``fer_course.ops.batch.main(argv)``, or exit status 2 with the install line when
    the ``batch`` extra is missing."""
    missing = missing_batch_packages()
    if missing:
        print(f"fer_course batch needs {', '.join(missing)}, which are not installed: "
              "pip install 'fer_course[batch]'", file=sys.stderr)
        return 2
    from fer_course.ops.batch import main as batch_main

    return batch_main(list(argv))


def _photo_record(photo: str, table: Any) -> dict[str, Any]:
    """One photo's faces as plain json values."""
    from fer_course.data.types import CLASSES

    faces = [{"face": int(row.face), "box": [int(row.x), int(row.y), int(row.w), int(row.h)],
              "label": str(row.label),
              "probabilities": {c: round(float(getattr(row, c)), 4) for c in CLASSES}}
             for row in table.itertuples(index=False)]
    return {"photo": photo, "faces": faces}


def _photo_text(photo: str, table: Any) -> str:
    """One photo's faces as an aligned table, probabilities to 3 decimals."""
    count = len(table)
    head = f"{photo}: {count} face{'s' if count != 1 else ''}"
    if not count:
        return head
    return head + "\n" + table.to_string(index=False, float_format=lambda v: f"{v:.3f}")


def predict_command(args: argparse.Namespace) -> int:
    from fer_course.ops.predict import predict

    if args.views is not None:
        from fer_course.models.view_averaging import VIEW_SETS

        if args.views not in VIEW_SETS:
            print(f"--views {args.views!r} is not a view set: choose one of "
                  f"{', '.join(VIEW_SETS)}", file=sys.stderr)
            return 2
    failed, records = 0, []
    for photo in args.photos:
        try:
            table = predict(photo, args.model, margin=args.margin, device=args.device,
                            views=args.views)
        except (OSError, ValueError, TypeError) as error:
            failed += 1
            text = str(error)
            print(text if photo in text else f"{photo}: {text}", file=sys.stderr)
            continue
        if args.json:
            records.append(_photo_record(photo, table))
        else:
            print(_photo_text(photo, table), end="\n\n" if photo != args.photos[-1] else "\n")
    if args.json:
        print(json.dumps(records, indent=2))
    return 1 if failed else 0


def data_command(args: argparse.Namespace) -> int:
    from fer_course.data.locate import DataNotFoundError
    from fer_course.data.summary import data_summary, describe_data

    try:
        if args.json:
            print(json.dumps(data_summary(args.path), indent=2, default=str))
        else:
            print(describe_data(args.path))
    except DataNotFoundError as error:
        print(error, file=sys.stderr)
        return 2
    except (OSError, ValueError) as error:
        print(f"{args.path}: {error}", file=sys.stderr)
        return 1
    return 0


def models_command(args: argparse.Namespace) -> int:
    from fer_course.ops.predict import is_classifier
    from fer_course.pretrained import shipped_runs
    from fer_course.runs import RunStore
    from fer_course.runs.registry import DEFAULT_NETWORK

    for name, profile in sorted(shipped_runs().items()):
        if is_classifier(name):
            accuracy = RunStore(profile).stored(name).read_metrics()["test"]["accuracy"]
            shown = f"classifier, FER-2013 test accuracy {accuracy:.3f}"
            shown += " (the default)" if name == DEFAULT_NETWORK else ""
        else:
            shown = "autoencoder: reconstructs faces, no classes"
        print(f"{name:<16} {profile:<5} {shown}")
    return 0


def export_web_command(args: argparse.Namespace) -> int:
    from fer_course.ops.web_demo import write_web_demo

    try:
        manifest = write_web_demo(args.folder, args.model, args.runtime)
    except (OSError, ValueError, ImportError) as error:
        print(f"export-web: {error}", file=sys.stderr)
        return 1
    for name, file in manifest["files"].items():
        print(f"{name:<32} {file['bytes'] / 1e6:7.2f} MB")
    print(f"{'in all':<32} {manifest['bytes'] / 1e6:7.2f} MB  ({manifest['network']}, "
          f"{manifest['runtime']})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from fer_course.version import __version__

    parser = argparse.ArgumentParser(
        prog="python -m fer_course",
        description="Facial emotion recognition on FER-2013: the fer-course library.")
    parser.add_argument("--version", action="version", version=f"fer_course {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    predict = commands.add_parser(
        "predict", help="the emotions of the faces in photos",
        description="Find the faces in each photo and print, per face, its box (x, y, w, h "
                    "in pixels), its label and the probabilities of the 7 classes.")
    predict.add_argument("photos", nargs="+", metavar="PHOTO", help="image files")
    predict.add_argument("--model", default=None,
                         help="a shipped network (see 'models'); default: the course's "
                              "default network")
    predict.add_argument("--margin", type=float, default=0.2,
                         help="share of a box's side added around it before the crop (0.2)")
    predict.add_argument("--device", default=None, help="cpu, cuda, ...; default: a GPU if any")
    predict.add_argument("--views", default=None,
                         help="average each face over a set of test-time views (mirror, "
                              "shift1px, shift2px, scale3, rotate3; chapter 7 chose scale3, "
                              "6 passes a face); default: the face and its mirror image")
    predict.add_argument("--json", action="store_true", help="print json instead of tables")
    predict.set_defaults(handler=predict_command)

    data = commands.add_parser(
        "data", help="check a FER-2013 file: its splits and classes",
        description="Load FER-2013 (csv, npz or image folders) and print its splits and the "
                    "count of each class; with no PATH, look where the chapters look.")
    data.add_argument("path", nargs="?", default=None, metavar="PATH")
    data.add_argument("--json", action="store_true", help="print json instead of a table")
    data.set_defaults(handler=data_command)

    models = commands.add_parser("models", help="list the shipped networks",
                                 description="The networks whose weights ship with fer_course.")
    models.set_defaults(handler=models_command)

    web = commands.add_parser(
        "export-web", help="the network as ONNX, with the files of the book's live page",
        description="Write model.onnx, cascade.json, onnxruntime-web's files and demo.json "
                    "into FOLDER (the book build does it into _build/html/_static/demo).")
    web.add_argument("folder", metavar="FOLDER")
    web.add_argument("--model", default=None, help="a shipped network; default: the course's")
    web.add_argument("--runtime", default=None,
                     help="onnxruntime-web's dist folder (default: node_modules of the "
                          "checkout, after npm ci)")
    web.set_defaults(handler=export_web_command)

    commands.add_parser(
        "batch", help="run a chapter over many models (papermill, submitit)",
        description="Run a chapter notebook over many models or settings; "
                    "'python -m fer_course batch --help' lists its options.",
        add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "batch":  # its own parser, options and --help
        return run_batch(argv[1:])
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
