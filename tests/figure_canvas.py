"""Measure figures against their canvas (shared by the single-registry and the pooled figure tests)."""

from __future__ import annotations

from collections.abc import Callable, Iterable


def text_outside_the_canvas(specs: Iterable[tuple[str, float, Callable]], width_in: float, label: str) -> list[str]:
    """Every drawn text of every figure of ``specs`` ((stem, height in inches, draw(figure)))
    that reaches past the figure's edge (by more than 1 px): tick labels that matplotlib keeps
    but does not draw (outside the view, or of hidden axes) are left out, as the eye does."""
    from matplotlib.axes import Axes
    from matplotlib.text import Text

    from toh.reports.figures._common import lay_out_once
    from toh.reports.figures._style import figure_style, new_figure

    found = []
    for stem, height, draw in specs:
        with figure_style():
            fig = new_figure(width_in, height)
            draw(fig)
            lay_out_once(fig)  # as write_figures lays it out (at 300 dpi, once, then frozen)
            renderer = fig.canvas.get_renderer()
            undrawn, drawn = set(), set()
            for ax in fig.findobj(Axes):
                for axis in (ax.xaxis, ax.yaxis):
                    undrawn |= {id(text) for tick in axis.majorTicks + axis.minorTicks
                                for text in (tick.label1, tick.label2)}
                    if ax.get_visible() and ax.axison and axis.get_visible():
                        low, high = sorted(axis.get_view_interval())
                        drawn |= {id(text) for tick in axis.get_major_ticks() + axis.get_minor_ticks()
                                  if low - 1e-9 <= tick.get_loc() <= high + 1e-9
                                  for text in (tick.label1, tick.label2) if text.get_visible()}
            for text in fig.findobj(Text):
                if id(text) in undrawn - drawn or not text.get_visible() or not text.get_text().strip():
                    continue
                box = text.get_window_extent(renderer)
                if box.x0 < -1 or box.y0 < -1 or box.x1 > fig.bbox.width + 1 or box.y1 > fig.bbox.height + 1:
                    found.append(f"{label} {stem}: {text.get_text()[:30]!r}")
            fig.clear()
    return found
