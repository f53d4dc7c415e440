"""Fixtures of the guides' own examples, read the way `waveplan import` reads them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from waveplan.models import PlanResult, TaskSpec
from waveplan.planfile import PlanDocument, load_plan_document
from waveplan.planner import make_plan

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"


def raw(name: str) -> Any:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return json.loads(text) if name.endswith(".json") else yaml.safe_load(text)


def load(name: str, **kwargs: Any) -> PlanDocument:
    return load_plan_document(FIXTURES / name, **kwargs)


def by_id(doc: PlanDocument) -> dict[str, TaskSpec]:
    return {t.id: t for t in doc.spec.tasks}


def planned(doc: PlanDocument) -> PlanResult:
    """The plan as `waveplan import` stores it (no environment cap)."""
    return make_plan(doc.spec, env={})


def waves(doc: PlanDocument) -> list[set[str]]:
    return [set(w) for w in planned(doc).waves]
