#!/usr/bin/env python
"""Download OTB-2013 / OTB-2015 (and UAV123, TC128) for rankatt: resumable, verified, atomic.

Examples (see data_scripts/README.md)::

    python data_scripts/download_otb.py --dataset otb2015            # -> data/OTB
    python data_scripts/download_otb.py --dataset otb2013 --sequences Jogging David
    python data_scripts/download_otb.py --dataset tc128              # -> data/TC128
    python data_scripts/download_otb.py --dataset uav123 --from-dir ~/Downloads
    python data_scripts/download_otb.py --list

The work is done by :mod:`rankatt_lib.data.download`; run with ``--help`` for every option.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from rankatt_lib.data.download import main
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from rankatt_lib.data.download import main

if __name__ == "__main__":
    sys.exit(main())
