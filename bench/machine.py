"""One line describing the machine a benchmark ran on (every bench script prints it)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

__all__ = ["describe"]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def describe(*extras: str) -> str:
    """``"2 CPUs (AMD EPYC ...), Python 3.11.7, Linux 6.x, <extras>; load average 0.4"``."""
    load = f"; load average {os.getloadavg()[0]:.2f} at start" if hasattr(os, "getloadavg") else ""
    parts = [
        f"{os.cpu_count()} CPUs ({_cpu_model()})",
        f"Python {platform.python_version()}",
        f"{platform.system()} {platform.release()}",
        *extras,
    ]
    return ", ".join(parts) + load
