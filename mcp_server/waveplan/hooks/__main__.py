"""``python -m waveplan.hooks <name>``: run one Claude Code hook (JSON on stdin)."""

import sys

from waveplan.hooks import main

sys.exit(main())
