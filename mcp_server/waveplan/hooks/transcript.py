"""The prompt of a subagent, from its transcript, read within fixed bounds.

SubagentStop names the subagent's transcript (``agent_transcript_path``, JSON lines;
the first ``user`` entry holds the prompt) but Claude Code 2.1.330 often writes that
file only after the hook started (measured: absent at the hook's start, present about
0.1 s later). So the reader polls briefly, and it never trusts the path: only a regular
file is opened (a FIFO or a device would block or never end), at most ``MAX_BYTES`` and
``MAX_LINES`` are read, and lines that are not JSON objects are skipped.
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Callable
from typing import Any

__all__ = ["MAX_BYTES", "MAX_LINES", "first_prompt", "wait_for_prompt"]

MAX_BYTES = 512 * 1024
MAX_LINES = 50


def _text_of(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            str(b.get("text", ""))
            for b in content
            if isinstance(b, dict) and b.get("type") == "text"
        ]
        if texts:
            return "\n".join(texts)
    return None


def first_prompt(path: str | None) -> str | None:
    """The first user message of the transcript at ``path``, or ``None`` (no such regular
    file yet, nothing readable in the first ``MAX_LINES`` lines / ``MAX_BYTES``)."""
    if not path:
        return None
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        # O_NONBLOCK: if the path was swapped for a FIFO after the stat, open() must
        # still not wait for a writer.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except (OSError, ValueError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = os.read(fd, MAX_BYTES)
    except OSError:
        return None
    finally:
        os.close(fd)
    for line in data.decode("utf-8", "replace").splitlines()[:MAX_LINES]:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict) or entry.get("type") != "user":
            continue
        message = entry.get("message")
        if isinstance(message, dict):
            text = _text_of(message.get("content"))
            if text is not None:
                return text
    return None


def wait_for_prompt(
    path: str | None,
    deadline: float,
    *,
    found_elsewhere: Callable[[], bool] = lambda: False,
    interval: float = 0.05,
) -> str | None:
    """Poll ``first_prompt(path)`` until it answers, ``found_elsewhere()`` is true, or the
    monotonic ``deadline`` passes."""
    while True:
        prompt = first_prompt(path)
        if prompt is not None or found_elsewhere() or time.monotonic() >= deadline:
            return prompt
        time.sleep(interval)
