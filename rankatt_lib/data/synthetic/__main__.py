"""``python -m rankatt_lib.data.synthetic``: the same as ``rankatt synthetic``."""

from rankatt_lib.data.synthetic.benchmark import main

raise SystemExit(main())
