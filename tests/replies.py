"""Reply sizes: realistic plans of any size, and the bytes a client takes into context.

Used by ``tests/test_reply_sizes.py`` (in memory, against the targets) and by
``bench/replies.py`` (a real stdio server, for BENCHMARKS.md).

What a client receives into the model's context, per result:

- **Claude Code** (2.1.330, seen in scripted sessions): the ``structuredContent`` as
  compact JSON, and nothing of the text block when both are present;
- **a text-only client**: the text block(s).

The targets (issue 18): ``plan_create`` <= 250 bytes a task + 2 KB, ``plan_status``
<= 120 bytes a task + 1 KB.
"""

from __future__ import annotations

import json
import random
from typing import Any

__all__ = [
    "CREATE_TARGET",
    "STATUS_TARGET",
    "context_bytes",
    "realistic_plan",
    "text_bytes",
]

AREAS = ("auth", "billing", "orders", "search", "profile", "catalog", "checkout", "admin")
VERBS = ("Design", "Implement", "Build", "Add", "Write tests for", "Document", "Refactor", "Review")
OBJECTS = (
    "the session token refresh",
    "cart totals and tax rounding",
    "coupon code redemption",
    "the refund workflow",
    "invoice PDF generation",
    "saved payment methods",
    "the order history page",
    "full-text product search",
    "search result ranking",
    "avatar upload and resizing",
    "the address book",
    "category tree navigation",
    "stock level webhooks",
    "the admin audit log",
    "role-based permissions",
    "password reset emails",
    "rate limiting on login",
    "the shipping quote API",
    "gift card balances",
    "order cancellation rules",
)


def CREATE_TARGET(n: int) -> int:
    return 250 * n + 2048


def STATUS_TARGET(n: int) -> int:
    return 120 * n + 1024


def realistic_plan(n: int, seed: int = 0) -> dict[str, Any]:
    """``plan_create`` arguments for ``n`` tasks shaped like a model's plan.

    Ids like ``orders-refund-12`` (12-20 characters), subjects of 25-60 characters
    (a verb, an object, an area), 0-3 dependencies on recent tasks, 1-2 written and
    0-1 read files each.
    """
    rng = random.Random(f"replies:{n}:{seed}")
    tasks: list[dict[str, Any]] = []
    for i in range(n):
        area = AREAS[rng.randrange(len(AREAS))]
        verb = VERBS[rng.randrange(len(VERBS))]
        thing = OBJECTS[rng.randrange(len(OBJECTS))]
        window = list(range(max(0, i - 12), i))
        deps = sorted(rng.sample(window, min(len(window), rng.randint(0, 3))))
        word = thing.split()[-1].lower()
        tid = f"{area}-{word[:8]}-{i}"
        subject = f"{verb} {thing} ({area})"
        tasks.append(
            {
                "id": tid,
                "subject": subject,
                "description": f"{subject}; keep the public API stable.",
                "depends_on": [tasks[d]["id"] for d in deps],
                "writes": [f"src/{area}/{word}_{i}.py"]
                + ([f"tests/{area}/test_{word}_{i}.py"] if rng.random() < 0.4 else []),
                "reads": [f"src/{area}/models.py"] if rng.random() < 0.5 else [],
            }
        )
    return {"plan": {"name": f"plan-{n}", "goal": "Ship the storefront rework"}, "tasks": tasks}


def context_bytes(result: Any) -> int:
    """Bytes Claude Code puts into the model's context for a tool result.

    ``result``: an ``mcp`` ``CallToolResult`` or its wire dict.
    """
    structured = (
        result.get("structuredContent")
        if isinstance(result, dict)
        else getattr(result, "structured_content", None)
    )
    if structured is not None:
        return len(json.dumps(structured, separators=(",", ":"), ensure_ascii=False).encode())
    return text_bytes(result)


def text_bytes(result: Any) -> int:
    """Bytes of the text blocks (what a client that reads only text takes in)."""
    content = result.get("content", []) if isinstance(result, dict) else result.content
    texts = [c["text"] if isinstance(c, dict) else c.text for c in content]
    return sum(len(t.encode()) for t in texts)
