"""When each step of ``toh demo`` ran, and in which process (the figure worker's lines too).

Usage (from the project folder)::

    .venv/bin/python benchmarks/timeline.py OUT_FOLDER [LOG]   # LOG default: timeline.log

Runs ``toh demo --out OUT_FOLDER`` in this process with the report's steps wrapped (document,
disclosure audit, each figure, the PDF, the imports of matplotlib and fpdf); every wrapped call
appends ``pid label start end cpu=...`` (seconds since the start; the process's CPU seconds at
the end of the call) to LOG.  Sort by the start column to read the schedule of the two processes.
"""

from __future__ import annotations

import builtins
import os
import sys
import time
from pathlib import Path

T0 = time.perf_counter()
LOG = Path(sys.argv[2] if len(sys.argv) > 2 else "timeline.log")
WRAP = {
    "toh.reports.cli._build_steps": ["document_step", "figures_step", "render_step", "start_figures_step",
                                     "_write_markdown", "_write_tables_and_data"],
    "toh.reports.figures": ["_write_one", "_warm"],
    "toh.reports.render.pdf": ["render_pdf", "lay_out_pdf", "PdfDraft.write"],
    "toh.reports.render.html": ["render_html"],
    "toh.analyses.pipeline": ["analyse_export"],
    "toh.reports.document": ["protect", "build_document"],
}


def stamp(label: str, start: float, end: float) -> None:
    with LOG.open("a") as log:
        log.write(f"{os.getpid()} {label} {start - T0:.3f} {end - T0:.3f} cpu={time.process_time():.2f}\n")


def wrap(module: object, name: str) -> None:
    if "." in name:  # a method: Class.method
        owner, name = name.split(".")
        module = getattr(module, owner)
    func = getattr(module, name)

    def timed(*args: object, **kwargs: object) -> object:
        start = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            label = "fig:" + str(args[3]).rsplit("/", 1)[-1] if name == "_write_one" else func.__qualname__
            stamp(label, start, time.perf_counter())

    setattr(module, name, timed)


_import, _done = builtins.__import__, set()


def _watching_import(name: str, *args: object, **kwargs: object) -> object:
    top = name.split(".")[0]
    if top in {"matplotlib", "fpdf"} and top not in sys.modules:
        start = time.perf_counter()
        module = _import(name, *args, **kwargs)
        stamp("import " + top, start, time.perf_counter())
        return module
    module = _import(name, *args, **kwargs)
    for owner, names in WRAP.items():  # wrapped once the module is fully imported
        if owner in sys.modules and owner not in _done and hasattr(sys.modules[owner], names[0]):
            _done.add(owner)
            for n in names:
                if hasattr(sys.modules[owner], n.split(".")[0]):
                    wrap(sys.modules[owner], n)
    return module


if __name__ == "__main__":
    builtins.__import__ = _watching_import
    from toh.reports.cli import cli

    try:
        cli.main(["demo", "--out", sys.argv[1]], prog_name="toh", standalone_mode=False)
    except SystemExit:
        pass
    stamp("end", T0, time.perf_counter())
