"""Experiments: the top layer, which runs trackers, scores them and draws what came out.

* :mod:`~rankatt_lib.experiments.experiment`: the OTB experiment (every tracker, both OTB
  versions, every protocol, the report; ``rankatt report``);
* :mod:`~rankatt_lib.experiments.plots`: success and precision plots, tables;
* :mod:`~rankatt_lib.experiments.bench`: the speed benchmark (``rankatt bench``).
"""
