"""Command line entry point: ``python -m rankatt_lib`` (or ``rankatt``).

    python -m rankatt_lib info
    python -m rankatt_lib track VIDEO --box x,y,w,h [--tracker NAME] [--out boxes.txt] [--render out.mp4]
        [--skip-damaged]
    python -m rankatt_lib trackers
"""

from __future__ import annotations

import argparse
import sys

from . import __version__, device


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rankatt", description="rankatt tracking library")
    parser.add_argument("--version", action="version", version=f"rankatt_lib {__version__}")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("info", help="print the version and the device the library would use")
    sub.add_parser("trackers", help="list the registered trackers")
    tr = sub.add_parser("track", help="track an object through a video file or a folder of frames")
    tr.add_argument("video", help="a video file (anything OpenCV decodes) or a folder of images")
    tr.add_argument("--box", required=True, help="x,y,w,h of the object in the first frame (0-based pixels)")
    tr.add_argument("--tracker", default=None, help="a registered tracker (default: rankatt, else csrt)")
    tr.add_argument("--out", default=None, help="write the boxes here, one x,y,w,h line per frame")
    tr.add_argument("--render", default=None, help="write a copy of the video with the boxes drawn (.mp4/.avi)")
    tr.add_argument("--device", default=None, help="cpu, cuda, cuda:N (trackers that use torch)")
    tr.add_argument(
        "--skip-damaged",
        action="store_true",
        help="skip a damaged (truncated) frame with a warning, its row nan (default: stop with an error)",
    )
    tr.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    if args.command in (None, "info"):
        print(f"rankatt_lib {__version__} on device {device()}")
        return 0
    if args.command == "trackers":
        from .registry import available_trackers

        print("\n".join(available_trackers()))
        return 0
    if args.command == "track":
        from .registry import get_factory
        from .video import VideoError, default_tracker, parse_box, track_video

        name = args.tracker or default_tracker()
        kwargs = {}
        if args.device is not None:
            kwargs["device"] = args.device
        try:
            get_factory(name)
            boxes = track_video(
                args.video,
                parse_box(args.box),
                tracker=name,
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
        print(f"tracked {len(boxes)} frames with {name}" + (f"; boxes in {args.out}" if args.out else ""))
        if args.render:
            print(f"rendered video: {args.render}")
        if not args.out:
            for b in boxes:
                print(",".join(f"{v:.2f}" for v in b))
        return 0
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
