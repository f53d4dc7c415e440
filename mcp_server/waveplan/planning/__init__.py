"""The pure planning core: data in, data out, no I/O, deterministic.

Modules and their public functions:

- ``scoring``:   ``score_complexity(text) -> Complexity``
- ``agents``:    ``AgentProfile``, ``parse_agent_definition(text)``, ``select_agent(text, table, *, writes)``
- ``paths``:     ``normalize_path(p)``, ``paths_overlap(a, b)``
- ``graph``:     ``validate_plan(tasks)``, ``critical_path(tasks)``
- ``waves``:     ``assign_waves(tasks, *, max_concurrent, read_write) -> WaveSchedule``, ``lower_bound(...)``
- ``conflicts``: ``find_conflicts(tasks, waves, *, read_write) -> list[Conflict]``
- ``team``:      ``team_mode_score(...) -> TeamMode``
- ``outputs``:   ``sanitize_subject``, ``output_file_names``, ``breadth_groups``
- ``plan``:      ``build_plan(spec, ...) -> PlanResult`` (assembles all of the above)
- ``render``:    text / markdown / mermaid / json views of a ``PlanResult``
"""
