"""Output file names for agents, and where they go.

Every task's agent writes its full result to ``<directory>/<sanitized_subject>.md`` and
returns ``DONE|<path>``. Names are unique within a plan, and each plan has its own
directory, so plans never share a file:

    <base>/<plan name>-<suffix>/<sanitized subject>.md

``base`` (``output_base``) is outside the user's project by default, so task results do
not land in the user's git tree: ``$WAVEPLAN_OUTPUT_DIR``, else
``$CLAUDE_SCRATCHPAD_DIR`` (session-isolated where Claude Code sets it; 2.1.330 does
not), else ``$XDG_DATA_HOME/waveplan/outputs`` (``~/.local/share`` when unset). The
plugin's hooks let a task's subagent write its own output file there without a
permission prompt, and put a ``.gitignore`` in the plan's directory.

>>> sanitize_subject("Review code-cleanup-optimizer")
'review_code-cleanup-optimizer'
>>> output_file_names([("1", "Fix bug"), ("2", "Fix bug!")], "/tmp/s")
{'1': '/tmp/s/fix_bug.md', '2': '/tmp/s/fix_bug_2.md'}
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Mapping, Sequence

from waveplan.errors import DuplicateTaskIdError

__all__ = [
    "FALLBACK_NAME",
    "MAX_NAME_LENGTH",
    "output_base",
    "output_file_names",
    "plan_output_dir",
    "sanitize_subject",
]


MAX_NAME_LENGTH = 80
FALLBACK_NAME = "task"

_DISALLOWED = re.compile(r"[^a-z0-9_-]+")
_SEPARATOR_RUN = re.compile(r"[_-]{2,}")


def _collapse(run: re.Match[str]) -> str:
    # A run that came from a space keeps the space's "_"; a pure hyphen run stays "-".
    return "_" if "_" in run.group(0) else "-"


def sanitize_subject(subject: str) -> str:
    """A file-name-safe spelling of a task subject.

    Lowercase; accents dropped; whitespace becomes ``_``; anything but ``[a-z0-9_-]``
    is removed; runs of ``_``/``-`` collapse to one; leading and trailing separators
    are trimmed; at most ``MAX_NAME_LENGTH`` characters; ``"task"`` if nothing is left.

    Parameters
    ----------
    subject
        The task subject.

    Returns
    -------
    str

    Examples
    --------
    >>> sanitize_subject("  Add OAuth2 login (Google) -- v2!  ")
    'add_oauth2_login_google_v2'
    >>> sanitize_subject("Créer l'API")
    'creer_lapi'
    >>> sanitize_subject("???")
    'task'
    """
    ascii_text = unicodedata.normalize("NFKD", subject).encode("ascii", "ignore").decode()
    name = re.sub(r"\s+", "_", ascii_text.lower().strip())
    name = _DISALLOWED.sub("", name)
    name = _SEPARATOR_RUN.sub(_collapse, name).strip("_-")
    name = name[:MAX_NAME_LENGTH].rstrip("_-")
    return name or FALLBACK_NAME


def output_file_names(tasks: Sequence[tuple[str, str]], directory: str) -> dict[str, str]:
    """The output file of each task: ``{directory}/{sanitized subject}.md``, unique.

    A name already taken gets ``_2``, ``_3`` ... in task order (the first task keeps the
    plain name), so the mapping is deterministic.

    Parameters
    ----------
    tasks
        ``(task id, subject)`` pairs in plan order.
    directory
        Where the files go (trailing ``/`` ignored; ``""`` gives bare file names).

    Returns
    -------
    dict[str, str]
        Path by task id, in task order.

    Raises
    ------
    DuplicateTaskIdError
        When a task id appears twice.

    Examples
    --------
    >>> output_file_names([("a", "Build API"), ("b", "build api"), ("c", "Build API 2")], "out/")
    {'a': 'out/build_api.md', 'b': 'out/build_api_2.md', 'c': 'out/build_api_2_2.md'}
    """
    prefix = directory if directory in ("", "/") else directory.rstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    taken: set[str] = set()
    result: dict[str, str] = {}
    for task_id, subject in tasks:
        if task_id in result:
            raise DuplicateTaskIdError(task_id)
        base = sanitize_subject(subject)
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        result[task_id] = f"{prefix}{name}.md"
    return result


def output_base(env: Mapping[str, str]) -> str:
    """The directory under which each plan gets its output directory.

    >>> output_base({"WAVEPLAN_OUTPUT_DIR": "/o", "CLAUDE_SCRATCHPAD_DIR": "/s"})
    '/o'
    >>> output_base({"CLAUDE_SCRATCHPAD_DIR": "/s/"})
    '/s'
    >>> output_base({"XDG_DATA_HOME": "/x"}), output_base({"HOME": "/h"})
    ('/x/waveplan/outputs', '/h/.local/share/waveplan/outputs')
    """
    for name in ("WAVEPLAN_OUTPUT_DIR", "CLAUDE_SCRATCHPAD_DIR"):
        if env.get(name, "").strip():
            return os.path.expanduser(env[name].strip()).rstrip("/") or "/"
    data_home = env.get("XDG_DATA_HOME") or os.path.join(
        env.get("HOME") or os.path.expanduser("~"), ".local", "share"
    )
    return os.path.join(data_home, "waveplan", "outputs")


def plan_output_dir(base: str, plan_name: str, suffix: str) -> str:
    """A plan's own output directory: ``<base>/<sanitized plan name>-<suffix>``.

    The caller picks ``suffix`` (the shell draws a random one), so two plans, even of
    the same name or from two databases, never share a directory.

    >>> plan_output_dir("/o/", "Auth feature", "3f2a9c1d")
    '/o/auth_feature-3f2a9c1d'
    """
    return f"{base.rstrip('/') or ''}/{sanitize_subject(plan_name or 'plan')[:40]}-{suffix}"
