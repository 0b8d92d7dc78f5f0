"""Command line entry point: ``python -m rankatt_lib`` (or ``rankatt``).

    python -m rankatt_lib info
    python -m rankatt_lib track VIDEO|FOLDER|CAMERA (--box x,y,w,h | --select) [--tracker NAME] [--frames a:b]
        [--out boxes.txt] [--render out.mp4] [--skip-damaged]
    python -m rankatt_lib trackers
    python -m rankatt_lib export RESULTS --toolkit got10k|pysot|pytracking|otb-mat --out DIR [--dataset DIR]
    python -m rankatt_lib score RESULTS --dataset DIR [--protocol NAME|all] [--explain]
    python -m rankatt_lib import FOLDER --results ROOT --benchmark NAME [--tracker NAME] [--dataset DIR]
    python -m rankatt_lib run|report|bench|train|download|synthetic|photo ...   (the same options as
        rankatt_lib.evaluation.run, .experiment, .bench, .train, .download, .synthetic and .photoseq; --help lists them)
    python -m rankatt_lib vot TRACKER [--ini]   (a TraX tracker process for the VOT toolkit; rankatt_lib.toolkits.vot)
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rankatt_lib import __version__, device

# Subcommands whose options belong to a library module's own command line: the arguments after the
# name go to that module's main() unchanged, so each option is defined once.
_DELEGATED: dict[str, tuple[str, str]] = {
    "run": (
        "rankatt_lib.evaluation.run",
        "run a tracker over a benchmark folder (resumable) into RESULTS/BENCHMARK/TRACKER",
    ),
    "bench": ("rankatt_lib.experiments.bench", "time the trackers on one sequence (ms per frame, fps), JSON report"),
    "download": ("rankatt_lib.data.download", "download OTB-2013/2015, UAV123, TC128 (resumable, verified)"),
    "synthetic": ("rankatt_lib.data.synthetic", "generate the synthetic OTB-format benchmark (deterministic)"),
    "photo": ("rankatt_lib.data.photoseq", "generate OTB-format sequences cut from real photographs (resumable)"),
    "report": (
        "rankatt_lib.experiments.experiment",
        "score every tracker's stored results (OTB2013/2015 or any benchmark), write plots and tables "
        "beside the paper's figures (--track: track what is missing first: the whole reproduction)",
    ),
    "train": ("rankatt_lib.training.cli", "train the ranking updater offline with Eq. 9 (resumable, cached features)"),
    "vot": (
        "rankatt_lib.toolkits.vot",
        "run a tracker as a TraX process for the VOT toolkit (--ini: its trackers.ini)",
    ),
}


def _delegate(sub: Any, name: str) -> None:
    module, text = _DELEGATED[name]
    sub.add_parser(name, help=f"{text} (options: rankatt {name} --help; also python -m {module})")


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in _DELEGATED:
        import importlib

        module = importlib.import_module(_DELEGATED[args_list[0]][0])
        return int(module.main(args_list[1:]) or 0)
    parser = argparse.ArgumentParser(
        prog="rankatt",
        description="rankatt: the tracker of Peng, Kamata & Breckon (ICIP 2019), its baselines, and the "
        "tools to run, score and exchange tracking results with got10k, pysot, pytracking, the OTB "
        "MATLAB toolkit and the VOT toolkit. 'rankatt COMMAND --help' lists a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"rankatt_lib {__version__}")
    sub = parser.add_subparsers(dest="command")
    _delegate(sub, "download")
    _delegate(sub, "synthetic")
    _delegate(sub, "photo")
    _delegate(sub, "run")
    sc = sub.add_parser(
        "score",
        help="score a results folder (any toolkit's layout) under one or every protocol",
        description="Score one tracker's results folder (this project's, got10k's, pysot's, pytracking's "
        "or OTB MATLAB .mat files) on a dataset under one protocol or all of them; --explain says, per "
        "sequence, why the numbers differ between protocols (frame 1 replaced, invalid ground-truth frames "
        "masked or excluded, bad predictions replaced, Tiger1's frames 6-354, denominators).",
    )
    sc.add_argument("results", help="a tracker folder, e.g. results/OTB2015/rankatt or their_results/OTB100/SiamRPN")
    sc.add_argument("--dataset", required=True, help="the dataset folder (an OTB folder or OTB-format sequences)")
    sc.add_argument("--protocol", default="all", help="a protocol name or 'all' (default)")
    sc.add_argument("--explain", action="store_true", help="per sequence: why the protocols disagree")
    sc.add_argument("--explain-all", action="store_true", help="with --explain: also sequences that agree")
    sc.add_argument("--source-tracker", default=None, help="which tracker's .mat files (when several)")
    sc.add_argument("--skip-missing", action="store_true", help="score the sequences that have results")
    _delegate(sub, "report")
    _delegate(sub, "bench")
    _delegate(sub, "train")
    tr = sub.add_parser("track", help="track an object through a video file, a folder of frames or a webcam")
    tr.add_argument(
        "video", help="a video file (anything OpenCV decodes), a folder of images, or a webcam index (0, 1, ...)"
    )
    where = tr.add_mutually_exclusive_group(required=True)
    where.add_argument("--box", help="x,y,w,h of the object in the first tracked frame (0-based pixels)")
    where.add_argument(
        "--select", action="store_true", help="draw the box on the first tracked frame (needs a display)"
    )
    tr.add_argument("--tracker", default=None, help="a registered tracker (default: rankatt, else csrt)")
    tr.add_argument("--frames", default=None, help="frames a to b only (1-based, inclusive: 10:250, or 10: to the end)")
    tr.add_argument(
        "--out", default=None, help="write the boxes here, one x,y,w,h line per frame (seconds: <out>_time.txt)"
    )
    tr.add_argument(
        "--render", default=None, help="a copy with the boxes drawn (.mp4: H.264, for browsers; .avi: MJPG)"
    )
    tr.add_argument("--device", default=None, help="cpu, cuda, cuda:N (trackers that use torch)")
    tr.add_argument(
        "--skip-damaged",
        action="store_true",
        help="skip a damaged (truncated) frame with a warning, its row nan (default: stop with an error)",
    )
    tr.add_argument("--no-progress", action="store_true", help="no progress bar")
    ex = sub.add_parser(
        "export",
        help="write a tracker's results in another toolkit's layout (and pysot's OTB json)",
        description="Write one tracker's results folder (this project's layout) in the layout and sequence "
        "spelling of got10k (results/OTB2015/T/Human4.txt, times/), pysot (Jogging-1.txt), pytracking "
        "(Jogging_1.txt, tabs, _time.txt) or the OTB MATLAB toolkit (jogging-1_T.mat). --pysot-json with "
        "--dataset OTB_DIR writes pysot's OTB100.json / CVPR13.json / OTB50.json for the complete versions.",
    )
    ex.add_argument("results", nargs="?", default=None, help="a tracker folder, e.g. results/OTB2015/rankatt")
    ex.add_argument("--toolkit", required=True, choices=("got10k", "pysot", "pytracking", "otb-mat"))
    ex.add_argument("--out", required=True, help="the toolkit's results folder (e.g. results/OTB2015 for got10k)")
    ex.add_argument("--tracker", default=None, help="the tracker's name there (default: the folder's name)")
    ex.add_argument("--dataset", default=None, help="the dataset folder (ground truth for .mat; pysot's json)")
    ex.add_argument("--pysot-json", action="store_true", help="write pysot's OTB json files from --dataset")
    ex.add_argument("--json-out", default=None, help="where pysot's json files go (default: --out)")
    im = sub.add_parser(
        "import",
        help="read another toolkit's results folder into this project's layout",
        description="Read a results folder of got10k, pysot, pytracking (any sequence spelling, timing beside "
        "the boxes or in times/) or OTB MATLAB .mat files into RESULTS/BENCHMARK/TRACKER/<sequence>.txt, "
        "where every protocol here can score it. An existing result with other boxes is never replaced "
        "unless --overwrite.",
    )
    im.add_argument("folder", help="the toolkit's tracker folder (or a folder of <seq>_<tracker>.mat files)")
    im.add_argument("--results", required=True, help="this project's results root (e.g. results)")
    im.add_argument("--benchmark", required=True, help="benchmark folder under --results (e.g. OTB2015)")
    im.add_argument("--tracker", default=None, help="tracker folder name here (default: the source's name)")
    im.add_argument("--source-tracker", default=None, help="which tracker's .mat files (when several)")
    im.add_argument("--dataset", default=None, help="keep only this dataset's sequences, under its names")
    im.add_argument("--overwrite", action="store_true", help="replace existing results with other boxes")

    _delegate(sub, "vot")
    sub.add_parser("info", help="print the version and the device the library would use")
    sub.add_parser("trackers", help="list the registered trackers")
    args = parser.parse_args(args_list)

    if args.command in (None, "info"):
        print(f"rankatt_lib {__version__} on device {device()}")
        return 0
    if args.command == "trackers":
        from rankatt_lib.registry import available_trackers

        print("\n".join(available_trackers()))
        return 0
    if args.command == "track":
        from rankatt_lib.registry import get_factory
        from rankatt_lib.toolkits.video import (
            VideoError,
            default_tracker,
            parse_box,
            parse_frames,
            time_path,
            track_video,
        )

        name = args.tracker or default_tracker()
        kwargs = {}
        if args.device is not None:
            kwargs["device"] = args.device
        try:
            get_factory(name)
            boxes = track_video(
                args.video,
                None if args.select else parse_box(args.box),
                tracker=name,
                frames=parse_frames(args.frames) if args.frames else None,
                select=args.select,
                out=args.out,
                render=args.render,
                progress=not args.no_progress,
                damaged="skip" if args.skip_damaged else "error",
                **kwargs,
            )
        except (VideoError, ValueError, KeyError) as exc:
            msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            print(f"error: {msg}", file=sys.stderr)
            for note in getattr(exc, "__notes__", ()):
                print(note, file=sys.stderr)
            return 2
        except KeyboardInterrupt as exc:
            notes = "; ".join(getattr(exc, "__notes__", ()))
            print("\ninterrupted" + (f": {notes}" if notes else ""), file=sys.stderr)
            return 130
        print(
            f"tracked {len(boxes)} frames with {name}"
            + (f"; boxes in {args.out}, seconds per frame in {time_path(args.out)}" if args.out else "")
        )
        if args.render:
            print(f"rendered video: {args.render}")
        if not args.out:
            for b in boxes:
                print(",".join(f"{v:.2f}" for v in b))
        return 0
    if args.command in ("export", "import", "score"):
        handler = {"export": _export, "import": _import, "score": _score}[args.command]
        try:
            return handler(args)
        except (ValueError, KeyError, OSError) as exc:
            msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            print(f"error: {msg}", file=sys.stderr)
            return 2
    parser.error(f"unknown command {args.command!r}")
    return 2


def _dataset(path: str) -> Any:
    from rankatt_lib.evaluation.run import UsageError, _load_dataset

    try:
        return _load_dataset(path)[0]
    except UsageError as exc:
        raise ValueError(str(exc)) from None


def _export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rankatt_lib import toolkits

    if args.pysot_json and not args.dataset:
        raise ValueError("--pysot-json needs --dataset, the OTB folder the json describes")
    if args.results is None and not args.pysot_json:
        raise ValueError("nothing to export: give a results folder (or --pysot-json --dataset OTB_DIR)")
    if args.results is not None:
        src = Path(args.results)
        found = toolkits.read_results_folder(src)
        ds = _dataset(args.dataset) if args.dataset else None
        names = toolkits.project_names(found.boxes, ds.names if ds is not None else None)
        boxes = {names[k]: v for k, v in found.boxes.items() if k in names}
        times = {names[k]: v for k, v in found.times.items() if k in names}
        tracker = args.tracker or src.resolve().name
        gt = None
        if args.toolkit == "otb-mat" and ds is not None:
            gt = {s.name: s.gt for s in ds if s.name in boxes}
        files = toolkits.export_results(boxes, args.out, args.toolkit, tracker, times=times, ground_truth=gt)
        for note in toolkits.export_notes(boxes, args.toolkit):
            print(f"note: {note}", file=sys.stderr)
        print(
            f"wrote {len(files)} files for {len(boxes)} sequences of {tracker} in {args.toolkit}'s layout "
            f"under {args.out}"
        )
    if args.pysot_json:
        from rankatt_lib.data.otb import MissingDataError

        try:
            written = toolkits.write_pysot_json(args.dataset, args.json_out or args.out)
        except MissingDataError as exc:
            raise ValueError(f"pysot json: {exc}") from None
        print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rankatt_lib import toolkits

    src = Path(args.folder)
    names = list(_dataset(args.dataset).names) if args.dataset else None
    tracker = args.tracker or args.source_tracker or src.resolve().name
    written = toolkits.import_results(
        src, args.results, args.benchmark, tracker,
        source_tracker=args.source_tracker, dataset_names=names, overwrite=args.overwrite,
    )
    print(f"imported {len(written)} sequences into {Path(args.results) / args.benchmark / tracker}")
    if names is not None:
        absent = [n for n in names if n not in written]
        if absent:
            shown = ", ".join(absent[:12]) + (", ..." if len(absent) > 12 else "")
            print(f"note: no result in {src} for {len(absent)} sequence(s) of the dataset: {shown}", file=sys.stderr)
    return 0


def _score(args: argparse.Namespace) -> int:
    from rankatt_lib import evaluation, toolkits
    from rankatt_lib.evaluation.explain import explain_sequence, format_explanation

    if args.protocol == "all":
        protocols = evaluation.ALL_PROTOCOLS
    elif args.protocol in evaluation.ALL_PROTOCOLS or args.protocol in evaluation.PROTOCOL_ALIASES:
        protocols = (args.protocol,)
    else:
        known = ", ".join(evaluation.ALL_PROTOCOLS)
        raise ValueError(f"unknown protocol {args.protocol!r}; choose 'all' or one of {known}")
    found = toolkits.read_results_folder(args.results, args.source_tracker)
    ds = _dataset(args.dataset)
    names = toolkits.project_names(found.boxes, ds.names)
    boxes = {names[k]: v for k, v in found.boxes.items() if k in names}
    missing = [n for n in ds.names if n not in boxes]
    if missing and not args.skip_missing:
        raise ValueError(
            f"{args.results}: no result for {len(missing)} of {len(ds.names)} sequences of the dataset "
            f"({', '.join(missing[:12])}{', ...' if len(missing) > 12 else ''}); --skip-missing scores the others"
        )
    sequences = [s for s in ds if s.name in boxes]
    print(f"{args.results}: {len(sequences)} sequences of {ds.name}")
    width = max(len(p) for p in protocols)
    print(f"{'protocol':<{width}}  {'AUC':>7}  {'precision':>9}")
    for p in protocols:
        try:
            s = evaluation.score_dataset(boxes, sequences, protocol=p)
            print(f"{p:<{width}}  {s.auc:7.4f}  {s.precision:9.4f}")
        except ValueError as exc:
            print(f"{p:<{width}}  refused: {exc}")
    import numpy as np

    late = [evaluation.size_ratio(boxes[s.name], s.gt)[50:] for s in sequences]
    late = np.concatenate(late) if late else np.array([])
    if np.isfinite(late).any():
        print(
            f"box size / ground-truth size (sqrt(w h)), frames 51 and later: median {np.nanmedian(late):.3f} "
            f"over {int(np.isfinite(late).sum())} frames (1 = right size)"
        )
    if args.explain:
        print()
        explained = [explain_sequence(boxes[s.name], s.gt, s.name, protocols) for s in sequences]
        print(format_explanation(explained, show_all=args.explain_all))
    return 0


if __name__ == "__main__":
    sys.exit(main())
