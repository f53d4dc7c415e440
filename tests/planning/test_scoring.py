"""Complexity scoring and the shared term matcher."""

from __future__ import annotations

import doctest

import pytest

from waveplan.planning import scoring
from waveplan.planning.scoring import (
    COMPONENTS,
    find_terms,
    load_lexicon,
    score_complexity,
    term_forms,
    tier_for_score,
)


def terms(text: str, words: list[str], **kwargs: object) -> list[str]:
    return [m.term for m in find_terms(text, words, **kwargs)]  # type: ignore[arg-type]


# --------------------------------------------------------------------------- tiers


@pytest.mark.parametrize(
    ("text", "tier"),
    [
        ("Create utility function", 1),
        ("Create calculator with tests", 2),
        ("Build REST API with auth and deployment", 3),
    ],
)
def test_the_source_worked_examples_land_in_their_tiers(text: str, tier: int) -> None:
    result = score_complexity(text)
    assert result.tier == tier
    assert result.min_depth == tier


@pytest.mark.parametrize(
    ("text", "tier"),
    [
        ("Fix typo in README", 1),
        ("Rename a variable", 1),
        ("Refactor the logging module", 1),
        ("Add pagination to the users endpoint and update the tests", 2),
        ("Implement OAuth login with tests", 2),
        (
            "Migrate the entire payment system to a new database, then deploy to production "
            "with zero downtime and monitor errors",
            3,
        ),
        ("Set up CI pipeline with Docker and Kubernetes deployment across all services", 3),
    ],
)
def test_realistic_requests_land_in_plausible_tiers(text: str, tier: int) -> None:
    assert score_complexity(text).tier == tier


@pytest.mark.parametrize(("score", "tier"), [(0, 1), (4, 1), (5, 2), (15, 2), (16, 3), (35, 3)])
def test_tier_boundaries_follow_the_design(score: int, tier: int) -> None:
    assert tier_for_score(score) == tier


def test_empty_text_scores_zero_in_tier_one() -> None:
    result = score_complexity("")
    assert (result.score, result.tier, result.matches) == (0, 1, [])
    assert result.components == dict.fromkeys(COMPONENTS, 0)


# --------------------------------------------------------------------------- breakdown


def test_breakdown_names_which_words_scored_what() -> None:
    result = score_complexity("Build REST API with auth and deployment")
    assert result.components == {
        "action_verbs": 4,
        "connectors": 4,
        "domain": 6,
        "scope": 0,
        "risk": 4,
    }
    scored = {(m.component, m.word, m.points) for m in result.matches}
    assert ("action_verbs", "deploy", 2) in scored
    assert ("risk", "deploy", 2) in scored
    assert ("domain", "api", 2) in scored
    assert ("connectors", "with", 2) in scored


@pytest.mark.parametrize(
    "text",
    [
        "Create calculator with tests",
        "Create, build, implement, add, write, fix and test the whole platform",
        "Migrate the entire payment system and deploy to production with zero downtime",
    ],
)
def test_breakdown_points_add_up_to_the_score(text: str) -> None:
    result = score_complexity(text)
    assert sum(m.points for m in result.matches) == result.score
    assert sum(result.components.values()) == result.score
    for component in COMPONENTS:
        in_component = sum(m.points for m in result.matches if m.component == component)
        assert in_component == result.components[component]


def test_each_lexicon_entry_counts_once_however_often_it_occurs() -> None:
    result = score_complexity("test, test and test again and again")
    assert result.components["action_verbs"] == 2
    assert result.components["connectors"] == 2


def test_matching_is_case_insensitive() -> None:
    assert score_complexity("CREATE CALCULATOR WITH TESTS") == score_complexity(
        "create calculator with tests"
    )


# --------------------------------------------------------------------------- caps


def test_action_verbs_are_capped_at_ten_points_and_extra_verbs_score_zero() -> None:
    result = score_complexity("create build implement add write fix test")
    assert result.components["action_verbs"] == 10
    verbs = [m for m in result.matches if m.component == "action_verbs"]
    assert len(verbs) == 7
    assert [m.points for m in verbs] == [2, 2, 2, 2, 2, 0, 0]


def test_connectors_are_capped_at_eight_points() -> None:
    result = score_complexity("a and b with c then d plus e also f")
    assert result.components["connectors"] == 8


@pytest.mark.parametrize(
    ("component", "text", "cap"),
    [
        ("domain", "api database schema frontend backend queue graphql", 6),
        ("scope", "entire system across the whole platform codebase", 6),
        ("risk", "production payment data loss security", 5),
    ],
)
def test_weighted_components_are_capped(component: str, text: str, cap: int) -> None:
    assert score_complexity(text).components[component] == cap


def test_a_text_hitting_every_cap_scores_the_maximum_of_35() -> None:
    text = (
        "create build implement add write fix and with then plus also "
        "api database schema frontend entire system whole platform "
        "production payment data loss"
    )
    result = score_complexity(text)
    assert result.score == 35
    assert result.tier == 3


def test_lexicon_caps_match_the_design() -> None:
    caps = {c.name: c.cap for c in load_lexicon().components}
    assert caps == {"action_verbs": 10, "connectors": 8, "domain": 6, "scope": 6, "risk": 5}
    points = {c.name: {p for _, p in c.entries} for c in load_lexicon().components}
    assert points["action_verbs"] == {2}
    assert points["connectors"] == {2}


# --------------------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("word", "text"),
    [
        ("deploy", "deploy"),
        ("deploy", "deploys"),
        ("deploy", "deployed"),
        ("deploy", "deploying"),
        ("deploy", "deployment"),
        ("test", "tests"),
        ("test", "testing"),
        ("test", "tested"),
        ("build", "builds"),
        ("build", "building"),
        ("build", "built"),
        ("create", "creating"),
        ("create", "creation"),
        ("migrate", "migration"),
        ("optimize", "optimization"),
        ("optimize", "optimised"),
        ("plan", "planning"),
        ("debug", "debugging"),
        ("verify", "verification"),
        ("verify", "verified"),
        ("dependency", "dependencies"),
        ("fix", "fixes"),
        ("write", "written"),
        ("analyze", "analysis"),
    ],
)
def test_simple_inflections_match_their_term(word: str, text: str) -> None:
    assert terms(f"We need {text} today", [word]) == [word]


@pytest.mark.parametrize(
    ("word", "text"),
    [
        ("test", "contest"),
        ("test", "attestation"),
        ("build", "rebuild"),
        ("auth", "oauth"),
        ("and", "android"),
        ("with", "withdraw"),
        ("api", "rapid"),
        ("ci", "decision"),
        ("rest", "interest"),
    ],
)
def test_terms_never_match_inside_longer_words(word: str, text: str) -> None:
    assert terms(f"the {text} here", [word]) == []


def test_exact_terms_do_not_take_inflections() -> None:
    assert terms("ands withs", ["and", "with"], inflect="exact") == []
    assert terms("this and that", ["and"], inflect="exact") == ["and"]


def test_plural_terms_take_plurals_only() -> None:
    assert terms("three apis", ["api"], inflect="plural") == ["api"]
    assert terms("it was schemaed", ["schema"], inflect="plural") == []


def test_phrases_match_across_spaces_hyphens_and_underscores() -> None:
    for text in ("a data model", "a data-model", "a data_model", "a Data   Model"):
        assert terms(text, ["data model"]) == ["data model"], text


def test_a_longer_term_claims_its_span_from_a_shorter_one() -> None:
    assert terms("do a code review", ["review", "code review"]) == ["code review"]
    assert terms("code review, then review again", ["review", "code review"]) == [
        "code review",
        "review",
    ]


def test_terms_are_reported_in_order_of_first_occurrence() -> None:
    hits = find_terms("then schema, later api", ["api", "schema"])
    assert [(h.term, h.text) for h in hits] == [("schema", "schema"), ("api", "api")]
    assert hits[0].start < hits[1].start


def test_match_keeps_the_original_spelling_of_the_text() -> None:
    (hit,) = find_terms("Deployment Day", ["deploy"])
    assert hit.text == "Deployment"


def test_term_forms_lists_longest_spellings_first() -> None:
    forms = term_forms("deploy")
    assert forms[0] == max(forms, key=len)
    assert "deploy" in forms and "deployments" in forms


def test_no_lexicon_entry_is_shadowed_by_another_in_its_component() -> None:
    # A phrase containing another entry of its component only hides a match.
    for component in load_lexicon().components:
        entries = [term for term, _ in component.entries]
        for inner in entries:
            for outer in entries:
                if inner != outer:
                    hit = find_terms(outer, [inner], inflect=component.inflect)
                    assert not hit, f"{component.name}: {inner!r} matches inside {outer!r}"


def test_docstring_examples_hold() -> None:
    assert doctest.testmod(scoring).failed == 0
