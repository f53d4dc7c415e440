"""Agent definitions, the agent table and keyword-based agent selection."""

from __future__ import annotations

import doctest
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.test_agent_files import AGENT_ORDER
from waveplan.errors import WaveplanError
from waveplan.planning import agents
from waveplan.planning.agents import (
    AGENTS_DIR_ENV,
    AgentDefinitionError,
    AgentProfile,
    agent_for_role,
    choose_agent,
    find_agents_dir,
    load_agent_table,
    parse_agent_definition,
    select_agent,
    subagent_type,
)
from waveplan.planning.scoring import find_terms

REPO_AGENTS = Path(__file__).resolve().parents[2] / "agents"

PLUGIN_AGENTS = AGENT_ORDER

DEFINITION = """---
name: scout
description: Finds things in a codebase.
tools: Read, Grep, Write
model: inherit
---

# Scout

Find things.

## Selection

- Keywords: find, locate, look up
- Modifies project files: no
- Table order: 3

## Notes

- Keywords: ignored, because this is another section
"""


def profile(name: str, keywords: str, *, modifies: bool = True, order: int = 1) -> AgentProfile:
    return AgentProfile(name, "", tuple(keywords.split(", ")), modifies, (), order)


# --------------------------------------------------------------------------- parsing


def test_parse_reads_frontmatter_and_selection_section() -> None:
    p = parse_agent_definition(DEFINITION, filename="scout.md")
    assert p.name == "scout"
    assert p.description == "Finds things in a codebase."
    assert p.tools == ("Read", "Grep", "Write")
    assert p.keywords == ("find", "locate", "look up")
    assert p.modifies_files is False
    assert p.order == 3
    assert p.builtin is False


def test_parse_accepts_tools_as_a_yaml_list_and_lowercases_keywords() -> None:
    text = DEFINITION.replace("tools: Read, Grep, Write", "tools: [Read, Bash]").replace(
        "find, locate, look up", "Find, LOCATE"
    )
    p = parse_agent_definition(text)
    assert p.tools == ("Read", "Bash")
    assert p.keywords == ("find", "locate")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t.split("---\n", 2)[2], "no YAML frontmatter"),
        (lambda t: t.replace("name: scout\n", ""), "no 'name'"),
        (lambda t: t.replace("description: Finds things in a codebase.\n", ""), "'description'"),
        (lambda t: t.replace("## Selection", "## Choice"), "no '## Selection' section"),
        (lambda t: t.replace("- Keywords: find, locate, look up\n", ""), "'- Keywords: ...'"),
        (lambda t: t.replace("files: no", "files: maybe"), "yes or no"),
        (lambda t: t.replace("Table order: 3", "Table order: third"), "integer"),
        (lambda t: t.replace("find, locate", "find, Find"), "listed twice"),
        (lambda t: t.replace("find, locate", "find,, locate"), "empty keyword"),
        (lambda t: t.replace("description: Finds", "description: [Finds"), "not valid YAML"),
    ],
)
def test_parse_errors_name_the_file_and_the_problem(mutate, message: str) -> None:
    with pytest.raises(AgentDefinitionError) as info:
        parse_agent_definition(mutate(DEFINITION), filename="agents/scout.md")
    assert str(info.value).startswith("agents/scout.md: ")
    assert message in str(info.value)
    assert isinstance(info.value, WaveplanError)
    assert info.value.to_dict()["file"] == "agents/scout.md"


def test_selection_lines_under_a_later_heading_are_not_read() -> None:
    text = DEFINITION.replace("- Keywords: find, locate, look up\n", "")
    with pytest.raises(AgentDefinitionError, match="Keywords"):
        parse_agent_definition(text)


# --------------------------------------------------------------------------- selection


def test_the_agent_with_most_keyword_matches_wins() -> None:
    table = [
        profile("a", "api, schema", order=1),
        profile("b", "api, schema, endpoint", order=2),
    ]
    choice = select_agent("Add the API endpoint to the schema", table, writes=True)
    assert choice.agent == "b"
    assert choice.matched == ["api", "schema", "endpoint"]
    assert choice.reason == "b: 3 keyword matches (api, schema, endpoint)"


def test_ties_are_broken_by_table_order() -> None:
    first = profile("first", "deploy, pipeline", order=1)
    second = profile("second", "pipeline, deploy", order=2)
    text = "Deploy the pipeline"
    assert select_agent(text, [first, second], writes=True).agent == "first"
    choice = select_agent(text, [second, first], writes=True)
    assert choice.agent == "second"
    assert choice.reason.endswith("; tie with first broken by table order")


def test_matched_keywords_follow_the_agents_keyword_order() -> None:
    table = [profile("a", "schema, api, design")]
    assert select_agent("api design and schema", table, writes=False).matched == [
        "schema",
        "api",
        "design",
    ]


def test_one_match_is_not_enough_and_general_purpose_takes_over() -> None:
    table = [profile("reviewer", "review, audit"), profile("docs", "readme, guide")]
    choice = select_agent("Review the parser", table, writes=False)
    assert choice.agent == "general-purpose"
    assert choice.matched == []
    assert choice.reason == (
        "no agent reached 2 keyword matches (best: reviewer with 1); general-purpose"
    )


def test_no_match_at_all_falls_back_to_general_purpose() -> None:
    choice = select_agent("Create utility function", [profile("a", "x, y")], writes=False)
    assert choice.agent == "general-purpose"
    assert "no eligible agent matched any keyword" in choice.reason


def test_an_empty_table_selects_general_purpose() -> None:
    assert select_agent("Deploy the pipeline", [], writes=True).agent == "general-purpose"


def test_read_only_agents_never_get_a_task_that_writes() -> None:
    table = [
        profile("explorer", "find, locate, search", modifies=False, order=1),
        profile("fixer", "fix, find", order=2),
    ]
    text = "Find, locate and search the config, then fix it"
    assert select_agent(text, table, writes=False).agent == "explorer"
    choice = select_agent(text, table, writes=True)
    assert choice.agent == "fixer"
    assert "read-only explorer skipped because the task writes files" in choice.reason


def test_read_only_winner_excluded_leaves_general_purpose_with_a_reason() -> None:
    table = [profile("explorer", "find, locate", modifies=False)]
    choice = select_agent("Find and locate the file", table, writes=True)
    assert choice.agent == "general-purpose"
    assert "read-only explorer skipped" in choice.reason


def test_keywords_match_whole_words_with_inflections() -> None:
    table = [profile("ops", "deploy, pipeline, test")]
    assert select_agent("Deployment pipelines", table, writes=True).agent == "ops"
    assert select_agent("The contest of pipelines", table, writes=True).agent == ("general-purpose")


def test_selection_uses_the_scoring_matcher() -> None:
    # One implementation: whatever find_terms finds is what selection counts.
    text = "Refactor and optimize the dead-code paths"
    keywords = ("refactor", "optimize", "dead code", "lint")
    table = [AgentProfile("cleaner", "", keywords, True, (), 1)]
    expected = {m.term for m in find_terms(text, keywords)}
    assert (
        set(select_agent(text, table, writes=True).matched)
        == expected
        == {
            "refactor",
            "optimize",
            "dead code",
        }
    )


# --------------------------------------------------------------------------- the table


def test_the_table_holds_the_eight_plugin_agents_in_order_then_explore() -> None:
    table = load_agent_table()
    assert [p.name for p in table] == [*PLUGIN_AGENTS, "Explore"]
    orders = [p.order for p in table]
    assert orders == sorted(orders)
    explore = table[-1]
    assert explore.builtin and not explore.modifies_files
    assert {"explore", "find", "locate"} <= set(explore.keywords)
    assert "general-purpose" not in [p.name for p in table]


def test_read_only_agents_are_the_analysis_agents_and_explore() -> None:
    read_only = {p.name for p in load_agent_table() if not p.modifies_files}
    assert read_only == {
        "codebase-context-analyzer",
        "code-reviewer",
        "task-completion-verifier",
        "Explore",
    }


def test_no_keyword_is_shadowed_by_another_keyword_of_the_same_agent() -> None:
    # A keyword matching inside another of the same agent is dead weight: the longer
    # one claims the text, so the pair counts once.
    for p in load_agent_table():
        for inner in p.keywords:
            for outer in p.keywords:
                if inner != outer:
                    assert not find_terms(outer, [inner]), (p.name, inner, outer)


@pytest.mark.parametrize(
    ("text", "writes", "agent"),
    [
        ("Design the REST API schema for users", True, "tech-lead-architect"),
        ("Analyze the existing codebase structure", False, "codebase-context-analyzer"),
        ("Verify the acceptance criteria and run the tests", False, "task-completion-verifier"),
        ("Refactor the parser to remove dead code", True, "code-cleanup-optimizer"),
        ("Review the pull request for security issues", False, "code-reviewer"),
        ("Set up CI pipeline with Docker", True, "devops-experience-architect"),
        ("Write README and usage guide", True, "documentation-expert"),
        ("Upgrade dependencies and update the lockfile", True, "dependency-manager"),
        ("Audit dependencies for vulnerabilities", False, "dependency-manager"),
        ("Find all files that use the old logger", False, "Explore"),
        ("Find all files that use the old logger", True, "general-purpose"),
        ("Explore and map the authentication code paths", False, "codebase-context-analyzer"),
        ("Create utility function", True, "general-purpose"),
    ],
)
def test_realistic_tasks_route_to_the_expected_agent(text: str, writes: bool, agent: str) -> None:
    assert select_agent(text, load_agent_table(), writes=writes).agent == agent


def copy_agents(tmp_path: Path) -> Path:
    target = tmp_path / "agents"
    shutil.copytree(REPO_AGENTS, target)
    return target


def add_keywords(path: Path, extra: str) -> None:
    text = path.read_text()
    text, n = re.subn(r"^(- Keywords: .*)$", rf"\1, {extra}", text, count=1, flags=re.M)
    assert n == 1
    path.write_text(text)


def test_keywords_come_from_the_agent_files(tmp_path: Path) -> None:
    agents_dir = copy_agents(tmp_path)
    text = "Polish the frobnicator widget"
    before = select_agent(text, load_agent_table(agents_dir), writes=True)
    assert before.agent == "general-purpose"

    add_keywords(agents_dir / "documentation-expert.md", "frobnicator, widget")
    after = select_agent(text, load_agent_table(agents_dir), writes=True)
    assert after.agent == "documentation-expert"
    assert after.matched[-2:] == ["frobnicator", "widget"]


def test_an_edited_definition_is_picked_up_after_a_cached_load(tmp_path: Path) -> None:
    agents_dir = copy_agents(tmp_path)
    first = load_agent_table(agents_dir)
    assert load_agent_table(agents_dir) is first  # cached
    path = agents_dir / "code-reviewer.md"
    path.write_text(path.read_text().replace("Table order: 5", "Table order: 50"))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    names = [p.name for p in load_agent_table(agents_dir)]
    assert names.index("code-reviewer") == len(PLUGIN_AGENTS) - 1


def test_the_environment_variable_points_at_another_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "scout.md").write_text(DEFINITION)
    monkeypatch.setenv(AGENTS_DIR_ENV, str(tmp_path))
    assert find_agents_dir() == tmp_path
    assert [p.name for p in load_agent_table()] == ["scout", "Explore"]


def test_an_explicit_directory_wins_over_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(AGENTS_DIR_ENV, str(tmp_path / "nowhere"))
    assert find_agents_dir(REPO_AGENTS) == REPO_AGENTS


def test_without_overrides_the_repository_agents_directory_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(AGENTS_DIR_ENV, raising=False)
    assert find_agents_dir().resolve() == REPO_AGENTS.resolve()


def test_builtin_agents_follow_the_highest_plugin_order(tmp_path: Path) -> None:
    (tmp_path / "scout.md").write_text(DEFINITION)
    table = load_agent_table(tmp_path)
    assert [(p.name, p.order) for p in table] == [("scout", 3), ("Explore", 4)]


@pytest.mark.parametrize(
    ("second", "message"),
    [
        (DEFINITION.replace("Table order: 3", "Table order: 4"), "agent name 'scout'"),
        (DEFINITION.replace("name: scout", "name: other"), "table order 3"),
    ],
)
def test_two_agents_with_one_name_or_order_are_an_error(
    tmp_path: Path, second: str, message: str
) -> None:
    (tmp_path / "a.md").write_text(DEFINITION)
    (tmp_path / "b.md").write_text(second)
    with pytest.raises(AgentDefinitionError, match=f"b.md: {message}"):
        load_agent_table(tmp_path)


def test_a_plugin_agent_may_not_take_a_builtin_name(tmp_path: Path) -> None:
    (tmp_path / "explore.md").write_text(DEFINITION.replace("name: scout", "name: Explore"))
    with pytest.raises(AgentDefinitionError, match="built-in agent name"):
        load_agent_table(tmp_path)


def test_an_empty_or_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(AgentDefinitionError, match="no agent definitions"):
        load_agent_table(tmp_path)
    with pytest.raises(AgentDefinitionError, match="WAVEPLAN_AGENTS_DIR"):
        load_agent_table(tmp_path / "missing")


def test_plugin_agents_are_addressed_with_the_plugin_prefix() -> None:
    table = load_agent_table()
    assert subagent_type("code-reviewer", table) == "waveplan:code-reviewer"
    assert subagent_type("Explore", table) == "Explore"
    assert subagent_type("general-purpose", table) == "general-purpose"


def test_docstring_examples_hold() -> None:
    assert doctest.testmod(agents).failed == 0


# --------------------------------------------------------------------------- selection rules


@pytest.mark.parametrize("word", ["write", "create", "save", "generate", "produce", "output"])
def test_explore_never_gets_a_task_that_says_it_writes(word: str) -> None:
    text = f"Scan all files, list the modules and {word} the catalog"
    assert select_agent(text, load_agent_table(), writes=False).agent == "Explore"
    choice, _ = choose_agent(text, load_agent_table(), writes=False)
    assert choice.agent != "Explore"
    assert "Explore excluded: it cannot write" in choice.reason


def test_the_seeds_catalog_task_with_unknown_files_does_not_go_to_explore() -> None:
    choice, read_only = choose_agent(
        "Scan all files and write a summary catalog", load_agent_table(), writes=None
    )
    assert choice.agent == "general-purpose" and read_only is False


def test_explore_is_excluded_when_the_task_has_an_output_file() -> None:
    table = load_agent_table()
    text = "Find all files that use the old logger"
    assert choose_agent(text, table, writes=False)[0].agent == "Explore"
    choice, _ = choose_agent(text, table, writes=False, output_file=True)
    assert choice.agent != "Explore" and "has an output file" in choice.reason


def test_the_seeds_verification_task_without_writes_gets_the_verifier() -> None:
    # "Verify implementations" in the seed: writes not given, read-only specialist wanted.
    choice, read_only = choose_agent(
        "Verify implementations\nRun all tests and verify implementations meet requirements",
        load_agent_table(),
        writes=None,
        output_file=True,
    )
    assert choice.agent == "task-completion-verifier" and read_only is True


@pytest.mark.parametrize(
    ("text", "agent"),
    [
        ("Review the pull request diff for security issues", "code-reviewer"),
        ("Analyze the existing codebase structure and architecture", "codebase-context-analyzer"),
    ],
)
def test_review_and_analysis_tasks_without_writes_get_their_specialist(
    text: str, agent: str
) -> None:
    choice, read_only = choose_agent(text, load_agent_table(), writes=None, output_file=True)
    assert (choice.agent, read_only) == (agent, True)


@pytest.mark.parametrize(
    "text",
    [
        "Fix the failing tests and verify the edge cases",
        "Implement the parser, then test and validate it",
        "Update the README after the review",
    ],
)
def test_work_that_changes_files_never_goes_to_a_read_only_agent(text: str) -> None:
    choice, read_only = choose_agent(text, load_agent_table(), writes=None, output_file=True)
    profile = {p.name: p for p in load_agent_table()}.get(choice.agent)
    assert read_only is False
    assert profile is None or profile.modifies_files


def test_declared_writes_keep_the_read_only_rule() -> None:
    choice, read_only = choose_agent(
        "Review the pull request diff", load_agent_table(), writes=True, output_file=True
    )
    assert choice.agent == "general-purpose" and read_only is False
    assert choose_agent("Review the pull request diff", load_agent_table(), writes=False)[1]


@pytest.mark.parametrize(
    ("role", "agent"),
    [
        ("architect", "tech-lead-architect"),
        ("Lead designer", "tech-lead-architect"),
        ("critic", "task-completion-verifier"),
        ("Devil's advocate", "task-completion-verifier"),
        ("challenger", "task-completion-verifier"),
        ("researcher", "codebase-context-analyzer"),
        ("data analyst", "codebase-context-analyzer"),
        ("explorer", "codebase-context-analyzer"),
        ("code reviewer", "code-reviewer"),
        ("reviewer", "code-reviewer"),
        ("product manager", "general-purpose"),
    ],
)
def test_the_original_role_to_agent_mapping(role: str, agent: str) -> None:
    found, prompt = agent_for_role(role)
    assert found == agent
    assert (prompt is None) is (agent != "general-purpose")
