#!/usr/bin/env python
"""Train the ranking updater offline: ``rankatt train`` under its old name.

    python data_scripts/train_ranking.py --data data/synthetic/train --out checkpoints/ranking.pt --epochs 12

Everything (options, caching, resuming, the records written) is :mod:`rankatt_lib.training.cli`; see
``rankatt train --help``.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from rankatt_lib.training.cli import main
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from rankatt_lib.training.cli import main

if __name__ == "__main__":
    sys.exit(main())
