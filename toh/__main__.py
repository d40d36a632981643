"""``python -m toh``: the same as the ``toh`` command."""

from toh.reports.cli import main

main()
