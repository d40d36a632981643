"""The steps of a report build (:mod:`toh.reports.cli.build`), each a function of the previous results."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from toh.reports.config import ReportConfig
from toh.reports.manifest import MANIFEST, REPORT_KIND

if TYPE_CHECKING:  # pragma: no cover
    from toh.analyses.pipeline import PipelineRun
    from toh.analyses.run import AnalysisOptions, CohortAnalysis
    from toh.reports.document._writer import ReportDocument
    from toh.reports.figures import PendingFigures

__all__ = ["analysis_options", "start_figures_step", "figures_step", "beside_task", "document_step", "render_step"]

_FIGURE_MM = {"single": 85.0, "double": 180.0}


def analysis_options(config: ReportConfig) -> AnalysisOptions:
    """The analyses' options a report configuration sets (:meth:`ReportConfig.analysis_options`:
    seed, bootstrap draws, strata, the Cox model's covariates and strata, the declared extra
    columns) with its claims file; category levels of fewer than ``min_cell`` patients are pooled
    into "other" in the strata and the Cox model."""
    return config.analysis_options(claims=config.claims, min_level=config.min_cell)


def start_figures_step(folder: Path, config: ReportConfig, analysis: CohortAnalysis) -> PendingFigures:
    """Start drawing the figures (PNG for PDF and Markdown, SVG for HTML): the worker that draws
    half of them is forked now and imports matplotlib while this process builds the document."""
    from toh.reports.figures import start_figures

    return start_figures(analysis, folder, ("png", "svg"), config.figure_width, min_cell=config.min_cell)


def figures_step(analysis: CohortAnalysis, folder: Path, config: ReportConfig,
                 doc: ReportDocument | None = None, pending: PendingFigures | None = None,
                 then: Callable[[Callable[[str], None]], None] | None = None) -> list[Path]:
    """Every figure as PNG (PDF and Markdown) and SVG (HTML), counts suppressed (with the
    numbers at risk that ``doc``'s disclosure audit hides), claims blanked; drawn by ``pending``
    (:func:`start_figures_step`) when given; ``then`` as in
    :meth:`toh.reports.figures.PendingFigures.finish` (:func:`beside_task`)."""
    from toh.reports.document import figure_hidden

    pending = pending if pending is not None else start_figures_step(folder, config, analysis)
    try:
        return pending.finish(figure_hidden(doc) if doc is not None else None,
                              doc.figure_names() if doc is not None else None, then)
    finally:
        pending.close()


def beside_task(stage: Path, config: ReportConfig, run: PipelineRun, document: tuple[ReportDocument, dict[str, Any]],
                seconds: dict[str, float], sizes: dict[str, tuple[int, int]] | None = None
                ) -> Callable[[Callable[[str], None]], None]:
    """What this process writes while the worker draws figures, as a task of :func:`figures_step`:
    the PDF laid out (each figure placed at its PNG's size, ``sizes``:
    :meth:`~toh.reports.figures.PendingFigures.png_sizes`, before it is written), the Markdown,
    the tables and data, then the PDF written once its figures are (``ready``: this process
    draws the figures not yet claimed meanwhile).  Each step's wall seconds go to ``seconds``
    (:func:`render_step` logs them and does not write those files again)."""
    doc, info = document

    def task(ready: Callable[[str], None]) -> None:
        draft = None
        if "pdf" in config.formats:
            from toh.reports.render.pdf import lay_out_pdf

            start = time.perf_counter()
            draft = lay_out_pdf(doc, stage / "figures", run.report.validation_date, _FIGURE_MM[config.figure_width],
                                sizes, ready)
            laid_out = time.perf_counter() - start
        if "md" in config.formats:
            start = time.perf_counter()
            _write_markdown(doc, stage)
            seconds["markdown"] = time.perf_counter() - start
        start = time.perf_counter()
        _write_tables_and_data(stage, config, run, doc, info)
        seconds["tables"] = time.perf_counter() - start
        if draft is not None:
            start = time.perf_counter()
            draft.write(stage / "report.pdf", ready)
            seconds["pdf"] = laid_out + time.perf_counter() - start

    return task


def document_step(config: ReportConfig, run: PipelineRun) -> tuple[ReportDocument, dict[str, Any]]:
    """The report document (audited for disclosure) and the provenance it states."""
    from toh.reports.document import build_document
    from toh.reports.manifest import provenance

    assert config.export is not None
    report, analysis = run.report, run.analysis
    settings = {"seed": config.seed, "bootstrap_draws": config.bootstrap_draws,
                "validation_date": report.validation_date.isoformat()}
    info = provenance(config.export, report.files, config.mapping, settings, config.claims)
    if config.source is not None:
        info["inputs_sha256"][f"config:{config.source.name}"] = _sha256(config.source)
    doc = build_document(config.title, report, run.derived, analysis, analysis.baseline, info, config.as_dict(),
                         config.min_cell, run.cautions)
    return doc, info


def _write_tables(doc: ReportDocument, folder: Path) -> list[Path]:
    import pandas as pd

    from toh.reports.document._writer import plain_text
    from toh.reports.document.tables import render_table

    paths = []
    for section in doc.sections:
        for table in section.tables:
            frame = pd.DataFrame([[plain_text(c) for c in row] for row in table.rows], columns=list(table.columns))
            for fmt, suffix in (("csv", "csv"), ("latex", "tex"), ("html", "html")):
                path = folder / f"{table.name}.{suffix}"
                render_table(frame, fmt, path, caption=table.caption)
                paths.append(path)
    return paths


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_markdown(doc: ReportDocument, stage: Path) -> None:
    from toh.reports.render.markdown import render_markdown

    render_markdown(doc, stage / "report.md")


def _write_tables_and_data(stage: Path, config: ReportConfig, run: PipelineRun, doc: ReportDocument,
                           info: dict[str, Any]) -> int:
    """Each report table as CSV, LaTeX and HTML, and the machine-readable data when asked for;
    return the number of table files."""
    tables = _write_tables(doc, stage / "tables")
    if config.machine_readable:
        from toh.reports.results import write_results

        write_results(run.analysis, stage / "data", info)
    return len(tables)


def render_step(stage: Path, config: ReportConfig, steps: Any, run: PipelineRun, fingerprint: str,
                version: str, document: tuple[ReportDocument, dict[str, Any]] | None = None,
                beside: dict[str, float] | None = None) -> list[str]:
    """Render each format, write tables, data and the manifest; return the names written.
    ``document`` is :func:`document_step`'s result when the build made it already; ``beside``
    holds the wall seconds of the steps :func:`beside_task` did already (their files are
    written)."""
    report = run.report
    doc, info = document or document_step(config, run)
    beside = beside or {}
    width = _FIGURE_MM[config.figure_width]
    written: list[str] = []
    if "html" in config.formats:
        with steps.step("html"):
            from toh.reports.render.html import render_html

            render_html(doc, stage / "figures", stage / "report.html", version, "svg", width)
            written.append("report.html")
    if "pdf" in config.formats:
        with steps.step("pdf") as note:
            if "pdf" in beside:
                note["text"] = f"assembled in {beside['pdf']:.2f} s beside the figures"
            else:
                from toh.reports.render.pdf import render_pdf

                render_pdf(doc, stage / "figures", stage / "report.pdf", report.validation_date, width)
            written.append("report.pdf")
    if "md" in config.formats:
        with steps.step("markdown") as note:
            if "markdown" in beside:
                note["text"] = f"written in {beside['markdown']:.2f} s beside the figures"
            else:
                _write_markdown(doc, stage)
            written.append("report.md")
    with steps.step("tables") as note:
        if "tables" in beside:
            count = len(list((stage / "tables").iterdir()))
            note["text"] = f"{count} files, written in {beside['tables']:.2f} s beside the figures"
        else:
            note["text"] = f"{_write_tables_and_data(stage, config, run, doc, info)} files"
        if config.machine_readable:
            written.append("data/")
        written += ["figures/", "tables/"]
    outputs = {str(p.relative_to(stage)): _sha256(p) for p in sorted(stage.rglob("*")) if p.is_file()}
    manifest = {"kind": REPORT_KIND, "fingerprint": fingerprint, "provenance": info, "config": config.as_dict(),
                "outputs_sha256": outputs}
    (stage / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return written + [MANIFEST]
