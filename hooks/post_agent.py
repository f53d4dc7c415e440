"""PostToolUse(Agent|Task): check a foreground result is DONE|<path>; record it.

Thin entry point: the logic is waveplan.hooks (HOOKS["post-agent"]). Started by
scripts/waveplan-launch with the plugin's interpreter; without one it is never run.
"""

import sys

try:
    from waveplan.hooks import main
except Exception:  # no usable waveplan package: fail open
    sys.exit(0)

sys.exit(main(["post-agent"]))
