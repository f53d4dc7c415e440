"""``python -m waveplan``: the same as the ``waveplan`` console script."""

import sys

from waveplan.cli import main

sys.exit(main())
