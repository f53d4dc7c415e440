"""SessionStart: a few lines on this project's open plans.

Thin entry point: the logic is waveplan.hooks (HOOKS["session-start"]). scripts/waveplan-launch
runs it isolated (python -I): waveplan comes from this plugin, never from the cwd.
"""

import os
import sys

sys.path.insert(
    0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "mcp_server")
)
try:
    from waveplan.hooks import main
except Exception:  # no usable waveplan package: fail open
    sys.exit(0)

sys.exit(main(["session-start"]))
