"""Features: what the trackers see.

* :mod:`~rankatt_lib.features.geometry`: boxes, crops (the scale pyramid's patches), Gaussian
  labels and windows, frames uploaded to the device.
* :mod:`~rankatt_lib.features.vgg16`: the frozen VGG16 backbone to ``conv4_3`` (``xL = conv3_3``,
  ``xS = conv4_3``) and its command line;
* :mod:`~rankatt_lib.features.weights`: its pretrained weights, offline (sources, conversion,
  checksums). The API of both is re-exported here.
"""

from __future__ import annotations

from rankatt_lib.features import vgg16, weights
from rankatt_lib.features.vgg16 import *  # noqa: F403
from rankatt_lib.features.weights import *  # noqa: F403

__all__ = [*vgg16.__all__, *weights.__all__]
