"""The pure planning core: data in, data out, no I/O, deterministic.

Modules and their main public functions:

- ``scoring``:   ``score_complexity(text) -> Complexity``; ``find_terms`` (the one matcher,
  ``TermSet``/``TermSets`` compiled once per term list); ``ComplexityScorer`` for a plan
- ``agents``:    ``AgentProfile``, ``parse_agent_definition``, ``select_agent``;
  ``load_agent_table()`` is the I/O edge that reads ``agents/*.md``
- ``paths``:     ``normalize_path``, ``paths_overlap``, ``PathIndex`` (overlap queries)
- ``graph``:     ``validate_plan``, ``topological_order``, ``critical_path``
- ``waves``:     ``assign_waves(tasks, *, max_concurrent, read_write) -> WaveSchedule``,
  ``lower_bound``, ``naive_waves``
- ``conflicts``: ``find_conflicts``, ``check_schedule``, ``waves_from_declared``
- ``team``:      ``team_mode_score``, ``plan_team_inputs``, ``team_config``, ``synthesis_task``
- ``decompose``: ``check_decomposition`` (atomicity, depth, breadth, waves), ``group_items``
- ``outputs``:   ``sanitize_subject``, ``output_file_names``
- ``plan``:      ``build_plan(spec, ...) -> PlanResult`` (assembles all of the above)
- ``render``:    text / markdown / mermaid / json views of a ``PlanResult``
- ``compact``:   ``share_fields_set`` (the many models of a large plan stay small)
"""
