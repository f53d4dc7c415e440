"""SessionStart: a few lines on this project's open plans.

Thin entry point: the logic is waveplan.hooks (HOOKS["session-start"]). Started by
scripts/waveplan-launch with the plugin's interpreter; without one it is never run.
"""

import sys

try:
    from waveplan.hooks import main
except Exception:  # no usable waveplan package: fail open
    sys.exit(0)

sys.exit(main(["session-start"]))
