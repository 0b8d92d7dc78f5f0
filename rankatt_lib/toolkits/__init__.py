"""Working with the other toolkits, and with your own videos.

* :mod:`~rankatt_lib.toolkits.layouts`: result folders and metadata in got10k's, pysot's and the
  OTB toolkit's layouts, both ways (its API is re-exported here);
* :mod:`~rankatt_lib.toolkits.got10k`: any registered tracker as a got10k tracker;
* :mod:`~rankatt_lib.toolkits.vot`: any registered tracker as a TraX process for the VOT toolkit;
* :mod:`~rankatt_lib.toolkits.video`: track an object through a video file, a folder or a camera.
"""

from __future__ import annotations

from rankatt_lib.toolkits.layouts import *  # noqa: F403
from rankatt_lib.toolkits.layouts import __all__  # noqa: F401
