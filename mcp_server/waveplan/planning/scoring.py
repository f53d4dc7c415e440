"""Complexity scoring, and the one term matcher shared with agent selection.

The score is ``action_verbs*2 + connectors*2 + domain + scope + risk`` with each
component capped (10/8/6/6/5, so 0..35) and tiers ``<5 -> 1``, ``5..15 -> 2``,
``>15 -> 3``; the tier is also the minimum decomposition depth. The words live in
``planning/data/lexicon.json`` (documented in ``planning/data/LEXICON.md``).

Matching rules (``find_terms``), used for the lexicon *and* for agent keywords:

- case-insensitive, whole words only: a term never matches inside a longer word
  (``test`` does not match ``contest``); letters and digits are word characters;
- a multi-word term matches with spaces, hyphens or underscores between its words;
- simple inflections of a term's last word (``deploy`` matches ``deploys``,
  ``deployed``, ``deploying``, ``deployment``) plus the irregular forms listed in the
  lexicon (``build`` -> ``built``);
- longest term first, and a span of text claimed by one term is not matched again by
  a shorter term of the same list (``code review`` does not also count as ``review``);
- each distinct term counts once, however often it occurs.

>>> score_complexity("Create utility function").tier
1
>>> score_complexity("Create calculator with tests").tier
2
>>> score_complexity("Build REST API with auth and deployment").tier
3
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import Any, Literal

from waveplan.models import Complexity, ComplexityMatch

__all__ = [
    "COMPONENTS",
    "Inflection",
    "Lexicon",
    "TermMatch",
    "find_terms",
    "load_lexicon",
    "score_complexity",
    "term_forms",
    "tier_for_score",
]

Inflection = Literal["exact", "plural", "full"]

COMPONENTS: tuple[str, ...] = ("action_verbs", "connectors", "domain", "scope", "risk")

_WORD_CHARS = "a-z0-9"
_VOWELS = frozenset("aeiou")


@dataclass(frozen=True)
class TermMatch:
    """One term found in a text: the term as listed, and its first occurrence."""

    term: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class ComponentSpec:
    name: str
    cap: int
    inflect: Inflection
    entries: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Lexicon:
    """The parsed lexicon data file."""

    components: tuple[ComponentSpec, ...]
    iterative: tuple[str, ...]
    forms: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


# --------------------------------------------------------------------------- lexicon


@cache
def load_lexicon() -> Lexicon:
    """The packaged lexicon (read once, then cached).

    >>> [c.name for c in load_lexicon().components]
    ['action_verbs', 'connectors', 'domain', 'scope', 'risk']
    """
    raw = resources.files("waveplan.planning").joinpath("data/lexicon.json").read_text("utf-8")
    return _parse_lexicon(json.loads(raw))


def _parse_lexicon(data: dict[str, Any]) -> Lexicon:
    components = []
    for name in COMPONENTS:
        spec = data["components"][name]
        fixed = spec.get("points")
        entries = tuple(
            (term.lower(), int(fixed if fixed is not None else points))
            for term, points in spec["entries"].items()
        )
        components.append(ComponentSpec(name, int(spec["cap"]), spec["inflect"], entries))
    forms = {
        term.lower(): tuple(dict.fromkeys(f.lower() for f in extra))
        for term, extra in sorted(data.get("forms", {}).items())
    }
    iterative = tuple(t.lower() for t in data.get("iterative", ()))
    return Lexicon(tuple(components), iterative, forms)


# --------------------------------------------------------------------------- matching


def _word_forms(word: str, inflect: Inflection) -> set[str]:
    forms = {word}
    if inflect == "exact" or not word[-1:].isalpha():
        return forms
    consonant_y = len(word) > 1 and word.endswith("y") and word[-2] not in _VOWELS
    if consonant_y:
        forms.add(word[:-1] + "ies")
    else:
        forms.update({word + "s", word + "es"})
    if inflect == "plural":
        return forms
    stems = {word}
    if word.endswith("e"):
        stems.add(word[:-1])
        forms.update({word + "d", word + "r", word + "rs"})
    if consonant_y:
        stems.add(word[:-1] + "i")
        forms.update({word[:-1] + "ied", word[:-1] + "ier"})
        if word.endswith("fy"):
            forms.update({word[:-1] + "ication", word[:-1] + "ications"})
    elif (
        len(word) >= 3
        and word[-1] not in _VOWELS
        and word[-1] not in "wxy"
        and word[-2] in _VOWELS
        and word[-3] not in _VOWELS
    ):
        # plan -> planning, debug -> debugging; the undoubled spelling stays too.
        stems.add(word + word[-1])
    for stem in stems:
        if stem.endswith("i"):
            continue
        forms.update(stem + suffix for suffix in ("ed", "ing", "er", "ers"))
    for suffix in ("ment", "ments", "ion", "ions", "ation", "ations"):
        forms.update(stem + suffix for stem in stems if not stem.endswith("i"))
    return forms


@lru_cache(maxsize=4096)
def term_forms(
    term: str, inflect: Inflection = "full", extra: tuple[str, ...] = ()
) -> tuple[str, ...]:
    """Every spelling a term matches, longest first (inflections of its last word).

    >>> "deployment" in term_forms("deploy")
    True
    >>> term_forms("with", "exact")
    ('with',)
    >>> term_forms("dependency", "plural")
    ('dependencies', 'dependency')
    >>> "built" in term_forms("build", extra=("built",))
    True
    """
    words = term.lower().split()
    if not words:
        return ()
    head = " ".join(words[:-1])
    spellings = {(head + " " + form).strip() for form in _word_forms(words[-1], inflect)}
    spellings.update(f.lower() for f in extra)
    return tuple(sorted(spellings, key=lambda s: (-len(s), s)))


@lru_cache(maxsize=4096)
def _term_regex(term: str, inflect: Inflection, extra: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = []
    for form in term_forms(term, inflect, extra):
        words = [re.escape(w) for w in form.split()]
        alternatives.append(r"[\s_-]+".join(words))
    body = "|".join(alternatives)
    # No leading look-behind: a pattern that starts with literals lets the regex engine
    # skip ahead to candidates (5-100x faster on long texts); ``find_terms`` checks the
    # left word boundary itself.
    return re.compile(rf"(?:{body})(?![{_WORD_CHARS}])")


def _is_word_char(c: str) -> bool:
    return "a" <= c <= "z" or "0" <= c <= "9"


@lru_cache(maxsize=256)
def _ordered(terms: tuple[str, ...]) -> tuple[str, ...]:
    # The same few term lists are matched against every task: order them once.
    unique = dict.fromkeys(t.lower().strip() for t in terms if t.strip())
    return tuple(sorted(unique, key=lambda t: (-len(t.split()), -len(t), t)))


def find_terms(
    text: str,
    terms: Iterable[str],
    *,
    inflect: Inflection = "full",
    forms: Mapping[str, tuple[str, ...]] | None = None,
) -> list[TermMatch]:
    """The terms that occur in ``text``, each once, ordered by first occurrence.

    Longer terms are matched first and claim their span: a shorter term of the same
    list does not match inside it. ``forms`` adds irregular spellings per term; by
    default the lexicon's ``forms`` table is used.

    Parameters
    ----------
    text
        Free text (a task subject, a description).
    terms
        Words or phrases to look for; duplicates are ignored.
    inflect
        ``"exact"``, ``"plural"`` (s/es/ies) or ``"full"`` (also ed/ing/er/ment/ion ...).
    forms
        Irregular spellings by term (``{"build": ("built",)}``).

    Returns
    -------
    list[TermMatch]

    Examples
    --------
    >>> [m.term for m in find_terms("Deployed the tests, then a contest", ["test", "deploy"])]
    ['deploy', 'test']
    >>> [m.term for m in find_terms("Do a code review", ["review", "code review"])]
    ['code review']
    """
    lowered = text.lower()
    irregular = load_lexicon().forms if forms is None else forms
    ordered = _ordered(tuple(terms))
    # Claimed spans are disjoint: kept sorted, a new span only needs its two neighbours
    # checked (a list scan per match was quadratic: 4 MB of text took minutes).
    starts: list[int] = []
    ends: list[int] = []
    found: list[TermMatch] = []
    for term in ordered:
        pattern = _term_regex(term, inflect, tuple(irregular.get(term, ())))
        first: TermMatch | None = None
        m = pattern.search(lowered)
        while m is not None:
            start, end = m.span()
            if start and _is_word_char(lowered[start - 1]):
                m = pattern.search(lowered, start + 1)  # inside a longer word: look on
                continue
            m = pattern.search(lowered, end if end > start else start + 1)
            k = bisect_right(starts, start)
            if (k and ends[k - 1] > start) or (k < len(starts) and starts[k] < end):
                continue
            starts.insert(k, start)
            ends.insert(k, end)
            if first is None:
                first = TermMatch(term, start, end, text[start:end])
        if first is not None:
            found.append(first)
    found.sort(key=lambda m: (m.start, m.term))
    return found


# --------------------------------------------------------------------------- scoring


def tier_for_score(score: int) -> Literal[1, 2, 3]:
    """The tier of a score: ``<5 -> 1``, ``5..15 -> 2``, ``>15 -> 3``.

    >>> tier_for_score(4), tier_for_score(5), tier_for_score(15), tier_for_score(16)
    (1, 2, 2, 3)
    """
    if score < 5:
        return 1
    if score <= 15:
        return 2
    return 3


def score_complexity(text: str) -> Complexity:
    """Score how complex a request or task is.

    Each component sums the points of its matched lexicon entries (verbs and
    connectors 2 each, domain/scope/risk 1-3 as listed) up to its cap. ``matches``
    lists every matched word in component order, then text order, with the points it
    actually contributed (0 once the cap is reached), so the points of ``matches``
    always add up to ``score``.

    Parameters
    ----------
    text
        The request or task text.

    Returns
    -------
    Complexity

    Examples
    --------
    >>> c = score_complexity("Create calculator with tests")
    >>> c.score, c.tier, c.components["action_verbs"], c.components["connectors"]
    (6, 2, 4, 2)
    >>> [(m.word, m.points) for m in c.matches]
    [('create', 2), ('test', 2), ('with', 2)]
    """
    lexicon = load_lexicon()
    components: dict[str, int] = {}
    matches: list[ComplexityMatch] = []
    for spec in lexicon.components:
        points_of = dict(spec.entries)
        total = 0
        for hit in find_terms(text, points_of, inflect=spec.inflect):
            points = min(points_of[hit.term], spec.cap - total)
            total += points
            matches.append(ComplexityMatch(component=spec.name, word=hit.term, points=points))
        components[spec.name] = total
    score = sum(components.values())
    tier = tier_for_score(score)
    return Complexity(
        score=score, tier=tier, min_depth=tier, components=components, matches=matches
    )
