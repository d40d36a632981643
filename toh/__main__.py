"""``python -m toh`` and the ``toh`` console script.

A Ctrl-C while the command line itself is still loading (the first tenth of a second or so,
before a command installs its own handling) ends with exit code 130 and one line, as it does
at any later moment, instead of Python's traceback.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Run the ``toh`` command line."""
    try:
        from toh.reports.cli import main as run
    except KeyboardInterrupt:
        sys.stderr.write("\ntoh: interrupted before the command started; nothing was written\n")
        sys.exit(130)
    run()


if __name__ == "__main__":
    main()
