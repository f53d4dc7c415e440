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

How it runs: a term list is compiled once (``TermSet``; several lists, such as the five
components or an agent table, into one ``TermSets`` index of words). A text is lowered
and split into words once (shared by scoring and agent choice); plain words are looked
up, phrases are checked word by word only where the text has their words, and the claim
rule runs in full only for a list where a phrase matched. ``_term_regex`` states the
rules as one regular expression per term: the engine gives its answer exactly
(``tests/planning/test_matcher.py`` compares them), and falls back to it for odd terms.

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
from bisect import bisect_right, insort
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import Any, Literal

from waveplan.models import Complexity, ComplexityMatch
from waveplan.planning.compact import share_fields_set

__all__ = [
    "COMPONENTS",
    "ComplexityScorer",
    "Inflection",
    "Lexicon",
    "TermMatch",
    "TermSet",
    "TermSets",
    "compile_terms",
    "find_terms",
    "load_lexicon",
    "score_complexity",
    "term_forms",
    "tier_for_score",
]

Inflection = Literal["exact", "plural", "full"]

COMPONENTS: tuple[str, ...] = ("action_verbs", "connectors", "domain", "scope", "risk")

_WORD_CHARS = "a-z0-9"
_WORD = re.compile(f"[{_WORD_CHARS}]+")
_WORD_SET = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
# A word of a phrase that starts and ends with a letter or digit (``trade-off``, ``k8s``).
_WORD_EDGES = re.compile(f"[{_WORD_CHARS}](?:.*[{_WORD_CHARS}])?", re.S)
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
    # The matching rules for one term as an expression: every spelling an alternative
    # (longest first), words joined by separator runs, whole words only.
    alternatives = []
    for form in term_forms(term, inflect, extra):
        words = [re.escape(w) for w in form.split()]
        alternatives.append(r"[\s_-]+".join(words))
    body = "|".join(alternatives)
    # Only phrases and odd spellings use it (plain words are looked up by word, see
    # ``TermSet``), so the look-behind's cost on long texts is paid for those only.
    return re.compile(rf"(?<![{_WORD_CHARS}])(?:{body})(?![{_WORD_CHARS}])")


class _Text:
    """One text prepared for matching: lowered once, its words collected once.

    Every term list matched against the same text (five lexicon components, each agent's
    keywords) reuses this, so a task's text is lowered and split into words once per plan,
    not once per list or per term.
    """

    __slots__ = ("_spans", "_starts", "distinct", "lowered", "text", "words")

    def __init__(self, text: str) -> None:
        self.text = text
        self.lowered = text.lower()
        #: Whole words (runs of letters and digits): each once, in order of first
        #: occurrence, and as a set.
        self.distinct: tuple[str, ...] = tuple(dict.fromkeys(_WORD.findall(self.lowered)))
        self.words = frozenset(self.distinct)
        self._starts: dict[str, list[int]] = {}
        self._spans: dict[_Phrase, list[tuple[int, int]]] = {}

    def starts(self, word: str) -> list[int]:
        """Where ``word`` (letters and digits only) occurs as a whole word."""
        found = self._starts.get(word)
        if found is None:
            found = []
            lowered, n, size = self.lowered, len(word), len(self.lowered)
            at = lowered.find(word)
            while at >= 0:
                after = at + n
                if (at == 0 or lowered[at - 1] not in _WORD_SET) and (
                    after == size or lowered[after] not in _WORD_SET
                ):
                    found.append(at)
                at = lowered.find(word, at + 1)
            self._starts[word] = found
        return found

    def spans(self, phrase: _Phrase) -> list[tuple[int, int]]:
        """The spans of ``phrase`` in this text (computed once per text)."""
        found = self._spans.get(phrase)
        if found is None:
            found = self._spans[phrase] = phrase.spans(self)
        return found


@lru_cache(maxsize=256)
def _prepare(text: str) -> _Text:
    # Scoring, agent choice and team mode ask about the same texts one after another.
    return _Text(text)


_SEPARATORS = re.compile(r"[\s_-]+")


class _Phrase:
    """A term with a spelling that is not one plain word: ``data model``, ``trade-off``.

    Its spans are those of ``_term_regex(term, ...).finditer`` on the lowered text. When
    every word of every spelling starts and ends with a letter or digit, they are found
    without the expression: a match starts at a whole word equal to a spelling's leading
    letters and digits; words are separated by a run of spaces, hyphens or underscores,
    as in the expression; of the spellings that match at one place, the expression takes
    the first in its order (longest first), and so does this. Spellings are grouped by
    their words before the last (only the last word is inflected), and a group's last
    words are looked up by the whole word of the text where the last word starts. Other
    spellings use the expression itself.
    """

    __slots__ = ("_args", "_groups", "_regex", "leads", "needs")

    def __init__(self, term: str, inflect: Inflection, extra: tuple[str, ...]) -> None:
        forms = term_forms(term, inflect, extra)
        self._args = (term, inflect, extra)
        self._regex: re.Pattern[str] | None = None
        plain = bool(forms) and all(
            form.split() and all(_WORD_EDGES.fullmatch(word) for word in form.split())
            for form in forms
        )
        # head words -> {leading letters and digits of the last word: [(order, last)]}
        groups: dict[tuple[str, ...], dict[str, list[tuple[int, str]]]] = {}
        for order, form in enumerate(forms if plain else ()):
            *head, last = form.split()
            lead = _WORD.match(last).group()  # type: ignore[union-attr]
            groups.setdefault(tuple(head), {}).setdefault(lead, []).append((order, last))
        #: None: use the expression.
        self._groups: tuple[_Group, ...] | None = tuple(groups.items()) if plain else None
        leads = [_WORD.match(form) for form in forms]
        #: Whole words a match can start with; None: a match may start anywhere.
        self.leads: tuple[str, ...] | None = (
            tuple(dict.fromkeys(m.group() for m in leads if m is not None))
            if leads and all(leads)
            else None
        )
        #: Per group, whole words a text must have for it to match: each head word's
        #: leading letters and digits, and one of the last words' (a quick refusal). For
        #: the expression, only one of the leading words.
        self.needs: tuple[tuple[frozenset[str], frozenset[str]], ...] = (
            tuple(
                (frozenset(_WORD.match(w).group() for w in head), frozenset(lasts))  # type: ignore[union-attr]
                for head, lasts in self._groups
            )
            if self._groups is not None
            else ((frozenset(), frozenset(self.leads or ())),)
        )

    def spans(self, text: _Text) -> list[tuple[int, int]]:
        if self._groups is None or self.leads is None:
            if self._regex is None:
                self._regex = _term_regex(*self._args)
            return [m.span() for m in self._regex.finditer(text.lowered)]
        words = text.words
        if not any(heads <= words and not lasts.isdisjoint(words) for heads, lasts in self.needs):
            return []
        lowered = text.lowered
        starts = sorted(at for lead in self.leads for at in text.starts(lead))
        found: list[tuple[int, int]] = []
        resume = 0
        for at in starts:
            if at < resume:
                continue  # inside the previous match, which finditer skips past
            best: tuple[int, int] | None = None
            for head, lasts in self._groups:
                hit = _match_last(lowered, _match_head(lowered, at, head), lasts, best)
                if hit is not None:
                    best = hit
            if best is not None:
                found.append((at, best[1]))
                resume = best[1]
        return found


# Words before the last of some spellings, and their last words by leading word.
_Group = tuple[tuple[str, ...], dict[str, list[tuple[int, str]]]]


def _match_head(lowered: str, at: int, head: tuple[str, ...]) -> int:
    """Where the last word must start after ``head`` matched at ``at`` (-1: no match)."""
    for word in head:
        if not lowered.startswith(word, at):
            return -1
        gap = _SEPARATORS.match(lowered, at + len(word))
        if gap is None:
            return -1
        at = gap.end()
    return at


def _match_last(
    lowered: str,
    at: int,
    lasts: dict[str, list[tuple[int, str]]],
    best: tuple[int, int] | None,
) -> tuple[int, int] | None:
    """(order, end) of the first last word matching at ``at``, if before ``best``."""
    if at < 0:
        return None
    lead = _WORD.match(lowered, at)
    if lead is None:
        return None
    for order, word in lasts.get(lead.group(), ()):
        if best is not None and order >= best[0]:
            return None
        end = at + len(word)
        if lowered.startswith(word, at) and (end == len(lowered) or lowered[end] not in _WORD_SET):
            return order, end
    return None


@lru_cache(maxsize=4096)
def _phrase(term: str, inflect: Inflection, extra: tuple[str, ...]) -> _Phrase:
    return _Phrase(term, inflect, extra)


# A candidate: a term's rank in its list, and the words of the text that are spellings
# of it (for a phrase, the words it may start with; its spans come from ``_Phrase``).
_Candidate = tuple[int, list[str]]
# A resolved match: (start, term, end) of a term's first unclaimed occurrence.
_Hit = tuple[int, str, int]


class TermSet:
    """One list of terms compiled for matching, built once per list.

    ``find`` gives exactly ``find_terms``'s answer. Terms whose spellings are all plain
    words (letters and digits) are looked up by word; phrases and spellings with other
    characters (``data model``, ``trade-off``) keep their regular expression, tried only
    when the text has the word they start with. The claim rule (longer terms first, a
    claimed span is not matched again) runs on the few terms that can match.
    """

    __slots__ = ("_keys", "_phrases", "always", "terms")

    def __init__(
        self,
        terms: Iterable[str],
        inflect: Inflection = "full",
        forms: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        irregular = load_lexicon().forms if forms is None else forms
        unique = list(dict.fromkeys(t.lower().strip() for t in terms if t.strip()))
        #: The terms in claim order (more words first, then longer, then alphabetical).
        self.terms: tuple[str, ...] = tuple(
            sorted(unique, key=lambda t: (-len(t.split()), -len(t), t))
        )
        self._phrases: list[_Phrase | None] = []
        keys: dict[str, list[int]] = {}
        always: list[int] = []
        for rank, term in enumerate(self.terms):
            extra = tuple(irregular.get(term, ()))
            spellings = term_forms(term, inflect, extra)
            if spellings and all(_WORD.fullmatch(s) for s in spellings):
                # Plain words: a match is a whole word of the text equal to a spelling.
                self._phrases.append(None)
                for spelling in spellings:
                    keys.setdefault(spelling, []).append(rank)
                continue
            phrase = _phrase(term, inflect, extra)
            self._phrases.append(phrase)
            if phrase.leads is None:
                always.append(rank)
            else:
                for lead in phrase.leads:
                    keys.setdefault(lead, []).append(rank)
        #: Word of a text -> ranks of the terms it may start.
        self._keys: dict[str, tuple[int, ...]] = {
            k: tuple(dict.fromkeys(v)) for k, v in keys.items()
        }
        #: Ranks of terms tried on every text.
        self.always: tuple[int, ...] = tuple(dict.fromkeys(always))

    def find(self, text: str) -> list[TermMatch]:
        """The terms of this list in ``text``, as ``find_terms`` reports them."""
        prepared = _prepare(text)
        return [
            TermMatch(term, start, end, text[start:end])
            for start, term, end in self._resolve(prepared, self._candidates(prepared))
        ]

    def _candidates(self, text: _Text) -> list[_Candidate]:
        """The terms that may match ``text``, in rank order, with the words they may use."""
        found: dict[int, list[str]] = {rank: [] for rank in self.always}
        keys = self._keys
        for word in text.words & keys.keys():
            for rank in keys[word]:
                found.setdefault(rank, []).append(word)
        return sorted(found.items())

    def _resolve(self, text: _Text, candidates: Iterable[_Candidate]) -> list[_Hit]:
        """Apply the claim rule to the candidates (in rank order): the first hits."""
        # Claimed spans kept sorted, so a span is checked against its neighbours only (a
        # scan of every claimed span was quadratic: 4 MB of text took minutes). Non-empty
        # claimed spans are disjoint; empty ones (an empty spelling) are points, which
        # overlap a span only strictly inside it.
        starts: list[int] = []
        ends: list[int] = []
        points: list[int] = []
        hits: list[_Hit] = []
        phrases = self._phrases
        for rank, words in candidates:
            phrase = phrases[rank]
            if phrase is not None:
                spans = text.spans(phrase)
            elif len(words) == 1:
                word = words[0]
                spans = [(at, at + len(word)) for at in text.starts(word)]
            else:
                spans = sorted((at, at + len(w)) for w in words for at in text.starts(w))
            first: _Hit | None = None
            for start, end in spans:
                k = bisect_right(starts, start)
                if start == end:
                    if k and starts[k - 1] < start < ends[k - 1]:
                        continue
                    insort(points, start)
                else:
                    if (k and ends[k - 1] > start) or (k < len(starts) and starts[k] < end):
                        continue
                    p = bisect_right(points, start)
                    if p < len(points) and points[p] < end:
                        continue
                    starts.insert(k, start)
                    ends.insert(k, end)
                # Every unclaimed occurrence claims its span; the first is reported.
                if first is None:
                    first = (start, self.terms[rank], end)
            if first is not None:
                hits.append(first)
        hits.sort()
        return hits


class TermSets:
    """Several ``TermSet`` matched against one text in one pass over its words.

    The lexicon's five components and an agent table's keyword lists are each one
    ``TermSets``, built once: one index maps every word any list can match to the terms
    it belongs to. ``terms`` walks the text's distinct words in order and, for each list,
    collects the terms of its plain words in order of first occurrence. That is
    ``find_terms``'s answer whenever no phrase of the list matches the text: a plain
    word is then one term's span, claimed by the first term in claim order that spells
    it (so the index lists that term only). The lists where a phrase does match are
    resolved with the full claim rule instead (``TermSet._resolve``).
    """

    __slots__ = ("_exact_always", "_index", "_terms", "sets")

    def __init__(self, sets: Iterable[TermSet]) -> None:
        self.sets: tuple[TermSet, ...] = tuple(sets)
        self._terms = tuple(s.terms for s in self.sets)
        plain: dict[str, list[tuple[int, int]]] = {}
        special: dict[str, list[tuple[int, _Phrase]]] = {}
        for which, term_set in enumerate(self.sets):
            for word, ranks in term_set._keys.items():
                for rank in ranks:
                    phrase = term_set._phrases[rank]
                    if phrase is not None:
                        special.setdefault(word, []).append((which, phrase))
                # Ranks are in claim order: the first plain term spelling the word claims
                # every occurrence of it; another term spelling it never matches there.
                spelled = [r for r in ranks if term_set._phrases[r] is None]
                if spelled:
                    plain.setdefault(word, []).append((which, spelled[0]))
        #: word -> ((list, rank) of the plain term it spells, (list, phrase) it may start)
        self._index: dict[
            str, tuple[tuple[tuple[int, int], ...], tuple[tuple[int, _Phrase], ...]]
        ] = {
            word: (tuple(plain.get(word, ())), tuple(special.get(word, ())))
            for word in plain.keys() | special.keys()
        }
        #: Lists with terms tried on every text: always resolved in full.
        self._exact_always = frozenset(w for w, s in enumerate(self.sets) if s.always)

    def terms(self, text: str) -> list[list[str]]:
        """The matched terms of each list in order of first occurrence, as ``find_terms``."""
        prepared = _prepare(text)
        out: list[list[str]] = [[] for _ in self.sets]
        seen: set[tuple[int, int]] = set()
        exact = set(self._exact_always)
        phrases: list[tuple[int, _Phrase]] = []
        index, names = self._index, self._terms
        for word in prepared.distinct:
            entry = index.get(word)
            if entry is None:
                continue
            plain, special = entry
            for key in plain:
                if key not in seen:
                    seen.add(key)
                    out[key[0]].append(names[key[0]][key[1]])
            if special:
                phrases.extend(special)
        words = prepared.words
        for which, phrase in phrases:
            if which in exact:
                continue
            # The phrase's quick refusal, inlined: most candidates fail it.
            for heads, lasts in phrase.needs:
                if heads <= words and not lasts.isdisjoint(words):
                    if prepared.spans(phrase):
                        exact.add(which)
                    break
        for which in exact:
            term_set = self.sets[which]
            hits = term_set._resolve(prepared, term_set._candidates(prepared))
            out[which] = [term for _, term, _ in hits]
        return out

    def find(self, text: str) -> list[list[TermMatch]]:
        """``find_terms`` of ``text`` for each list, in order."""
        return [s.find(text) for s in self.sets]


@lru_cache(maxsize=256)
def _compiled(
    terms: tuple[str, ...],
    inflect: Inflection,
    forms: tuple[tuple[str, tuple[str, ...]], ...] | None,
) -> TermSet:
    return TermSet(terms, inflect, None if forms is None else dict(forms))


# Term lists asked about by identity: a module's tuple of words (agent selection's write
# and implementation verbs, team mode's iterative words) is matched once per task, and
# hashing its 70 strings each time would cost more than the match. The tuple is kept,
# so no other object can take its id while it is here.
_by_identity: dict[tuple[int, str], tuple[tuple[str, ...], TermSet]] = {}


def compile_terms(
    terms: Iterable[str],
    *,
    inflect: Inflection = "full",
    forms: Mapping[str, tuple[str, ...]] | None = None,
) -> TermSet:
    """The ``TermSet`` of a term list (cached: one build per distinct list)."""
    if forms is None and type(terms) is tuple:
        known = _by_identity.get((id(terms), inflect))
        if known is not None and known[0] is terms:
            return known[1]
    key = None if forms is None else tuple(sorted((k, tuple(v)) for k, v in forms.items()))
    compiled = _compiled(tuple(terms), inflect, key)
    if forms is None and type(terms) is tuple:
        if len(_by_identity) >= 256:
            _by_identity.clear()
        _by_identity[(id(terms), inflect)] = (terms, compiled)  # type: ignore[assignment]
    return compiled


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
    return compile_terms(terms, inflect=inflect, forms=forms).find(text)


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


@cache
def _lexicon_matcher() -> tuple[TermSets, tuple[dict[str, int], ...]]:
    """The five components as one ``TermSets``, and each component's points by term."""
    lexicon = load_lexicon()
    points = tuple(dict(spec.entries) for spec in lexicon.components)
    sets = TermSets(
        compile_terms(p, inflect=spec.inflect)
        for spec, p in zip(lexicon.components, points, strict=True)
    )
    return sets, points


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
    return _complexity(_lexicon_matcher()[0].terms(text))


def _complexity(
    terms: Sequence[Sequence[str]],
    shared: dict[tuple[str, str, int], ComplexityMatch] | None = None,
) -> Complexity:
    """The ``Complexity`` of the matched terms of each component, in text order.

    With ``shared``, equal matches are one ``ComplexityMatch`` instance (kept there).
    """
    lexicon = load_lexicon()
    components: dict[str, int] = {}
    matches: list[dict[str, Any] | ComplexityMatch] = []
    for spec, points_of, found in zip(
        lexicon.components, _lexicon_matcher()[1], terms, strict=True
    ):
        total = 0
        for term in found:
            points = min(points_of[term], spec.cap - total)
            total += points
            if shared is None:
                matches.append({"component": spec.name, "word": term, "points": points})
                continue
            key = (spec.name, term, points)
            match = shared.get(key)
            if match is None:
                match = shared[key] = share_fields_set(
                    ComplexityMatch(component=spec.name, word=term, points=points)  # type: ignore[arg-type]
                )
            matches.append(match)
        components[spec.name] = total
    score = sum(components.values())
    tier = tier_for_score(score)
    # One validation call for the whole result (cheaper than one per match); instances
    # in ``matches`` are kept as they are.
    result = Complexity.model_validate(
        {
            "score": score,
            "tier": tier,
            "min_depth": tier,
            "components": components,
            "matches": matches,
        }
    )
    return result if shared is None else share_fields_set(result)


class ComplexityScorer:
    """``score_complexity`` for the tasks of one plan: one ``Complexity`` per distinct result.

    Most tasks of a large plan match one of a few thousand combinations of lexicon words,
    made of a few hundred distinct matches; building (and holding) a ``Complexity`` and
    its matches per task was a third of the planner's memory at 100,000 tasks. Calls whose
    texts match the same words in the same order get the *same* instance, and equal
    matches are one ``ComplexityMatch``: treat the results as read-only (the models of a
    ``PlanResult`` are rendered and stored, never changed).

    >>> score = ComplexityScorer()
    >>> score("Create calculator with tests") is score("create the calculator, with tests")
    True
    >>> score("Create calculator with tests") == score_complexity("Create calculator with tests")
    True
    >>> score("Create tests").matches[0] is score("Create calculator with tests").matches[0]
    True
    """

    __slots__ = ("_matches", "_seen")

    def __init__(self) -> None:
        self._seen: dict[tuple[tuple[str, ...], ...], Complexity] = {}
        self._matches: dict[tuple[str, str, int], ComplexityMatch] = {}

    def __call__(self, text: str) -> Complexity:
        key = tuple(map(tuple, _lexicon_matcher()[0].terms(text)))
        found = self._seen.get(key)
        if found is None:
            found = self._seen[key] = _complexity(key, self._matches)
        return found
