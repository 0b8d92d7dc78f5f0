#!/usr/bin/env python
"""Generate rankatt's tracking sequences cut from real photographs, in the OTB format.

Examples::

    python data_scripts/make_photo_otb.py                                  # data/photo: test 20, val 10, train 40
    python data_scripts/make_photo_otb.py --out data/photo --split test
    python data_scripts/make_photo_otb.py --out /tmp/tiny --n-test 2 --n-val 1 --n-train 2 --frames 20 30
    python data_scripts/make_photo_otb.py --list-photos                    # photos, splits, licences

The output is ``OUT/<split>/photo_<split>_000/...`` (``img/0001.jpg``, ``groundtruth_rect.txt``,
``attributes.txt``, ``sequence.json``) for the splits test, val and train (disjoint photographs),
plus ``OUT/README.txt`` and ``OUT/meta.json``. The same seed always gives the same files; an
interrupted run is resumed by running the same command again. The same command is
``rankatt photo``; the work is done by :func:`rankatt_lib.data.photoseq.main` and
:func:`rankatt_lib.data.photoseq.make_photo_benchmark`.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from rankatt_lib.data.photoseq import main
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from rankatt_lib.data.photoseq import main

if __name__ == "__main__":
    sys.exit(main())
