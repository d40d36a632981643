"""Figures, tables, rendered reports and the ``toh`` command-line interface.

The reports layer may import every other layer; nothing heavy is imported by the package itself.
"""

__all__: list[str] = []
