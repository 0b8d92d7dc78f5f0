"""Offline training of the ranking updater with Eq. 9 (paper §2.1, §3.1).

* :mod:`~rankatt_lib.training.offline`: clips, the feature cache, the training loop, sweeps (its
  API is re-exported here);
* :mod:`~rankatt_lib.training.cli`: the command line ``rankatt train``.
"""

from __future__ import annotations

from rankatt_lib.training.offline import *  # noqa: F403
from rankatt_lib.training.offline import __all__  # noqa: F401
