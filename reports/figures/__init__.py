"""Publication figures: functions that take a result of :mod:`analyses` and ``ax=None``, draw
in the house style (:mod:`toh.reports.figures._style`) and return the axes, plus
:func:`write_figures`, which writes every figure of a paper.

========================  ==============================================================
:func:`km_resolution`     Kaplan-Meier time to resolution, overall or by sex / pregnancy /
                          treatment, CI bands, censor marks, number-at-risk table
:func:`cif_curves`        cumulative incidence of same-hip recurrence and of migration
:func:`radiographic_change`  Turnbull NPMLE of radiographic change, Weibull fit, bootstrap
                          CIs, the published 4-8 week band
:func:`age_by_sex`        age at onset by sex, pregnancy shown, men's 40-55 band
:func:`complications_shares`  fracture and AVN shares, overall and by pregnancy
:func:`imaging_findings`  share of examinations showing each finding, by modality
:func:`claims_forest`     each published claim beside the registry's estimate and CI
========================  ==============================================================

matplotlib is imported inside the functions, never when this module is imported,
so ``toh --help`` stays light.  With ``ax=None`` a function draws in a new pyplot figure one
journal column wide (so a notebook shows it); :func:`write_figures` instead draws on the Agg
canvas without pyplot and writes PNG (300 dpi), SVG and PDF with identical bytes on every run.

Artists carry gids (``km-sex-curve-m``, ``km-sex-at-risk-m-3``, ``claim-sex-ratio-ci``, ...),
written as element ids in SVG, so tests and the HTML report can find them.  Counts printed in a
figure (numbers at risk, group sizes, histogram bars) follow the project's small-cell rule:
1 to ``min_cell - 1`` shows as ``"<min_cell"`` (``min_cell=0`` shows every count).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from toh.reports.figures._claims import claims_container, claims_forest, claims_layout
from toh.reports.figures._common import lay_out_once
from toh.reports.figures._curves import STRATUM_VARS, cif_curves, km_resolution
from toh.reports.figures._panels import age_by_sex, radiographic_change
from toh.reports.figures._shares import complications_shares, imaging_findings, share_rows_height
from toh.reports.figures._workers import Split, start_split
from toh.reports.figures._style import (FORMATS, METADATA, figure_style, figure_width, new_figure, png_size,
                                       save_figure)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.figure import Figure

    from toh.analyses.run import CohortAnalysis

from toh.reports.figures.names import (AGE_BY_SEX, CIF, CLAIMS_FOREST, COMPLICATIONS, FIGURE_NEEDS, IMAGING,
                                      RADIOGRAPHIC, km_resolution_name)

__all__ = ["km_resolution", "cif_curves", "radiographic_change", "age_by_sex", "claims_forest", "write_figures",
           "start_figures", "PendingFigures",
           "complications_shares", "imaging_findings",
           "figure_names", "STRATUM_VARS", "FORMATS", "FIGURE_NEEDS"]



def _specs(analysis: CohortAnalysis, width_in: float, min_cell: int,
           hidden: Mapping[str, Collection[tuple[str, int]]] | None = None
           ) -> list[tuple[str, float, Callable[[Figure], object]]]:
    """(file stem, height in inches, draw(figure)) of every figure of a paper, in order."""
    from toh.reports.document import claims_for_figure

    scale = 1.0 if width_in < 5 else 1.25  # a wider figure is a little taller, not proportionally
    curves = analysis.resolution.curves
    specs: list[tuple[str, float, Callable[[Figure], object]]] = []
    declared = [s for s in dict.fromkeys(curves["variable"]) if s not in STRATUM_VARS]  # extra columns
    for s in (s for s in [*STRATUM_VARS, *declared] if (curves["variable"] == s).any()):
        n = curves.loc[curves["variable"] == s, "stratum"].nunique()
        specs.append((km_resolution_name(s), 2.3 * scale + 0.125 * (n + (n > 1)) + 0.25,
                      lambda fig, s=s: km_resolution(analysis.resolution, s, fig.add_subplot(), min_cell=min_cell,
                                                     hidden=(hidden or {}).get(km_resolution_name(s), ()))))
    specs += [
        (CIF, 2.3 * scale + 0.125 * 3 + 0.25,
         lambda fig: cif_curves(analysis.recurrence, analysis.migration, fig.add_subplot(), min_cell=min_cell,
                                hidden=(hidden or {}).get(CIF, ()))),
        (RADIOGRAPHIC, 2.4 * scale,
         lambda fig: radiographic_change(analysis.radiographic, fig.add_subplot(), min_cell=min_cell,
                                         hidden=(hidden or {}).get(RADIOGRAPHIC, ()))),
        (AGE_BY_SEX, 2.5 * scale,
         lambda fig: age_by_sex(analysis.demographics, fig.add_subplot(), min_cell=min_cell,
                                men_age_range=analysis.definitions.men_age_range,
                                hidden=(hidden or {}).get(AGE_BY_SEX, ()))),
        (COMPLICATIONS, share_rows_height(len(analysis.complications.estimates)),
         lambda fig: complications_shares(analysis.complications, fig.add_subplot(), min_cell=min_cell,
                                          hidden=(hidden or {}).get(COMPLICATIONS, ()))),
        (IMAGING, share_rows_height(max(int((analysis.imaging.findings["recorded"] > 0).sum()), 1)),
         lambda fig: imaging_findings(analysis.imaging, fig.add_subplot(), min_cell=min_cell,
                                      hidden=(hidden or {}).get(IMAGING, ()))),
        (CLAIMS_FOREST, claims_layout(analysis.claims.claims, width_in)[1],
         lambda fig: claims_forest(claims_for_figure(analysis, min_cell, [c for c, _ in (hidden or {}).get(
             CLAIMS_FOREST, ())]), claims_container(fig))),
    ]
    return [spec for spec in specs if spec[0] not in FIGURE_NEEDS or not analysis.reason(*FIGURE_NEEDS[spec[0]])]


def figure_names(analysis: CohortAnalysis) -> list[str]:
    """The file stems :func:`write_figures` writes for ``analysis``, in order."""
    return [stem for stem, _, _ in _specs(analysis, figure_width("single"), 5)]


def write_figures(analysis: CohortAnalysis, out_dir: str | Path, formats: Sequence[str] = FORMATS,
                  width: str | float = "single", *, min_cell: int = 5,
                  hidden: Mapping[str, Collection[tuple[str, int]]] | None = None,
                  only: Collection[str] | None = None, workers: int | None = None) -> list[Path]:
    """Write every figure of a paper in each format, with identical bytes from run to run.

    Figures (file stems): ``km_resolution_all``, ``km_resolution_sex``,
    ``km_resolution_pregnancy``, ``km_resolution_treatment`` (each stratum variable the result
    holds, a declared extra column too: ``km_resolution_<column>``), ``cif_recurrence_migration``, ``radiographic_change``, ``age_by_sex``,
    ``complications``, ``imaging_findings``, ``claims_forest``.  Each is written as ``out_dir/<stem>.<format>`` at the journal column
    width (PNG at 300 dpi), drawn on the Agg canvas without pyplot, and released after saving.

    Parameters
    ----------
    analysis
        :func:`toh.analyses.run.analyse_cohort` result.
    out_dir
        Folder to write to (created if missing; files of the same names are replaced).
    formats
        Any of ``"png"``, ``"svg"``, ``"pdf"``.
    width
        ``"single"`` (85 mm) or ``"double"`` (180 mm) column, or a width in mm.
    min_cell
        Small-cell rule: counts from 1 to ``min_cell - 1`` print as ``"<min_cell"``, and a share
        (or a claim's estimate) resting on such a count is not drawn (0 shows everything).
    hidden
        Figure stem -> ``(row, column)`` of the numbers at risk the report's disclosure audit
        hides besides, and ``(group, NOT_DRAWN)`` of the groups it leaves out
        (:func:`toh.reports.document.figure_hidden`).
    only
        The stems to write (the figures a report document shows: one whose every group is too
        small is not written at all); None writes every figure.
    workers
        Processes drawing the figures: 2 (the default on a machine of two or more cores) shares
        them with a forked worker, each process drawing the next figure not yet claimed (the
        forest plot of the claims first); the files are the same whichever process draws.

    Returns
    -------
    list[pathlib.Path]
        The files written, figure by figure, each in the order of ``formats``.

    Raises
    ------
    ValueError
        Unknown format or width (before anything is written).
    """
    pending = start_figures(analysis, out_dir, formats, width, min_cell=min_cell, workers=workers)
    try:
        return pending.finish(hidden, only)
    finally:
        pending.close()


#: Drawn first (claimed first by either process): the forest plot of the claims has a panel per
#: claim and takes some four times as long as any other figure.
_HEAVIEST = (CLAIMS_FOREST,)


class PendingFigures:
    """Figures whose drawing has started (:func:`start_figures`): call :meth:`finish` with what
    the document hides, or :meth:`close` when no figures are wanted after all."""

    def __init__(self, split: Split, jobs: Callable[[tuple | None], list[tuple[str, Callable[[], list[Path]]]]],
                 sizes: Mapping[str, tuple[int, int]] | None = None) -> None:
        self._split, self._jobs, self._sizes = split, jobs, dict(sizes or {})

    def png_sizes(self) -> dict[str, tuple[int, int]]:
        """The pixel size (width, height) of each figure's PNG, by file stem, known before it is
        drawn (:func:`toh.reports.figures._style.png_size`); empty when no PNG is written."""
        return dict(self._sizes)

    def finish(self, hidden: Mapping[str, Collection[tuple[str, int]]] | None = None,
               only: Sequence[str] | None = None, then: Callable[[Callable[[str], None]], None] | None = None
               ) -> list[Path]:
        """Draw and write the figures (``hidden`` and ``only`` as in :func:`write_figures`);
        return the files, figure by figure, each in the order of the formats.

        The figures are claimed the heaviest first, then in the order of ``only`` (a report's
        order).  ``then(ready)`` is run by this process first, while the worker starts on the
        heaviest figure: ``ready(stem)`` returns once that figure is written, and this process
        draws the next unclaimed figures while it waits (in the report's order: the one the
        PDF needs next).  A report assembles its PDF so, beside the figures.
        """
        payload = ({k: frozenset(v) for k, v in hidden.items()} if hidden is not None else None,
                   None if only is None else list(only))
        stems = [stem for stem, _ in self._jobs(payload)]
        rank = {stem: i for i, stem in enumerate(only if only is not None else stems)}
        order = sorted(range(len(stems)), key=lambda i: (stems[i] not in _HEAVIEST, rank[stems[i]]))
        task = None
        if then is not None:
            position = {stem: i for i, stem in enumerate(stems)}
            task = (0, lambda ready: then(lambda stem: ready(position[stem]) if stem in position else None))
        return [path for paths in self._split.run(payload, order, task) for path in paths]

    def close(self) -> None:
        """End the worker without drawing (nothing happens after :meth:`finish`)."""
        self._split.close()


def start_figures(analysis: CohortAnalysis, out_dir: str | Path, formats: Sequence[str] = FORMATS,
                  width: str | float = "single", *, min_cell: int = 5, workers: int | None = None) -> PendingFigures:
    """Start :func:`write_figures` before what the figures hide is known: the worker that will
    draw half of them is forked now and imports matplotlib while this process goes on (a report
    builds its document meanwhile); :meth:`PendingFigures.finish` draws them.

    Raises
    ------
    ValueError
        Unknown format or width (before anything is started).
    """
    formats = tuple(formats)
    unknown = [f for f in formats if f not in METADATA]
    if unknown or not formats:
        got = ", ".join(map(str, formats)) or "none"
        raise ValueError(f"figure formats must be among {', '.join(FORMATS)}; got {got}")
    width_in = figure_width(width)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    def jobs(payload: tuple | None) -> list[tuple[str, Callable[[], list[Path]]]]:
        hidden, only = payload if payload is not None else (None, None)
        return [(stem, partial(_write_one, draw, width_in, height, out / stem, formats))
                for stem, height, draw in _specs(analysis, width_in, min_cell, hidden) if only is None or stem in only]

    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    specs = _specs(analysis, width_in, min_cell)
    split = start_split(lambda payload: [job for _, job in jobs(payload)], workers, len(specs), _warm)
    sizes = {stem: png_size(width_in, height) for stem, height, _ in specs} if "png" in formats else {}
    return PendingFigures(split, jobs, sizes)


def _warm() -> None:
    """What every figure needs first (some 0.4 s of imports), in the worker while it waits."""
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.backends.backend_svg  # noqa: F401
    import matplotlib.figure  # noqa: F401
    from PIL import PngImagePlugin  # noqa: F401


def _write_one(draw: Callable[[Figure], object], width_in: float, height: float, stem: Path,
               formats: tuple[str, ...]) -> list[Path]:
    """Draw one figure, lay it out once (:func:`lay_out_once`) and write it in each format."""
    with figure_style():
        fig = new_figure(width_in, height)
        draw(fig)
        lay_out_once(fig)
        written = save_figure(fig, stem, formats, drawn=True)
        fig.clear()
    return written
