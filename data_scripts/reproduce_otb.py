#!/usr/bin/env python
"""Reproduce the paper's OTB experiments: ``rankatt report --track`` under its old name.

    python data_scripts/reproduce_otb.py --device cuda            # = rankatt report --track --device cuda
    python data_scripts/reproduce_otb.py --score-only             # = rankatt report

Everything (options, resumability, the report) is :mod:`rankatt_lib.experiments.experiment`; see
``rankatt report --help``.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    from rankatt_lib.experiments.experiment import main
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from rankatt_lib.experiments.experiment import main


def _argv(argv: list[str]) -> list[str]:
    """This script tracks unless told ``--score-only``; ``rankatt report`` scores unless told ``--track``."""
    return argv if "--score-only" in argv or "--track" in argv else ["--track", *argv]


if __name__ == "__main__":
    sys.exit(main(_argv(sys.argv[1:])))
