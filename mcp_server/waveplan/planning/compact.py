"""Keeping the many small models of a large plan small.

pydantic gives every model instance its own set of the field names it was given
(``model_fields_set``): 728 bytes once more than four names are in it, as much as the
instance's values. A plan of 100,000 tasks holds 100,000 ``ScheduledTask`` and tens of
thousands of ``Complexity``, each given every field, so their sets are all equal:
``share_fields_set`` makes them one object. pydantic only ever adds names to the set
(assigning a field), and every name is in it already, so nothing can tell the
difference.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

__all__ = ["share_fields_set"]

M = TypeVar("M", bound=BaseModel)

_FULL: dict[type[BaseModel], tuple[frozenset[str], set[str]]] = {}


def share_fields_set(model: M) -> M:
    """``model``, its fields set replaced by its class's shared one when it holds every field.

    >>> from waveplan.models import ComplexityMatch
    >>> a = share_fields_set(ComplexityMatch(component="domain", word="api", points=2))
    >>> b = share_fields_set(ComplexityMatch(component="risk", word="auth", points=2))
    >>> a.model_fields_set is b.model_fields_set, sorted(a.model_fields_set)
    (True, ['component', 'points', 'word'])
    """
    cls = type(model)
    full = _FULL.get(cls)
    if full is None:
        names = frozenset(cls.model_fields)
        full = _FULL[cls] = (names, set(names))
    if model.__pydantic_fields_set__ == full[0]:
        object.__setattr__(model, "__pydantic_fields_set__", full[1])
    return model
