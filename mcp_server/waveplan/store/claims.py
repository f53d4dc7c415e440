"""File claims: which paths a claimed or running task holds, and when two collide.

``claim_next`` never hands out a task whose files overlap those of a task that is
claimed or running. Overlap is ``waveplan.planning.paths.parts_overlap`` (a directory
or glob covers what lies below it). A task with unknown files (``writes`` omitted) may
write anything, so it collides with every writer; a task known to write nothing
collides with nobody. Under ``read_write: conflict`` reads collide with writes too.

>>> a = FileHolder("a", True, ["src"], [])
>>> a.conflict_with(FileHolder("b", True, ["src/app.py"], []), "allow")
('src', 'src/app.py')
>>> a.conflict_with(FileHolder("c", True, [], ["src/app.py"]), "allow") is None
True
>>> a.conflict_with(FileHolder("c", True, [], ["src/app.py"]), "conflict")
('src', 'src/app.py')
>>> FileHolder("u", False, [], []).conflict_with(a, "allow")
('(unknown files)', 'src')
"""

from __future__ import annotations

from waveplan.planning.paths import parts_overlap, path_parts

__all__ = ["FileHolder"]


class FileHolder:
    """The files a task holds (or would hold once claimed)."""

    def __init__(self, task_id: str, files_known: bool, writes: list[str], reads: list[str]):
        self.task_id = task_id
        self.files_known = files_known
        self.writes = writes
        self.reads = reads
        self.write_parts = [path_parts(p) for p in writes]
        self.read_parts = [path_parts(p) for p in reads]

    @property
    def writer(self) -> bool:
        """Whether the task may write anything (unknown files count as writing)."""
        return not self.files_known or bool(self.writes)

    def conflict_with(self, other: FileHolder, read_write: str) -> tuple[str, str] | None:
        """The first colliding pair of paths ``(self's, other's)``, or ``None``."""
        if not self.files_known or not other.files_known:
            if self.writer and other.writer:
                mine = self.writes[0] if self.files_known else "(unknown files)"
                theirs = other.writes[0] if other.files_known else "(unknown files)"
                return mine, theirs
            return None
        pairs = [(self.writes, self.write_parts, other.writes, other.write_parts)]
        if read_write == "conflict":
            pairs.append((self.writes, self.write_parts, other.reads, other.read_parts))
            pairs.append((self.reads, self.read_parts, other.writes, other.write_parts))
        for mine, mine_parts, theirs, theirs_parts in pairs:
            for path_a, parts_a in zip(mine, mine_parts, strict=True):
                for path_b, parts_b in zip(theirs, theirs_parts, strict=True):
                    if parts_overlap(parts_a, parts_b):
                        return path_a, path_b
        return None
