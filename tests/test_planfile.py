from pathlib import Path

import pytest

from waveplan.errors import PlanFileError
from waveplan.planfile import load_plan_file, parse_plan_text


def write(tmp_path: Path, text: str, name: str = "plan.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_yaml_plan_file_loads_into_a_plan_spec(tmp_path):
    spec = load_plan_file(
        write(tmp_path, "plan: {name: p, max_concurrent: 2}\ntasks:\n  - {id: a, subject: A}\n")
    )
    assert spec.plan.name == "p" and spec.plan.max_concurrent == 2
    assert [t.id for t in spec.tasks] == ["a"]
    assert spec.tasks[0].writes is None


def test_a_json_plan_file_and_a_bare_task_list_are_accepted(tmp_path):
    spec = load_plan_file(write(tmp_path, '[{"id": "a", "subject": "A"}]', "p.json"))
    assert spec.tasks[0].id == "a"


def test_a_missing_file_is_a_one_line_error():
    with pytest.raises(PlanFileError, match="not found"):
        load_plan_file("/nonexistent/plan.yaml")


def test_bad_yaml_names_the_line(tmp_path):
    with pytest.raises(PlanFileError, match=r"invalid YAML at line 2"):
        load_plan_file(write(tmp_path, "tasks:\n  - id: a: b\n"))


def test_bad_json_names_the_line(tmp_path):
    with pytest.raises(PlanFileError, match=r"invalid JSON at line 1"):
        load_plan_file(write(tmp_path, '{"tasks": [}', "p.json"))


def test_a_wrong_field_type_names_the_task_and_field(tmp_path):
    text = "tasks:\n  - {id: a, subject: A}\n  - {id: b, subject: B, writes: src/app.py}\n"
    with pytest.raises(PlanFileError) as info:
        load_plan_file(write(tmp_path, text))
    assert "tasks[1] (id 'b').writes" in str(info.value)
    assert "'src/app.py'" in str(info.value)


def test_an_unknown_field_is_refused_as_a_likely_typo(tmp_path):
    with pytest.raises(PlanFileError, match=r"depends\b.*unknown field"):
        load_plan_file(write(tmp_path, "tasks:\n  - {id: a, subject: A, depends: [b]}\n"))


def test_duplicate_yaml_keys_are_refused(tmp_path):
    with pytest.raises(PlanFileError, match="duplicate key 'subject' at line 4"):
        load_plan_file(write(tmp_path, "tasks:\n  - id: a\n    subject: A\n    subject: B\n"))


def test_a_file_without_tasks_is_refused(tmp_path):
    with pytest.raises(PlanFileError, match="tasks"):
        load_plan_file(write(tmp_path, "plan: {name: x}\n"))
    with pytest.raises(PlanFileError, match="empty"):
        load_plan_file(write(tmp_path, ""))


def test_deeply_nested_input_is_a_clear_error_not_a_crash():
    with pytest.raises(PlanFileError):
        parse_plan_text("[" * 100_000 + "]" * 100_000)
