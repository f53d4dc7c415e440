"""Size limits of what a task stores (stdlib only: the pydantic edge models and the
hooks' pydantic-free requests share them).

A task's text comes back in every ``task_get`` and (outputs) in its dependents'
descriptions, so each field has a cap (5 MB subjects and 2 MB notes were accepted
before).
"""

from __future__ import annotations

__all__ = [
    "MAX_DESCRIPTION_CHARS",
    "MAX_ERROR_CHARS",
    "MAX_METADATA_CHARS",
    "MAX_NOTE_CHARS",
    "MAX_OUTPUT_CHARS",
    "MAX_OWNER_CHARS",
    "MAX_SUBJECT_CHARS",
    "TEXT_LIMITS",
]

MAX_SUBJECT_CHARS = 500
MAX_DESCRIPTION_CHARS = 100_000
MAX_OWNER_CHARS = 200
MAX_OUTPUT_CHARS = 1_000_000
MAX_ERROR_CHARS = 20_000
MAX_NOTE_CHARS = 20_000
MAX_METADATA_CHARS = 100_000

#: The text fields of a task change and their caps.
TEXT_LIMITS = {
    "subject": MAX_SUBJECT_CHARS,
    "description": MAX_DESCRIPTION_CHARS,
    "activeForm": MAX_SUBJECT_CHARS,
    "owner": MAX_OWNER_CHARS,
    "output": MAX_OUTPUT_CHARS,
    "error": MAX_ERROR_CHARS,
    "error_code": MAX_OWNER_CHARS,
    "note": MAX_NOTE_CHARS,
}
