"""PreToolUse(Agent|Task): refuse launching a task that may not run now.

Thin entry point: the logic is waveplan.hooks (HOOKS["pre-agent"]). Started by
scripts/waveplan-launch with the plugin's interpreter; without one it is never run.
"""

import sys

try:
    from waveplan.hooks import main
except Exception:  # no usable waveplan package: fail open
    sys.exit(0)

sys.exit(main(["pre-agent"]))
