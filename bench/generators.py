"""Seeded random plans for the planning benchmarks.

Every family returns ``list[TaskSpec]`` built with ``TaskSpec.model_construct`` (no
pydantic validation, as a large generated plan would be fed to the core), ids
``t0..t{n-1}`` in a shuffled input order, dependencies only on lower-numbered tasks
(so the graph is acyclic), about ``deps_per_task`` dependencies and about
``files_per_task`` file references (writes and reads) per task.

Families:

- ``uniform``: dependencies on uniformly random earlier tasks; files from a large
  tree (few overlaps).
- ``layered``: tasks in about sqrt(n) layers, dependencies on the previous layers.
- ``chains``: a few long chains with sparse cross links (the chain bound dominates).
- ``overlap``: heavy file overlap: a small tree of directories, files and globs where
  directory and glob writers clash with many file writers (the files bound matters).
"""

from __future__ import annotations

import random

from waveplan.models import TaskSpec

__all__ = ["FAMILIES", "generate", "to_networkx"]

FAMILIES = ("uniform", "layered", "chains", "overlap")


def _task(i: int, deps: list[int], writes: list[str] | None, reads: list[str]) -> TaskSpec:
    return TaskSpec.model_construct(
        id=f"t{i}",
        subject=f"task {i}",
        description="",
        depends_on=[f"t{j}" for j in deps],
        writes=writes,
        reads=reads,
        priority="normal",
        type="task",
        wave=None,
        metadata={},
    )


def _tree_paths(rng: random.Random, n: int, dirs: int, files_per_dir: int) -> list[str]:
    out = []
    for _ in range(n):
        d = rng.randrange(dirs)
        out.append(f"pkg{d % 13}/mod{d}/f{rng.randrange(files_per_dir)}.py")
    return out


def _deps_uniform(rng: random.Random, i: int, k: float) -> list[int]:
    if i == 0:
        return []
    m = min(i, max(0, round(rng.expovariate(1 / k)) if k else 0))
    return sorted(set(rng.randrange(i) for _ in range(m)))


def generate(
    family: str,
    n: int,
    *,
    seed: int = 0,
    deps_per_task: float = 5.0,
    files_per_task: float = 2.0,
    unknown_share: float = 0.0,
) -> list[TaskSpec]:
    """A random plan of ``n`` tasks of one family (see the module docstring)."""
    rng = random.Random(f"{family}:{n}:{seed}")
    tasks: list[TaskSpec] = []
    if family == "uniform":
        dirs = max(10, n // 4)
        for i in range(n):
            k = rng.randint(0, round(2 * files_per_task))
            paths = _tree_paths(rng, k, dirs, 20)
            cut = rng.randint(0, k)
            tasks.append(_task(i, _deps_uniform(rng, i, deps_per_task), paths[:cut], paths[cut:]))
    elif family == "layered":
        layers = max(1, round(n**0.5))
        size = -(-n // layers)
        dirs = max(10, n // 4)
        for i in range(n):
            layer = i // size
            deps: list[int] = []
            if layer:
                lo = max(0, (layer - 2) * size)
                hi = layer * size
                m = min(hi - lo, round(rng.expovariate(1 / deps_per_task)))
                deps = sorted(set(rng.randrange(lo, hi) for _ in range(m)))
            k = rng.randint(0, round(2 * files_per_task))
            paths = _tree_paths(rng, k, dirs, 20)
            cut = rng.randint(0, k)
            tasks.append(_task(i, deps, paths[:cut], paths[cut:]))
    elif family == "chains":
        chains = max(2, n // 500)
        dirs = max(10, n // 4)
        for i in range(n):
            deps = [i - chains] if i >= chains else []
            if i >= chains and rng.random() < 0.3:
                deps.append(rng.randrange(i))
            k = rng.randint(0, round(2 * files_per_task))
            paths = _tree_paths(rng, k, dirs, 20)
            cut = rng.randint(0, k)
            tasks.append(_task(i, sorted(set(deps)), paths[:cut], paths[cut:]))
    elif family == "overlap":
        # A small tree: ~n/50 directories of 8 files, directory and glob writers.
        ndirs = max(3, n // 50)
        for i in range(n):
            deps = _deps_uniform(rng, i, deps_per_task / 5)
            writes: list[str] = []
            for _ in range(rng.randint(1, max(1, round(files_per_task)))):
                d = rng.randrange(ndirs)
                roll = rng.random()
                if roll < 0.03:
                    writes.append(f"app/d{d}")
                elif roll < 0.06:
                    writes.append(f"app/d{d}/*.py")
                else:
                    writes.append(f"app/d{d}/f{rng.randrange(8)}.py")
            reads = [f"app/d{rng.randrange(ndirs)}/f{rng.randrange(8)}.py"]
            tasks.append(_task(i, deps, writes, reads))
    else:
        raise ValueError(f"unknown family {family!r}; one of {', '.join(FAMILIES)}")
    if unknown_share:
        for t in tasks:
            if rng.random() < unknown_share:
                t.writes = None
    rng.shuffle(tasks)
    return tasks


def to_networkx(tasks: list[TaskSpec]):  # -> networkx.DiGraph
    """The dependency graph as a networkx DiGraph (edges dependency -> dependent)."""
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(t.id for t in tasks)
    g.add_edges_from((d, t.id) for t in tasks for d in t.depends_on)
    return g
