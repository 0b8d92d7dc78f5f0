"""``python -m rankatt_lib.features info|export PATH``: which weights the backbone uses, or export them."""

from rankatt_lib.features.vgg16 import main

raise SystemExit(main())
