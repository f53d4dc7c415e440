"""The examples in the hooks modules' docstrings hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["__init__", "contract", "context", "session_start"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_of_hook_modules_run(name: str):
    module = importlib.import_module("waveplan.hooks" + ("" if name == "__init__" else f".{name}"))
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0, module.__name__
