"""Any registered tracker as a TraX tracker process, for the VOT toolkit (``rankatt vot TRACKER``).

The VOT toolkit (``pip install vot-toolkit``) runs trackers as separate processes that speak the
TraX protocol (https://github.com/votchallenge/trax): the toolkit sends ``initialize`` with the
first image (a file path) and the object's region, then ``frame`` messages with the next images;
the tracker answers each with ``state`` (the region it found). This module is the tracker's side,
written with the protocol's reference library (``pip install vot-trax``, imported only here)::

    rankatt vot kcf            # a TraX tracker process (the VOT toolkit starts it)
    rankatt vot kcf --ini      # prints the trackers.ini section that tells the toolkit how

Regions: VOT rectangles are ``x, y, w, h`` with the top-left pixel at ``0, 0``; the trackers here
work in OTB's 1-based convention, so ``1`` is added on ``initialize`` and taken off each answer
(as ``rankatt track`` does). A polygon region (VOT's rotated boxes) is given to the tracker as its
axis-aligned bounding box. Each ``initialize`` (the first and every re-initialisation after a
failure) builds a fresh tracker. Images are read with the project's reader
(:func:`rankatt_lib.data.otb.read_image`), so the boxes equal ``rankatt run``'s on the same frames.

The TraX transport is chosen by the library from the environment the toolkit sets (a socket port
in ``TRAX_SOCKET``, or file descriptors in ``TRAX_IN`` / ``TRAX_OUT``, else stdin/stdout).
"""

from __future__ import annotations

import shlex
import sys
from typing import Any

import numpy as np

from rankatt_lib.data.otb import read_image
from rankatt_lib.registry import get_factory, make_tracker

__all__ = ["serve", "trackers_ini", "main"]


def _trax() -> Any:
    try:
        import trax
        import trax.server  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "rankatt vot needs the TraX library: pip install vot-trax (or pip install 'rankatt-lib[vot]')"
        ) from exc
    return trax


def _bounds(region: Any) -> np.ndarray:
    """``x, y, w, h`` (0-based) of a TraX rectangle or polygon."""
    trax = _trax()
    if isinstance(region, trax.Rectangle):
        return np.asarray(region.bounds(), dtype=np.float64)
    if isinstance(region, trax.Polygon):
        pts = np.array([tuple(p) for p in region], dtype=np.float64)
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        return np.array([x0, y0, x1 - x0, y1 - y0])
    raise ValueError(f"unsupported TraX region {region.type!r}; rankatt vot takes rectangles and polygons")


def _image_path(images: dict[str, Any]) -> str:
    img = images.get("color")
    if img is None:
        raise ValueError(f"the TraX message has no colour image (channels: {', '.join(images) or 'none'})")
    return str(img.path())


def serve(tracker: str, **options: Any) -> int:
    """Answer TraX requests with the registered ``tracker`` until the client quits. Returns the
    number of frames answered (initialisations included)."""
    get_factory(tracker)  # an unknown name fails before the handshake
    trax = _trax()
    from trax.server import Server

    answered = 0
    trk: Any = None
    with Server(
        [trax.Region.RECTANGLE, trax.Region.POLYGON],
        [trax.Image.PATH],
        ["color"],
        tracker_name=f"rankatt-{tracker}",
        tracker_description=f"rankatt_lib tracker {tracker!r} (rankatt vot {tracker})",
        tracker_family="rankatt",
    ) as server:
        while True:
            request = server.wait()
            if request.type == trax.TraxStatus.QUIT:
                break
            image = read_image(_image_path(request.image))
            if request.type == trax.TraxStatus.INITIALIZE:
                if len(request.objects) != 1:
                    raise ValueError(f"rankatt vot tracks one object; the toolkit sent {len(request.objects)}")
                box = _bounds(request.objects[0][0])
                trk = make_tracker(tracker, **options)
                trk.init(image, box + [1, 1, 0, 0])
            else:
                if trk is None:
                    raise ValueError("TraX frame before initialize")
                box = np.asarray(trk.update(image), dtype=np.float64).reshape(4) - [1, 1, 0, 0]
            x, y, w, h = (float(v) for v in box)
            server.status([(trax.Rectangle.create(x, y, w, h), {})])
            answered += 1
    return answered


def trackers_ini(tracker: str, label: str | None = None, python: str | None = None) -> str:
    """The ``trackers.ini`` section that makes the VOT toolkit run ``tracker`` through TraX."""
    get_factory(tracker)
    label = label or f"rankatt-{tracker}"
    command = shlex.join([python or sys.executable, "-m", "rankatt_lib", "vot", tracker])
    return (
        f"[{label}]\n"
        f"label = {label}\n"
        "protocol = trax\n"
        f"command = {command}\n"
        "# vot-toolkit starts this command and talks TraX to it (regions: rectangles, images: file paths)\n"
    )


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="rankatt vot",
        description="Run a registered tracker as a TraX tracker process for the VOT toolkit "
        "(vot-toolkit starts it; it is not run by hand). --ini prints the trackers.ini section.",
    )
    parser.add_argument("tracker", help="a registered tracker (rankatt trackers lists them)")
    parser.add_argument("--ini", action="store_true", help="print the trackers.ini section for vot-toolkit and exit")
    parser.add_argument("--label", default=None, help="with --ini: the tracker's identifier (default rankatt-TRACKER)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N (trackers that use torch)")
    args = parser.parse_args(argv)
    options = {"device": args.device} if args.device else {}
    try:
        if args.ini:
            print(trackers_ini(args.tracker, args.label), end="")
            return 0
        serve(args.tracker, **options)
    except (KeyError, ImportError, ValueError, OSError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {msg}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
