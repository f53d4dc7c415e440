"""Run waveplan's command line from this plugin's source (``waveplan_main.py serve``).

``scripts/waveplan-launch`` starts it as ``python -I waveplan_main.py ...``: isolated mode
puts neither the current directory nor ``PYTHONPATH`` on ``sys.path``, so the package
imported is the one in ``<plugin root>/mcp_server``, whatever project the session is in.
The interpreter only needs the runtime dependencies (``requirements.txt``): waveplan
itself is never built or installed.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, os.pardir, "mcp_server")))

from waveplan.cli import main  # noqa: E402

sys.exit(main())
