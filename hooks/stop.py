"""Stop: keep an executing plan going while it has ready tasks.

Thin entry point: the logic is waveplan.hooks (HOOKS["stop"]). Started by
scripts/waveplan-launch with the plugin's interpreter; without one it is never run.
"""

import sys

try:
    from waveplan.hooks import main
except Exception:  # no usable waveplan package: fail open
    sys.exit(0)

sys.exit(main(["stop"]))
