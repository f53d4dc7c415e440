"""Where the task database lives.

Resolution order: ``$WAVEPLAN_DB`` (a file path, or a URL such as
``postgresql://...`` for another backend), else ``$CLAUDE_PLUGIN_DATA/waveplan.sqlite3``
(the plugin's persistent data dir), else the per-user data dir
``$XDG_DATA_HOME/waveplan/waveplan.sqlite3`` (``~/.local/share`` when unset).

>>> resolve_location("/tmp/x.db", environ={})
'/tmp/x.db'
>>> resolve_location(None, environ={"CLAUDE_PLUGIN_DATA": "/data"})
'/data/waveplan.sqlite3'
>>> resolve_location(None, environ={"XDG_DATA_HOME": "/xdg"})
'/xdg/waveplan/waveplan.sqlite3'
>>> scheme_of("postgresql://host/db"), scheme_of("/tmp/x.db"), scheme_of("C:\\\\x.db")
('postgresql', 'sqlite', 'sqlite')
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

__all__ = ["DB_FILENAME", "resolve_location", "scheme_of", "sqlite_path"]

DB_FILENAME = "waveplan.sqlite3"

# A URL scheme needs 2+ characters, so a Windows drive letter ("C:\\") is a path.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")


def resolve_location(location: str | None, environ: Mapping[str, str] | None = None) -> str:
    """The database location: ``location`` if given, else from the environment."""
    env = os.environ if environ is None else environ
    if location:
        return location
    if env.get("WAVEPLAN_DB"):
        return env["WAVEPLAN_DB"]
    if env.get("CLAUDE_PLUGIN_DATA"):
        return str(Path(env["CLAUDE_PLUGIN_DATA"]) / DB_FILENAME)
    data_home = env.get("XDG_DATA_HOME") or str(
        Path(env.get("HOME") or Path.home()) / ".local/share"
    )
    return str(Path(data_home) / "waveplan" / DB_FILENAME)


def scheme_of(location: str) -> str:
    """The backend a location names: its URL scheme, or ``"sqlite"`` for a file path.

    ``sqlite:///path`` and ``file:`` URLs are SQLite too.
    """
    m = _SCHEME.match(location)
    if not m:
        return "sqlite"
    scheme = m.group(1).lower()
    if scheme in ("file", "sqlite", "sqlite3"):
        return "sqlite"
    if scheme in ("postgres", "postgresql") or scheme.startswith("postgresql+"):
        return "postgresql"
    return scheme


def sqlite_path(location: str) -> Path:
    """The file path of an SQLite location (plain path, ``sqlite:///p`` or ``file:p``).

    >>> str(sqlite_path("sqlite:////tmp/a.db")), str(sqlite_path("file:/tmp/a.db"))
    ('/tmp/a.db', '/tmp/a.db')
    >>> str(sqlite_path("~/w.db")) == str(Path.home() / "w.db")
    True
    """
    for prefix in ("sqlite:///", "sqlite3:///", "file://", "file:"):
        if location.lower().startswith(prefix):
            # Like SQLAlchemy: sqlite:///rel.db is relative, sqlite:////abs.db absolute.
            location = location[len(prefix) :]
            break
    return Path(location).expanduser()
