"""Evaluation: running trackers over datasets and scoring what they wrote. No models, no plots.

* :mod:`~rankatt_lib.evaluation.metrics`: overlap, centre error, success and precision curves,
  the OTB protocols, the paired bootstrap (its API is re-exported here);
* :mod:`~rankatt_lib.evaluation.results`: result files in the pysot/got10k layout;
* :mod:`~rankatt_lib.evaluation.run`: one sequence (:func:`~rankatt_lib.evaluation.run.track_sequence`)
  and a whole dataset, resumable;
* :mod:`~rankatt_lib.evaluation.explain`: why one trajectory scores differently under the protocols.
"""

from __future__ import annotations

from rankatt_lib.evaluation.metrics import *  # noqa: F403
from rankatt_lib.evaluation.metrics import __all__  # noqa: F401
