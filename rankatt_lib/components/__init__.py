"""The paper's components, one module per idea, each usable without a tracker.

* :mod:`~rankatt_lib.components.pnr`: the peak-to-noise ratio (Eq. 1-2);
* :mod:`~rankatt_lib.components.ranking`: the ranking of N kernels by PNR (Eq. 3-5);
* :mod:`~rankatt_lib.components.convlstm`: PreNet and the ConvLSTM that updates the ranking
  (Eq. 6-7), and the trained updater;
* :mod:`~rankatt_lib.components.attention`: the attention map and the residual attention (Eq. 8),
  the loss of Eq. 9;
* :mod:`~rankatt_lib.components.init_kernel`: the frame-1 kernel :math:`h_0` by Eq. 9;
* :mod:`~rankatt_lib.components.parts`: the part-based tracker (Sec. 2.2, Eq. 10);
* :mod:`~rankatt_lib.components.online`: the online training set and when to train on it.

A component imports features and the core (``rankatt_lib``, ``configs``), never a tracker:
``tests/test_layers.py`` holds that.
"""
