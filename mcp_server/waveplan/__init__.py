"""waveplan: computed task plans for Claude Code.

The planning core (``waveplan.planning``) is pure; ``waveplan.store`` persists;
``waveplan.server`` adapts both to MCP; ``waveplan.cli`` to the command line.
"""

__version__ = "0.1.0"
