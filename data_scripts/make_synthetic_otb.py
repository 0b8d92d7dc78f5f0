#!/usr/bin/env python
"""Generate rankatt's synthetic tracking benchmark in the OTB format.

Examples::

    python data_scripts/make_synthetic_otb.py --out data/synthetic --seed 0          # both splits
    python data_scripts/make_synthetic_otb.py --out data/synthetic --split test
    python data_scripts/make_synthetic_otb.py --out /tmp/tiny --n-test 3 --n-train 0 --frames 20 30

The output is ``OUT/test/<SEQ>/...`` and ``OUT/train/<SEQ>/...`` (``img/0001.jpg``,
``groundtruth_rect.txt``, ``attributes.txt``) plus ``OUT/README.txt`` and ``OUT/meta.json``.
The same seed always gives the same benchmark. The same command is ``rankatt synthetic``; the work
is done by :func:`rankatt_lib.data.synthetic.main` and :func:`rankatt_lib.data.synthetic.make_synthetic_benchmark`.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from rankatt_lib.data.synthetic import main
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from rankatt_lib.data.synthetic import main

if __name__ == "__main__":
    sys.exit(main())
