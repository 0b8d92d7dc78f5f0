"""Features: what the trackers see.

* :mod:`~rankatt_lib.features.geometry`: boxes, crops (the scale pyramid's patches), Gaussian
  labels and windows, frames uploaded to the device.
* :mod:`~rankatt_lib.features.vgg16`: the frozen VGG16 backbone to ``conv4_3`` with its offline
  pretrained weights (``xL = conv3_3``, ``xS = conv4_3``); its API is re-exported here.
"""

from __future__ import annotations

from rankatt_lib.features.vgg16 import *  # noqa: F403
from rankatt_lib.features.vgg16 import __all__  # noqa: F401
