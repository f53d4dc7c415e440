"""The one-pass matcher against the matcher it replaced, on the lexicon and the agent table.

``reference_find_terms`` is the previous ``scoring.find_terms`` verbatim: one regular
expression per term (all its spellings as alternatives), terms tried longest first, a
claimed span not matched again. The engine in ``scoring`` (``TermSet``, ``TermSets``,
``_Phrase``) must give the same answer on any text: the same terms, spans and spelling
(``find_terms``), the same terms in the same order (``TermSets.terms``, which scoring and
agent selection use), so plans stay byte-identical. Texts are assembled from every term's
spellings (inflections, irregular forms, phrases), words that contain terms, separators
(spaces, hyphens, underscores, Unicode spaces, none at all) and letters that change
length or meaning when lowered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from waveplan.planning import agents, scoring
from waveplan.planning.agents import load_agent_table
from waveplan.planning.scoring import (
    TermMatch,
    TermSets,
    compile_terms,
    find_terms,
    load_lexicon,
    score_complexity,
    term_forms,
)

# --------------------------------------------------------------------------- the old matcher

_WORD_CHARS = "a-z0-9"


@cache
def _reference_regex(term: str, inflect: str, extra: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = []
    for form in term_forms(term, inflect, extra):  # type: ignore[arg-type]
        words = [re.escape(w) for w in form.split()]
        alternatives.append(r"[\s_-]+".join(words))
    body = "|".join(alternatives)
    return re.compile(rf"(?<![{_WORD_CHARS}])(?:{body})(?![{_WORD_CHARS}])")


def reference_find_terms(
    text: str,
    terms: Iterable[str],
    *,
    inflect: str = "full",
    forms: Mapping[str, tuple[str, ...]] | None = None,
) -> list[TermMatch]:
    lowered = text.lower()
    irregular = load_lexicon().forms if forms is None else forms
    unique = list(dict.fromkeys(t.lower().strip() for t in terms if t.strip()))
    ordered = sorted(unique, key=lambda t: (-len(t.split()), -len(t), t))
    claimed: list[tuple[int, int]] = []
    found: list[TermMatch] = []
    for term in ordered:
        pattern = _reference_regex(term, inflect, tuple(irregular.get(term, ())))
        first: TermMatch | None = None
        for m in pattern.finditer(lowered):
            start, end = m.span()
            if any(start < e and s < end for s, e in claimed):
                continue
            claimed.append((start, end))
            if first is None:
                first = TermMatch(term, start, end, text[start:end])
        if first is not None:
            found.append(first)
    found.sort(key=lambda m: (m.start, m.term))
    return found


def reference_score(text: str) -> tuple[dict[str, int], list[tuple[str, str, int]]]:
    components: dict[str, int] = {}
    matches = []
    for spec in load_lexicon().components:
        points_of = dict(spec.entries)
        total = 0
        for hit in reference_find_terms(text, points_of, inflect=spec.inflect):
            points = min(points_of[hit.term], spec.cap - total)
            total += points
            matches.append((spec.name, hit.term, points))
        components[spec.name] = total
    return components, matches


# --------------------------------------------------------------------------- texts

LEXICON = load_lexicon()
TABLE = load_agent_table()
LISTS: list[tuple[str, tuple[str, ...], str]] = [
    *((f"lexicon {c.name}", tuple(t for t, _ in c.entries), c.inflect) for c in LEXICON.components),
    *((f"agent {p.name}", p.keywords, "full") for p in TABLE),
    ("iterative", LEXICON.iterative, "full"),
]


def _spellings() -> list[str]:
    out: set[str] = set()
    for _, terms, inflect in LISTS:
        for term in terms:
            extra = tuple(LEXICON.forms.get(term, ()))
            out.update(term_forms(term, inflect, extra))  # type: ignore[arg-type]
            out.update(term_forms(term, "full", extra))
    for extra in LEXICON.forms.values():
        out.update(extra)
    return sorted(out)


SPELLINGS = _spellings()
CONFUSERS = [
    "contest", "attestation", "rebuild", "oauth", "android", "withdraw", "rapid",
    "decision", "interest", "prebuilt", "codes", "coder", "datas", "setups", "upset",
    "k8s", "e2e", "c++", ".net", "3d", "v2", "x", "a", "the", "of", "to", "it", "is",
    "tradeoff", "trade", "off", "how", "works", "api2", "2api", "ci-cd", "end", "to-end",
]  # fmt: skip
SEPARATORS = [
    " ", " ", " ", "  ", "-", "_", "--", " - ", "\t", "\n", ", ", ". ", "/", "(", ")",
    "\u00a0", "\u2003", "\x1c", "\x85", "", "", "'", "é", "İ", "\u212a", "ß", "1",
]  # fmt: skip


def _case(word: str, how: int) -> str:
    return (word, word.upper(), word.title(), word.swapcase())[how]


pieces = st.one_of(
    st.sampled_from(SPELLINGS),
    st.sampled_from(SPELLINGS).map(lambda s: s.replace(" ", "-")),
    st.sampled_from(SPELLINGS).map(lambda s: s.replace(" ", "_")),
    st.sampled_from(CONFUSERS),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_ ", min_size=1, max_size=6),
)
texts = st.lists(
    st.tuples(pieces, st.integers(0, 3), st.sampled_from(SEPARATORS)), max_size=14
).map(lambda parts: "".join(_case(p, c) + sep for p, c, sep in parts))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts)
def test_find_terms_equals_the_old_matcher_on_every_list(text: str) -> None:
    for name, terms, inflect in LISTS:
        expected = reference_find_terms(text, terms, inflect=inflect)
        assert find_terms(text, terms, inflect=inflect) == expected, name  # type: ignore[arg-type]


ALL_LISTS = TermSets(compile_terms(terms, inflect=inflect) for _, terms, inflect in LISTS)  # type: ignore[arg-type]


def _reference_all(text: str) -> list[list[TermMatch]]:
    return [reference_find_terms(text, terms, inflect=inflect) for _, terms, inflect in LISTS]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts)
def test_the_one_pass_term_lists_equal_the_old_matcher(text: str) -> None:
    # TermSets.terms is what scoring and agent selection call (its fast path skips
    # positions when nothing can claim a word from another term).
    expected = _reference_all(text)
    assert ALL_LISTS.terms(text) == [[m.term for m in hits] for hits in expected]
    assert ALL_LISTS.find(text) == expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts)
def test_scores_and_agent_matches_equal_the_old_matcher(text: str) -> None:
    components, matches = reference_score(text)
    result = score_complexity(text)
    assert result.components == components
    assert [(m.component, m.word, m.points) for m in result.matches] == matches
    expected = []
    for profile in TABLE:
        found = {hit.term for hit in reference_find_terms(text, profile.keywords)}
        expected.append([k for k in profile.keywords if k in found])
    assert agents._table_matches(text, TABLE) == expected


ODD_TERMS = [
    "-x", "_y z", "a  b", ".net", "c++", "x-", "foo_bar", "trade-off", "é", "api",
    "API", " api ", "test", "tests", "tester", "code review", "review", "code",
    "code review process", "set up", "setup", "up", "k8s", "e2e", "a-b c-d", "a b",
    "b", "x y x y", "x y", "data-", "-", "1", "1 2",
]  # fmt: skip
odd_texts = st.lists(
    st.tuples(
        st.sampled_from([*ODD_TERMS, *CONFUSERS, "reviews", "codes", "ups", "x y x"]),
        st.integers(0, 3),
        st.sampled_from(SEPARATORS),
    ),
    max_size=12,
).map(lambda parts: "".join(_case(p, c) + sep for p, c, sep in parts))
odd_forms = st.dictionaries(
    st.sampled_from(["api", "test", "code review", "set up", "x-", "b"]),
    st.lists(
        st.sampled_from(["apis2", "", " ", "tst", "reviewed code", "sets-up", "-y", "b_b", "é"]),
        max_size=3,
    ).map(tuple),
    max_size=3,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=odd_texts,
    terms=st.lists(st.sampled_from(ODD_TERMS), min_size=1, max_size=8),
    inflect=st.sampled_from(["exact", "plural", "full"]),
    forms=odd_forms,
)
def test_odd_terms_and_irregular_forms_equal_the_old_matcher(
    text: str, terms: list[str], inflect: str, forms: dict[str, tuple[str, ...]]
) -> None:
    # Terms that start or end with a separator, empty spellings, colliding spellings and
    # phrases inside phrases take the engine's other paths (the regular expression, the
    # full claim rule); the answer is still the old one.
    for irregular in (None, forms):
        expected = reference_find_terms(text, terms, inflect=inflect, forms=irregular)
        got = find_terms(text, terms, inflect=inflect, forms=irregular)  # type: ignore[arg-type]
        assert got == expected
        sets = TermSets([compile_terms(terms, inflect=inflect, forms=irregular)])  # type: ignore[arg-type]
        assert sets.terms(text) == [[m.term for m in expected]]


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("Clean-up and clean up and cleaned up", ["clean up", "up", "clean"]),
        ("the trade-offs of a trade off", ["trade-off", "trade"]),
        ("Set  up, sets up, setting_up; setup", ["set up", "setup", "up"]),
        ("code review code reviews code-review reviewer", ["code review", "review", "code"]),
        ("x y x y x y", ["x y x y", "x y", "x"]),
        ("İstanbul api KUBERNETES", ["api", "kubernetes"]),
        ("a\u00a0data\u2003model\x1cdata_-_model", ["data model", "model", "data"]),
        # One word spelling two terms: the first in claim order takes it.
        ("tests and a test", ["test", "tests"]),
        ("testers test", ["tester", "test"]),
        # A phrase matching inside its own previous match is not a match (finditer
        # resumes after a match): here the second "a b a" would escape the claim.
        ("q z a b a b a", ["q z a b", "a b a"]),
    ],
)
def test_known_tricky_texts_match_as_before(text: str, terms: list[str]) -> None:
    assert find_terms(text, terms) == reference_find_terms(text, terms)
    sets = TermSets([compile_terms(terms)])
    assert sets.terms(text) == [[m.term for m in reference_find_terms(text, terms)]]


@pytest.mark.parametrize(
    ("text", "inflect", "forms"),
    [
        # Spellings with different words before the last both matching at one place:
        # the expression's order (longest first) decides, whatever the grouping.
        ("x a b c y", "exact", {"a b": ("a b c",)}),
        ("a code review process here", "full", {"code review": ("code review process",)}),
        ("code-review process", "full", {"code review": ("code-review process", "code review-x")}),
        ("sets up, setting-up", "full", None),
    ],
)
def test_spellings_that_share_a_start_match_as_before(
    text: str, inflect: str, forms: dict[str, tuple[str, ...]] | None
) -> None:
    terms = ["a b", "code review", "set up", "process", "review", "c"]
    expected = reference_find_terms(text, terms, inflect=inflect, forms=forms)
    assert find_terms(text, terms, inflect=inflect, forms=forms) == expected  # type: ignore[arg-type]
    sets = TermSets([compile_terms(terms, inflect=inflect, forms=forms)])  # type: ignore[arg-type]
    assert sets.terms(text) == [[m.term for m in expected]]


def test_every_spelling_alone_matches_as_before() -> None:
    for spelling in SPELLINGS:
        text = f"x {spelling.upper()}-{spelling}s"
        expected = _reference_all(text)
        assert ALL_LISTS.terms(text) == [[m.term for m in hits] for hits in expected], text
        assert ALL_LISTS.find(text) == expected, text


def test_a_text_is_prepared_once_for_scoring_and_agent_choice() -> None:
    text = "Refactor the billing API and update the tests"
    scoring._prepare.cache_clear()
    score_complexity(text)
    agents.select_agent(text, TABLE, writes=True)
    info = scoring._prepare.cache_info()
    assert (info.misses, info.hits) == (1, 1)
