"""Agent profiles and keyword-based agent selection.

The agent definition files (``agents/<name>.md``) are the single source of truth for
each agent's keywords: their ``## Selection`` section reads::

    ## Selection

    - Keywords: api, schema, data model, system design
    - Modifies project files: yes
    - Table order: 2

``parse_agent_definition`` turns one file's text into an ``AgentProfile`` (pure);
``load_agent_table`` is the I/O edge that reads the directory (cached) and appends
Claude Code's built-in agents (``Explore``, from ``data/builtin_agents.json``).
``select_agent`` picks the agent with the most keyword matches (at least
``MIN_MATCHES``), ties broken by table order, else ``general-purpose``; agents that do
not modify project files are never chosen for a task that writes.

Names are bare (``tech-lead-architect``). Claude Code addresses plugin agents as
``waveplan:<name>`` (``subagent_type`` gives that spelling); built-in agents
(``Explore``, ``general-purpose``) keep their bare names.

>>> table = (
...     AgentProfile("tech-lead-architect", "", ("api", "schema", "design"), True, (), 1),
...     AgentProfile("code-reviewer", "", ("review", "audit"), False, (), 2),
... )
>>> select_agent("Design the API schema", table, writes=True).agent
'tech-lead-architect'
>>> select_agent("Review and audit the parser", table, writes=True).agent
'general-purpose'
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from waveplan.errors import WaveplanError
from waveplan.models import AgentChoice
from waveplan.planning.scoring import TermSets, compile_terms, find_terms

__all__ = [
    "AGENTS_DIR_ENV",
    "FALLBACK_AGENT",
    "MIN_MATCHES",
    "PLUGIN_PREFIX",
    "ROLE_AGENTS",
    "WRITE_WORDS",
    "AgentDefinitionError",
    "AgentProfile",
    "agent_for_role",
    "can_write",
    "choose_agent",
    "find_agents_dir",
    "load_agent_table",
    "parse_agent_definition",
    "says_write",
    "select_agent",
    "subagent_type",
]

MIN_MATCHES = 2
FALLBACK_AGENT = "general-purpose"
PLUGIN_PREFIX = "waveplan:"
AGENTS_DIR_ENV = "WAVEPLAN_AGENTS_DIR"

_FRONTMATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
_SELECTION_HEADING = re.compile(r"^##[ \t]+Selection[ \t]*$", re.M | re.I)
_NEXT_HEADING = re.compile(r"^#{1,2}[ \t]", re.M)
_SELECTION_LINE = re.compile(
    r"^[ \t]*[-*][ \t]*(keywords|modifies project files|table order)[ \t]*:[ \t]*(.*?)[ \t]*$",
    re.M | re.I,
)


class AgentDefinitionError(WaveplanError):
    """An agent definition file that cannot be used for selection."""

    code = "agent_definition"


@dataclass(frozen=True)
class AgentProfile:
    """What selection needs to know about one agent.

    ``keywords`` keep the order of the definition file (lowercased); ``order`` is the
    table order that breaks ties; ``modifies_files`` is false for read-only agents.
    """

    name: str
    description: str
    keywords: tuple[str, ...]
    modifies_files: bool
    tools: tuple[str, ...]
    order: int
    builtin: bool = False


# --------------------------------------------------------------------------- parsing


def _fail(filename: str | None, problem: str) -> AgentDefinitionError:
    where = filename or "agent definition"
    return AgentDefinitionError(f"{where}: {problem}", file=filename)


def _split_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else str(value).split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())


def parse_agent_definition(text: str, *, filename: str | None = None) -> AgentProfile:
    """Parse one agent definition (``agents/<name>.md``) into an ``AgentProfile``.

    Parameters
    ----------
    text
        The file's content: YAML frontmatter (``name``, ``description``, ``tools``)
        and a body with a ``## Selection`` section.
    filename
        Named in error messages.

    Returns
    -------
    AgentProfile

    Raises
    ------
    AgentDefinitionError
        Missing frontmatter, name, description or Selection entries, an empty or
        repeated keyword, a yes/no or order that does not parse.

    Examples
    --------
    >>> p = parse_agent_definition('''---
    ... name: scout
    ... description: Finds things.
    ... tools: Read, Grep
    ... ---
    ... Find things.
    ...
    ... ## Selection
    ...
    ... - Keywords: find, locate, look up
    ... - Modifies project files: no
    ... - Table order: 3
    ... ''')
    >>> p.name, p.keywords, p.modifies_files, p.tools, p.order
    ('scout', ('find', 'locate', 'look up'), False, ('Read', 'Grep'), 3)
    """
    fm = _FRONTMATTER.match(text)
    if fm is None:
        raise _fail(filename, "no YAML frontmatter; start the file with '---', name, description")
    try:
        meta = yaml.safe_load(fm.group(1))
    except yaml.YAMLError as exc:
        raise _fail(filename, f"frontmatter is not valid YAML ({exc}); quote the values") from exc
    if not isinstance(meta, dict):
        raise _fail(filename, "frontmatter must be a mapping of name, description, tools")
    name = str(meta.get("name") or "").strip()
    description = str(meta.get("description") or "").strip()
    if not name:
        raise _fail(filename, "frontmatter has no 'name'; add 'name: <agent-name>'")
    if not description:
        raise _fail(filename, "frontmatter has no 'description'; say what the agent does")
    tools = _split_list(meta.get("tools"))

    body = text[fm.end() :]
    heading = _SELECTION_HEADING.search(body)
    if heading is None:
        raise _fail(
            filename,
            "no '## Selection' section; add one with '- Keywords:', "
            "'- Modifies project files:' and '- Table order:' lines",
        )
    section = body[heading.end() :]
    following = _NEXT_HEADING.search(section)
    if following is not None:
        section = section[: following.start()]
    fields: dict[str, str] = {}
    for m in _SELECTION_LINE.finditer(section):
        label = m.group(1).lower()
        if label in fields:
            raise _fail(filename, f"'{m.group(1)}' appears twice in the Selection section")
        fields[label] = m.group(2)

    missing = [
        label
        for label in ("keywords", "modifies project files", "table order")
        if label not in fields
    ]
    if missing:
        raise _fail(
            filename,
            "the Selection section lacks "
            + ", ".join(f"'- {m.capitalize()}: ...'" for m in missing),
        )

    raw_keywords = [k.strip().lower() for k in fields["keywords"].split(",")]
    if not raw_keywords or any(not k for k in raw_keywords):
        raise _fail(
            filename, "empty keyword in '- Keywords:'; separate keywords with single commas"
        )
    seen: set[str] = set()
    for keyword in raw_keywords:
        if keyword in seen:
            raise _fail(filename, f"keyword {keyword!r} is listed twice; keep one")
        seen.add(keyword)

    flag = fields["modifies project files"].strip().lower()
    if flag not in ("yes", "no"):
        raise _fail(filename, f"'Modifies project files' must be yes or no, not {flag!r}")
    try:
        order = int(fields["table order"])
    except ValueError:
        raise _fail(
            filename, f"'Table order' must be an integer, not {fields['table order']!r}"
        ) from None

    return AgentProfile(
        name=name,
        description=description,
        keywords=tuple(raw_keywords),
        modifies_files=flag == "yes",
        tools=tools,
        order=order,
    )


# --------------------------------------------------------------------------- loading (I/O)


def find_agents_dir(agents_dir: Path | None = None) -> Path:
    """Where the agent definitions live.

    In order: the argument; ``$WAVEPLAN_AGENTS_DIR``; the repository or plugin root's
    ``agents/``; the copy packaged into wheels (``waveplan/_agents``).

    Raises
    ------
    AgentDefinitionError
        When none of these is a directory.
    """
    if agents_dir is not None:
        candidates = [Path(agents_dir)]
    elif os.environ.get(AGENTS_DIR_ENV):
        candidates = [Path(os.environ[AGENTS_DIR_ENV])]
    else:
        # This file is <root>/mcp_server/waveplan/planning/agents.py.
        candidates = [
            Path(__file__).resolve().parents[3] / "agents",
            Path(str(resources.files("waveplan").joinpath("_agents"))),
        ]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise AgentDefinitionError(
        "no agent definitions directory found (looked at "
        + ", ".join(str(c) for c in candidates)
        + f"); pass agents_dir or set ${AGENTS_DIR_ENV}",
        looked_at=[str(c) for c in candidates],
    )


def load_agent_table(agents_dir: Path | None = None) -> tuple[AgentProfile, ...]:
    """Read every ``*.md`` agent definition, sorted by table order, then the built-ins.

    The result is cached per directory and file signature (names, sizes, mtimes), so an
    edited definition is picked up on the next call.

    Raises
    ------
    AgentDefinitionError
        A definition that does not parse, two agents with one name or one table order,
        or a directory without definitions.
    """
    directory = find_agents_dir(agents_dir).resolve()
    files = sorted(directory.glob("*.md"))
    signature = tuple((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    return _load_table(str(directory), signature)


@lru_cache(maxsize=32)
def _load_table(
    directory: str, signature: tuple[tuple[str, int, int], ...]
) -> tuple[AgentProfile, ...]:
    if not signature:
        raise AgentDefinitionError(
            f"no agent definitions (*.md) in {directory}; point ${AGENTS_DIR_ENV} at agents/",
            directory=directory,
        )
    profiles = [
        parse_agent_definition((Path(directory) / name).read_text("utf-8"), filename=name)
        for name, _, _ in signature
    ]
    by_name: dict[str, str] = {}
    by_order: dict[int, str] = {}
    for profile, (filename, _, _) in zip(profiles, signature, strict=True):
        if profile.name in by_name:
            raise AgentDefinitionError(
                f"{filename}: agent name {profile.name!r} is also used by "
                f"{by_name[profile.name]}; agent names must be unique"
            )
        if profile.order in by_order:
            raise AgentDefinitionError(
                f"{filename}: table order {profile.order} is also used by "
                f"{by_order[profile.order]}; give each agent its own order"
            )
        by_name[profile.name] = filename
        by_order[profile.order] = filename
    profiles.sort(key=lambda p: p.order)
    next_order = profiles[-1].order + 1
    for offset, builtin in enumerate(_builtin_agents()):
        if builtin["name"] in by_name:
            raise AgentDefinitionError(
                f"{by_name[builtin['name']]}: {builtin['name']!r} is a built-in agent name; "
                "rename the plugin agent"
            )
        profiles.append(
            AgentProfile(
                name=builtin["name"],
                description=builtin["description"],
                keywords=tuple(k.lower() for k in builtin["keywords"]),
                modifies_files=bool(builtin["modifies_files"]),
                tools=tuple(builtin.get("tools", ())),
                order=next_order + offset,
                builtin=True,
            )
        )
    return tuple(profiles)


def _builtin_agents() -> list[dict[str, Any]]:
    data = resources.files("waveplan.planning").joinpath("data/builtin_agents.json")
    return list(json.loads(data.read_text("utf-8"))["agents"])


# --------------------------------------------------------------------------- selection


@lru_cache(maxsize=32)
def _keyword_matcher(keywords: tuple[tuple[str, ...], ...]) -> TermSets:
    # Built once per agent table: every agent's keywords in one index of words.
    return TermSets(compile_terms(k) for k in keywords)


# Agent lists asked about by the identity of their keyword tuples: planning asks about the
# same agents (the table, or the same eligible part of it, a new list each time) for every
# task, and hashing every keyword of every agent each time would cost more than the
# match. The tuples are kept, so no other object can take their ids while they are here.
_by_identity: dict[tuple[int, ...], tuple[tuple[tuple[str, ...], ...], TermSets]] = {}


def _table_matcher(table: Sequence[AgentProfile]) -> TermSets:
    keywords = tuple(p.keywords for p in table)
    key = tuple(map(id, keywords))
    known = _by_identity.get(key)
    if known is not None and all(a is b for a, b in zip(known[0], keywords, strict=True)):
        return known[1]
    matcher = _keyword_matcher(keywords)
    if len(_by_identity) >= 64:
        _by_identity.clear()
    _by_identity[key] = (keywords, matcher)
    return matcher


def _table_matches(text: str, table: Sequence[AgentProfile]) -> list[list[str]]:
    """Each agent's matched keywords (``find_terms`` of its keywords, in keyword order).

    One pass over the text's words for the whole table, not one matcher per agent.
    """
    out: list[list[str]] = []
    for profile, found in zip(table, _table_matcher(table).terms(text), strict=True):
        if found:
            terms = set(found)
            out.append([k for k in profile.keywords if k in terms])
        else:
            out.append(found)  # a new empty list
    return out


def select_agent(text: str, table: Sequence[AgentProfile], *, writes: bool) -> AgentChoice:
    """Pick the agent whose keywords match ``text`` most often.

    An agent needs at least ``MIN_MATCHES`` distinct keyword matches (matching as in
    ``scoring.find_terms``: whole words, phrases, simple inflections); the highest
    count wins; ties go to the agent earlier in ``table``. With ``writes`` true,
    agents that do not modify project files are not eligible. Without a winner the
    choice is ``general-purpose``.

    Parameters
    ----------
    text
        The task's subject (and description, if any).
    table
        Agent profiles in table order (``load_agent_table()``).
    writes
        Whether the task modifies files.

    Returns
    -------
    AgentChoice
        ``agent`` (a bare name), ``matched`` (the winner's keywords, in its table
        order) and a one-sentence ``reason``.

    Examples
    --------
    >>> table = (
    ...     AgentProfile("scout", "", ("find", "locate", "search"), False, (), 1),
    ...     AgentProfile("fixer", "", ("fix", "find", "bug"), True, (), 2),
    ... )
    >>> choice = select_agent("Find and fix the bug", table, writes=False)
    >>> choice.agent, choice.matched
    ('fixer', ['fix', 'find', 'bug'])
    >>> select_agent("Find and locate the bug", table, writes=False).reason
    'scout: 2 keyword matches (find, locate); tie with fixer broken by table order'
    >>> select_agent("Find and locate the file", table, writes=True).agent
    'general-purpose'
    """
    scored: list[tuple[AgentProfile, list[str]]] = []
    skipped: list[str] = []
    for profile, matched in zip(table, _table_matches(text, table), strict=True):
        if writes and not profile.modifies_files:
            if len(matched) >= MIN_MATCHES:
                skipped.append(profile.name)
            continue
        scored.append((profile, matched))

    skipped_note = (
        f"; read-only {', '.join(skipped)} skipped because the task writes files" if skipped else ""
    )
    best: tuple[AgentProfile, list[str]] | None = None
    for candidate in scored:  # first maximum in table order wins the tie
        if best is None or len(candidate[1]) > len(best[1]):
            best = candidate

    if best is None or len(best[1]) < MIN_MATCHES:
        if best is None or not best[1]:
            detail = "no eligible agent matched any keyword"
        else:
            detail = f"best: {best[0].name} with {len(best[1])}"
        return AgentChoice(
            agent=FALLBACK_AGENT,
            matched=[],
            reason=(
                f"no agent reached {MIN_MATCHES} keyword matches ({detail}); "
                f"{FALLBACK_AGENT}{skipped_note}"
            ),
        )

    winner, matched = best
    tied = [p.name for p, m in scored if p is not winner and len(m) == len(matched)]
    reason = f"{winner.name}: {len(matched)} keyword matches ({', '.join(matched)})"
    if tied:
        reason += f"; tie with {', '.join(tied)} broken by table order"
    return AgentChoice(agent=winner.name, matched=matched, reason=reason + skipped_note)


def subagent_type(name: str, table: Sequence[AgentProfile]) -> str:
    """The ``subagent_type`` Claude Code expects for an agent name.

    Plugin agents are namespaced (``waveplan:<name>``); built-in agents and the
    ``general-purpose`` fallback are not.

    >>> table = (AgentProfile("code-reviewer", "", ("review",), False, (), 1),)
    >>> subagent_type("code-reviewer", table), subagent_type("general-purpose", table)
    ('waveplan:code-reviewer', 'general-purpose')
    """
    for profile in table:
        if profile.name == name:
            return name if profile.builtin else PLUGIN_PREFIX + name
    return name


# --------------------------------------------------------------------------- selection rules
# The decisions on top of the keyword match (``select_agent``): which agents a task may
# go to at all. Kept apart from the matcher so the two can change independently.

#: Description words that mean the task produces a file (the original's Explore rule).
WRITE_WORDS = ("write", "create", "save", "generate", "produce", "output")
# Verbs of implementation work, exact forms only: "verify implementations" is a check,
# "implement the parser" is not (the full inflections would also match the noun).
_IMPLEMENT_FORMS = (
    "built",
    *(
        f"{stem}{end}"
        for stem, ends in (
            ("implement", ("", "s", "ed", "ing")),
            ("fix", ("", "es", "ed", "ing")),
            ("build", ("", "s", "ing")),
            ("add", ("", "s", "ed", "ing")),
            ("refactor", ("", "s", "ed", "ing")),
            ("modif", ("y", "ies", "ied", "ying")),
            ("chang", ("e", "es", "ed", "ing")),
            ("edit", ("", "s", "ed", "ing")),
            ("updat", ("e", "es", "ed", "ing")),
            ("rewr", ("ite", "ites", "ote", "iting", "itten")),
            ("migrat", ("e", "es", "ed", "ing")),
            ("delet", ("e", "es", "ed", "ing")),
            ("remov", ("e", "es", "ed", "ing")),
            ("renam", ("e", "es", "ed", "ing")),
            ("install", ("", "s", "ed", "ing")),
            ("configur", ("e", "es", "ed", "ing")),
            ("deploy", ("", "s", "ed", "ing")),
            ("patch", ("", "es", "ed", "ing")),
        )
        for end in ends
    ),
)
#: The original's role-to-agent mapping for explicit team requests (first match wins).
ROLE_AGENTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("architect", "designer"), "tech-lead-architect"),
    (("critic", "devil's advocate", "devils advocate", "challenger"), "task-completion-verifier"),
    (("researcher", "analyst", "explorer"), "codebase-context-analyzer"),
    (("reviewer", "code reviewer"), "code-reviewer"),
)


def says_write(text: str) -> bool:
    """Whether a task description says it writes, creates, saves, generates or produces.

    >>> says_write("Scan all files and write a summary catalog"), says_write("Scan the files")
    (True, False)
    """
    return bool(find_terms(text, WRITE_WORDS))


def can_write(profile: AgentProfile) -> bool:
    """Whether an agent has the ``Write`` tool (Explore, read-only built in, has not)."""
    return "Write" in profile.tools


def agent_for_role(role: str) -> tuple[str, str | None]:
    """The agent for a teammate role, and a custom prompt when no specialist fits.

    >>> agent_for_role("Devil's advocate")
    ('task-completion-verifier', None)
    >>> agent_for_role("UX researcher")
    ('codebase-context-analyzer', None)
    >>> agent_for_role("security champion")[0]
    'general-purpose'
    """
    for words, agent in ROLE_AGENTS:
        if find_terms(role, words, inflect="plural"):
            return agent, None
    return FALLBACK_AGENT, (
        f"You are the team's {role.strip()}: work on the task from that perspective and "
        "say so in your result."
    )


def choose_agent(
    text: str,
    table: Sequence[AgentProfile],
    *,
    writes: bool | None,
    output_file: bool = False,
) -> tuple[AgentChoice, bool]:
    """``select_agent`` under the task-planner's eligibility rules.

    - An agent without the ``Write`` tool (Explore) never gets a task that has an output
      file to write or whose description says write, create, save, generate, produce or
      output.
    - ``writes=None`` (files not declared): the task counts as writing unless it is a
      check, i.e. its description has none of those words and no implementation verb
      (implement, fix, build, add, refactor, update ...). A check goes to its read-only
      specialist (verifier, reviewer, analyzer), which writes only its output file.

    Returns
    -------
    (AgentChoice, bool)
        The choice, and whether the task is read-only (it writes nothing but its
        output file): declared ``writes: []``, or a check with undeclared files that
        went to a read-only agent.

    Examples
    --------
    >>> table = (AgentProfile("verifier", "", ("verify", "test"), False, ("Write",), 1),
    ...          AgentProfile("Explore", "", ("scan", "catalog"), False, ("Read",), 2, True))
    >>> choice, read_only = choose_agent("Run all tests and verify implementations", table,
    ...                                  writes=None)
    >>> choice.agent, read_only
    ('verifier', True)
    >>> choose_agent("Scan all files and write a catalog", table, writes=None)[0].agent
    'general-purpose'
    """
    wants_file = output_file or says_write(text)
    excluded = [p for p in table if wants_file and not can_write(p)]
    eligible = [p for p in table if p not in excluded]
    if writes is None:
        check = not says_write(text) and not find_terms(text, _IMPLEMENT_FORMS, inflect="exact")
        effective = not check
    else:
        effective = writes
    choice = select_agent(text, eligible, writes=effective)
    if excluded:
        would = select_agent(text, excluded, writes=False)
        if would.agent != FALLBACK_AGENT:
            why = "has an output file" if output_file else "says it writes"
            choice = choice.model_copy(
                update={
                    "reason": f"{choice.reason}; {would.agent} excluded: it cannot write and "
                    f"the task {why}"
                }
            )
    by_name = {p.name: p for p in table}
    winner = by_name.get(choice.agent)
    read_only = writes is False or (
        writes is None and winner is not None and not winner.modifies_files
    )
    return choice, read_only
