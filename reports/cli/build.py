"""Build a report: validate, derive, analyse, draw, render, and replace the output folder.

One function, :func:`build_report`, behind ``toh report`` and ``toh demo``.  It logs one line
per step with its time; on an interactive terminal it also shows which step is running.  With
``if_changed`` it first hashes the inputs (every file of the export, the mapping and the
configuration) and skips the build when the hash equals the one in the last report's
``manifest.json``.

The output folder (see the README) holds ``report.html`` (self-contained), ``report.pdf``,
``report.md``, ``figures/`` (PNG and SVG), ``tables/`` (each report table as CSV, LaTeX and
HTML, counts suppressed), ``manifest.json`` and, unless turned off, ``data/results.json`` and
``data/tables/*.csv`` (machine-readable, full precision, unsuppressed).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from toh.cohort import interrupts
from toh.cohort.errors import ConfigError, InvalidDataError
from toh.cohort.outputs import check_output, output_folder
from toh.reports.manifest import MANIFEST, REPORT_KIND
from toh.reports.config import ReportConfig

__all__ = ["BuildOutcome", "build_report", "input_fingerprint"]

@dataclass(frozen=True)
class BuildOutcome:
    """What a build did: ``built`` (False when skipped as unchanged), the folder and the hash."""

    built: bool
    out: Path
    fingerprint: str
    files: tuple[str, ...] = ()


class _Steps:
    """One log line per finished step (time of day, step, seconds, detail); a live line on a TTY."""

    def __init__(self, log: Callable[[str], None], stream: TextIO | None, total: int) -> None:
        self.log, self.stream, self.total, self.done = log, stream, total, 0

    @contextmanager
    def step(self, name: str) -> Iterator[dict[str, str]]:
        detail: dict[str, str] = {}
        interrupts.check()  # an interruption a library swallowed stops the build at the next step
        if self.stream is not None:
            self.stream.write(f"\r\033[K[{self.done + 1}/{self.total}] {name} ...")
            self.stream.flush()
        start = time.perf_counter()
        try:
            yield detail
        except BaseException:
            self.log(f"{dt.datetime.now():%Y-%m-%d %H:%M:%S} toh report: {name:<9} {time.perf_counter() - start:7.2f} s"
                     "  failed")
            raise
        finally:
            if self.stream is not None:
                self.stream.write("\r\033[K")
                self.stream.flush()
        interrupts.check()
        self.done += 1
        seconds = time.perf_counter() - start
        note = f"  {detail['text']}" if detail.get("text") else ""
        self.log(f"{dt.datetime.now():%Y-%m-%d %H:%M:%S} toh report: {name:<9} {seconds:7.2f} s{note}")


def _export_files(export: Path, mapping: Path | None) -> list[Path]:
    """The files the export's tables are read from, as the mapping resolves them: a table file
    the mapping names counts wherever it is, and other files of the folder do not."""
    from toh.cohort.locate import export_inputs
    from toh.cohort.mapping import load_mapping

    return export_inputs(export, load_mapping(mapping))


def input_fingerprint(config: ReportConfig, version: str) -> str:
    """SHA-256 over the export's table files (as the mapping resolves them), the mapping, the
    configuration file, a claims file of one's own and the settings.

    The validation date enters only when it is set (a default "today" does not force a rebuild).
    """
    from toh.reports.manifest import file_hashes

    assert config.export is not None
    digest = hashlib.sha256()
    parts: dict[str, Any] = {"toh-cohort": version, "settings": config.as_dict()}
    parts["export"] = file_hashes(_export_files(config.export, config.mapping))
    for name, path in (("mapping", config.mapping), ("config", config.source), ("claims", config.claims)):
        if path is not None:
            if not Path(path).is_file():
                raise ConfigError(f"{name} file not found: {path}")
            parts[name] = file_hashes([Path(path)])
    digest.update(json.dumps(parts, sort_keys=True).encode("utf-8"))
    return digest.hexdigest()


def _last_fingerprint(out: Path) -> str | None:
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest.get("fingerprint") if manifest.get("kind") == REPORT_KIND else None


def build_report(config: ReportConfig, *, if_changed: bool = False, failures: Path | None = None,
                 log: Callable[[str], None] = print, progress: TextIO | None = None,
                 interactive: bool | None = None) -> BuildOutcome:
    """Build the report described by ``config`` into ``config.out``.

    Parameters
    ----------
    config
        What to build (export, mapping, output folder, formats, strata, suppression, seed).
    if_changed
        Skip the build when the inputs' and configuration's hash equals the last build's.
    failures
        Where to write every validation failure when the export is invalid.
    log
        Receives one line per step.
    progress
        Stream for the live step display (default stderr); shown only when it is a terminal.
    interactive
        Force (True) or suppress (False) the live display.

    Raises
    ------
    ConfigError
        Missing export or output, unreadable configuration, an output folder that is not a report.
    InvalidDataError
        The export is invalid (nothing is replaced; failures are written to ``failures``).
    """
    from toh.reports.manifest import software_versions

    if config.export is None:
        raise ConfigError("no export given: pass EXPORT or set [report].export in the configuration")
    if config.out is None:
        raise ConfigError("no output folder given: pass --out or set [report].out in the configuration")
    check_output(config.out, "report", (config.export, config.mapping, config.source, config.claims))
    stream = progress if progress is not None else sys.stderr
    live = interactive if interactive is not None else bool(getattr(stream, "isatty", lambda: False)())
    steps = _Steps(log, stream if live else None, 6 + len(config.formats))
    version = software_versions()["toh-cohort"]
    with steps.step("inputs") as note:
        fingerprint = input_fingerprint(config, version)
        if config.claims is not None:  # a broken claims file stops the build before any work
            from toh.analyses.claimsfile import load_claims

            load_claims(config.claims)
        note["text"] = f"fingerprint {fingerprint[:12]}"
    if if_changed and _last_fingerprint(config.out) == fingerprint:
        log(f"toh report: inputs and configuration unchanged since the last build of {config.out}: skipped")
        return BuildOutcome(False, config.out, fingerprint)
    with output_folder(config.out, "report",
                       inputs=(config.export, config.mapping, config.source, config.claims)) as stage:
        written = _build_into(stage, config, steps, fingerprint, version, failures)
    log(f"toh report: wrote {config.out} ({', '.join(written)})")
    return BuildOutcome(True, config.out, fingerprint, tuple(written))


def _build_into(stage: Path, config: ReportConfig, steps: _Steps, fingerprint: str, version: str,
                failures: Path | None) -> list[str]:
    from toh.analyses.pipeline import analyse_export
    from toh.reports.cli._build_steps import (analysis_options, beside_task, document_step, figures_step,
                                              render_step, start_figures_step)

    assert config.export is not None
    written: list[Path] = []

    def validated(report: Any) -> None:
        if not report.is_valid and failures is not None:
            written.append(report.write_failures(failures))

    try:
        run = analyse_export(config.export, config.mapping, options=analysis_options(config),
                             validation_date=config.validation_date, step=steps.step, on_validated=validated)
    except InvalidDataError as exc:
        raise InvalidDataError(f"{exc}" + (f"; every failure is in {written[0]}" if written else "")
                               + f"; the last report in {config.out} is left as it was", exc.report) from None
    for caution in run.cautions:
        steps.log(f"toh report: caution: {caution}")
    with steps.step("figures") as note:
        # the document first: its disclosure audit says which numbers at risk the figures hide;
        # the figure worker starts meanwhile (it imports matplotlib)
        pending = start_figures_step(stage / "figures", config, run.analysis)
        try:
            document = document_step(config, run)
        except BaseException:
            pending.close()
            raise
        # the PDF, Markdown, tables and data are written beside the figures, the PDF's figures put in last
        beside: dict[str, float] = {}
        then = beside_task(stage, config, run, document, beside, pending.png_sizes())
        figures = figures_step(run.analysis, stage / "figures", config, document[0], pending, then)
        note["text"] = f"{len(figures)} files" + (" and the PDF" if "pdf" in beside else "")
    return render_step(stage, config, steps, run, fingerprint, version, document, beside)
