"""Data: sequences on disk, and the benchmarks this library makes or downloads. Never tracks.

* :mod:`~rankatt_lib.data.otb`: OTB-format sequences and datasets (its API is re-exported here:
  ``data.OTBFormatDataset``, ``data.OTB``, ``data.Sequence``);
* :mod:`~rankatt_lib.data.otb_meta`: OTB2013/2015's names, frame ranges and quirks;
* :mod:`~rankatt_lib.data.download`: OTB, UAV123 and TC128 from their servers, resumable;
* :mod:`~rankatt_lib.data.synthetic`: the deterministic synthetic benchmark;
* :mod:`~rankatt_lib.data.photoseq`: pseudo-sequences cut from real photographs.
"""

from __future__ import annotations

from rankatt_lib.data.otb import *  # noqa: F403
from rankatt_lib.data.otb import __all__  # noqa: F401
