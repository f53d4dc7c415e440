"""Seeded plan *files* with realistic task text, for the planner front-end benchmarks.

``bench/generators.py`` makes task objects with placeholder subjects (``task 17``),
which is right for the scheduler but leaves the keyword matcher nothing to do. The
planner front end (``waveplan plan``: load, validate, score, choose agents, schedule,
render) spends its time on text, so these plans carry subjects like
"Refactor the billing API and update the tests" and, for a third of the tasks, a
description of one or two sentences, drawn from the lexicon's words, the agents'
keywords (with inflections and phrases) and neutral words. The graph is the
``uniform`` family's shape (about 3 dependencies on random earlier tasks, about 2
file references per task).

``write_plan_file(path, n, fmt="json")`` writes one; ``python bench/planfiles.py N
[--format yaml] > plan.json`` prints one.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

__all__ = ["plan_data", "write_plan_file"]

VERBS = (
    "Add", "Analyze", "Build", "Configure", "Create", "Debug", "Deploy", "Design",
    "Document", "Extract", "Fix", "Implement", "Integrate", "Migrate", "Optimize",
    "Refactor", "Remove", "Rename", "Review", "Rewrite", "Set up", "Test", "Update",
    "Upgrade", "Validate", "Verify", "Write", "Audit", "Investigate", "Clean up",
    "Explain", "Trace", "Benchmark", "Port", "Polish", "Tune",
)  # fmt: skip
OBJECTS = (
    "the billing API", "the login endpoint", "database schema", "the CLI parser",
    "user profile page", "the payment queue", "REST endpoints", "GraphQL resolvers",
    "the cache layer", "Docker images", "the CI pipeline", "Kubernetes manifests",
    "auth tokens", "the data model", "webhook handlers", "the websocket server",
    "search index", "the README", "the changelog", "unit tests", "integration tests",
    "the lockfile", "npm dependencies", "the monorepo layout", "error messages",
    "the settings module", "metrics dashboards", "the release notes", "log rotation",
    "the ORM models", "password reset flow", "rate limiter", "feature flags",
    "the frontend build", "backend services", "the migration plan", "API reference",
    "code paths", "the call graph", "dead code", "race conditions", "permissions",
)  # fmt: skip
TAILS = (
    "", "", "", "", "and update the tests", "with tests", "then deploy to staging",
    "across all services", "for the whole codebase", "before the release",
    "including edge cases", "as well as the docs", "with zero downtime",
    "followed by a code review", "until the benchmarks pass", "plus a changelog entry",
    "while keeping backwards compatibility", "in production", "for every module",
)  # fmt: skip
SENTENCES = (
    "Keep the public interface stable.",
    "The legacy implementation has a known data loss bug under concurrency.",
    "See the architecture overview for how it works.",
    "Coverage must not drop; add regression tests for each fix.",
    "Pin the versions in pyproject and regenerate the lock file.",
    "Document the new options in the user guide and the FAQ.",
    "Measure memory usage and performance before and after.",
    "Security review: check for injection and secrets in logs.",
    "Use the existing conventions and patterns of the module.",
    "Roll back automatically when the health checks fail.",
    "Ask for a second opinion on the trade-off before merging.",
    "This blocks the next milestone.",
    "Nothing else should change.",
    "Write the results to the shared report.",
)


def _task(rng: random.Random, i: int, dirs: int) -> dict[str, Any]:
    subject = f"{rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(TAILS)}".strip()
    task: dict[str, Any] = {"id": f"t{i}", "subject": subject}
    if rng.random() < 1 / 3:
        task["description"] = " ".join(rng.sample(SENTENCES, rng.randint(1, 2)))
    if i:
        m = min(i, round(rng.expovariate(1 / 3)))
        deps = sorted({rng.randrange(i) for _ in range(m)})
        if deps:
            task["depends_on"] = [f"t{j}" for j in deps]
    paths = [
        f"pkg{d % 13}/mod{d}/f{rng.randrange(20)}.py"
        for d in (rng.randrange(dirs) for _ in range(rng.randint(0, 4)))
    ]
    cut = rng.randint(0, min(3, len(paths)))  # an atomic task writes at most 3 paths
    task["writes"] = paths[:cut]
    if paths[cut:]:
        task["reads"] = paths[cut:]
    return task


def plan_data(n: int, *, seed: int = 0) -> dict[str, Any]:
    """A plan of ``n`` tasks with realistic text (see the module docstring)."""
    rng = random.Random(f"planfile:{n}:{seed}")
    dirs = max(10, n // 4)
    return {
        "plan": {"name": f"bench-{n}", "max_concurrent": 8},
        "tasks": [_task(rng, i, dirs) for i in range(n)],
    }


def write_plan_file(path: str | Path, n: int, *, fmt: str = "json", seed: int = 0) -> Path:
    """Write ``plan_data(n)`` as JSON (one line) or YAML; return the path."""
    data = plan_data(n, seed=seed)
    p = Path(path)
    if fmt == "json":
        p.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
    elif fmt == "yaml":
        import yaml

        p.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    else:
        raise ValueError(f"format must be json or yaml, not {fmt!r}")
    return p


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tasks", type=int)
    ap.add_argument("--format", choices=("json", "yaml"), default="json")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    data = plan_data(args.tasks, seed=args.seed)
    if args.format == "json":
        json.dump(data, sys.stdout, separators=(",", ":"))
    else:
        import yaml

        yaml.safe_dump(data, sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main()
