"""Plan execution semantics: pure decisions the store and server act on.

No I/O, no clock, no globals: callers pass the plan's task states and ``now``.

- ``dispatch``:     which tasks may start now (strategies, ``max_concurrent``, file
  conflicts with running work, priorities with aging, fail-fast halt), and which
  waiting tasks settle (ready, skipped by a condition, cancelled by a failed upstream)
- ``policies``:     failure policies and retries (``on_failure``), lease expiry
- ``conditions``:   the safe ``when`` expression language over a dependency's output
- ``placeholders``: ``{taskResult:...}`` and ``{input}`` filling in descriptions
"""
