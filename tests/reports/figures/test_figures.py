"""Publication figures: the artists each function draws (checked against the result tables by
hand), journal sizes, byte-identical files from run to run, and a light import."""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from builders import BASE_EXPORT, set_cell, write_export
from figure_canvas import text_outside_the_canvas
from toh.analyses.result import level_free
from toh.analyses.radiographic import RadiographicOptions
from toh.analyses.run import AnalysisOptions, CohortAnalysis, analyse_cohort
from toh.cohort.derive import derive_cohort
from toh.cohort.validate import load_valid_export
from toh.analyses.claimsfile import load_claims
from toh.reports.figures._claims import format_number, reference
from toh.reports.figures._common import at_risk, nice_ticks, slug, step_xy, suppressed
from toh.reports.figures._style import figure_width, new_figure
from toh.reports.figures import (FORMATS, age_by_sex, cif_curves, claims_forest, figure_names, km_resolution,
                             radiographic_change, write_figures)

ROOT = Path(__file__).parents[3]
DEMO = ROOT / "cohort" / "demo"
MONTH = 365.25 / 12
STEMS = ["km_resolution_all", "km_resolution_sex", "km_resolution_pregnancy", "km_resolution_treatment",
         "cif_recurrence_migration", "radiographic_change", "age_by_sex", "complications", "imaging_findings",
         "claims_forest"]


@pytest.fixture(scope="module")
def analysis(demo_analysis_50: CohortAnalysis) -> CohortAnalysis:
    """The demo analysed with 50 bootstrap draws (shared by the session: read, never changed)."""
    return demo_analysis_50


@pytest.fixture(scope="module")
def written(analysis: CohortAnalysis, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("figures") / "first"
    return out, write_figures(analysis, out, workers=2)  # the figures shared with a forked worker


def _axes():
    return new_figure(figure_width("single"), 3.0).add_subplot()


def _by_gid(ax, gid: str):
    found = ax.figure.findobj(lambda artist: artist.get_gid() == gid)
    assert len(found) == 1, (gid, len(found))
    return found[0]


def _gids(ax, prefix: str) -> list[str]:
    return sorted({a.get_gid() for a in ax.figure.findobj(lambda a: str(a.get_gid() or "").startswith(prefix))})


# --- helpers, by hand -------------------------------------------------------------------------

def test_step_coordinates_leave_exactly_the_nan_stretch_empty() -> None:
    x, y = step_xy(np.array([0.0, 1.0, 2.0, 3.0]), np.array([1.0, np.nan, 0.5, 0.25]))
    assert list(x) == [0, 1, 1, 2, 2, 3, 3]
    assert np.array_equal(y, [1, 1, np.nan, np.nan, 0.5, 0.5, 0.25], equal_nan=True)


def test_at_risk_rule_and_ticks_by_hand() -> None:
    curve = pd.DataFrame({"days": [2.0, 5.0, 9.0], "n_risk": [10, 7, 3]})
    # first curve time >= t; 0 after the last time
    assert list(at_risk(curve, np.array([0.0, 2.0, 2.5, 9.0, 9.5]))) == [10, 10, 7, 3, 0]
    assert list(nice_ticks(17.8, steps=(1, 2, 3, 6))) == [0, 3, 6, 9, 12, 15, 18]
    assert list(nice_ticks(12.0, steps=(1, 2, 3, 6))) == [0, 2, 4, 6, 8, 10, 12]


def test_suppression_rule_matches_the_tables() -> None:
    assert list(suppressed(np.array([3, 10, 12, 0]), 5, complementary=True)) == [True, True, False, False]
    assert list(suppressed(np.array([2, 3, 30]), 5, complementary=True)) == [True, True, False]
    assert not suppressed(np.array([1, 2]), 0).any()


@pytest.mark.parametrize("claim_id, kind, low, high", [
    ("sex_ratio", "value", 3.0, 3.0), ("men_40_55", "above", 0.5, 0.5), ("one_hip", "below", 0.5, 0.5),
    ("resolution_6_8_months", "range", 6.0, 8.0), ("recurrence_possible", "above", 0.0, 0.0),
    ("migration_15pct", "value", 0.15, 0.15), ("fracture_rare", "below", 0.05, 0.05),
    ("fracture_pregnancy", "above", 0.5, 0.5), ("no_avn", "value", 0.0, 0.0),
])
def test_the_published_figure_is_read_from_the_claim_rule(claim_id: str, kind: str, low: float, high: float) -> None:
    ref = reference(load_claims().by_id(claim_id))
    assert (ref.kind, ref.low, ref.high) == (kind, pytest.approx(low), pytest.approx(high))


def test_numbers_are_printed_with_two_significant_digits() -> None:
    assert [format_number(v) for v in (3.4444, 0.74194, 0.0425, 6.1109, 0.0)] == ["3.4", "0.74", "0.043", "6.1", "0"]
    assert format_number(0.000606, like=0.005) == "0.001"
    assert format_number(float("nan")) == "NA"


# --- each figure ------------------------------------------------------------------------------

@pytest.mark.parametrize("variable", ["all", "sex", "pregnancy", "treatment"])
def test_km_curves_bands_censor_marks_and_numbers_at_risk(analysis: CohortAnalysis, variable: str) -> None:
    curves = analysis.resolution.curves[analysis.resolution.curves["variable"] == variable]
    ax = _axes()
    assert km_resolution(analysis.resolution, variable, ax, min_cell=0) is ax
    strata = sorted(curves["stratum"].unique())
    prefix = f"km-{variable}"
    assert len(_gids(ax, f"{prefix}-curve-")) == len(strata) == len(_gids(ax, f"{prefix}-ci-"))
    ticks = ax.get_xticks()
    assert ticks[0] == 0 and ax.get_xlim() == (0, ticks[-1])
    for stratum in strata:
        curve = curves[curves["stratum"] == stratum]
        sid = slug(stratum)
        x, y = _by_gid(ax, f"{prefix}-curve-{sid}").get_data()
        assert (x[0], y[0]) == (0.0, 1.0)  # starts at (0, 1)
        assert x[-1] == pytest.approx(curve["days"].iloc[-1] / MONTH) and y[-1] == curve["estimate"].iloc[-1]
        band = _by_gid(ax, f"{prefix}-ci-{sid}")
        verts = np.concatenate([p.vertices for p in band.get_paths()])
        finite = curve[curve["upper_95"].notna()]
        assert verts[:, 1].max() == pytest.approx(finite["upper_95"].max())
        # NA bounds (S = 1 before the first event, S = 0 at the end) leave gaps: the band
        # neither starts at 0 nor falls to 0
        assert verts[:, 1].min() == pytest.approx(finite["lower_95"].min()) and verts[:, 1].min() > 0
        assert verts[:, 0].min() == pytest.approx(finite["days"].iloc[0] / MONTH)
        mx, my = _by_gid(ax, f"{prefix}-censor-{sid}").get_data()
        censored = curve[curve["n_censor"] > 0]
        assert np.allclose(mx, censored["days"] / MONTH) and np.allclose(my, censored["estimate"])
        for column, tick in enumerate(ticks):  # by hand: n_risk of the first time >= t, else 0
            later = curve[curve["days"] >= tick * MONTH]
            expected = int(later["n_risk"].iloc[0]) if len(later) else 0
            assert _by_gid(ax, f"{prefix}-at-risk-{sid}-{column}").get_text() == str(expected)


def test_km_at_risk_counts_below_min_cell_are_suppressed(analysis: CohortAnalysis) -> None:
    ax = km_resolution(analysis.resolution, "sex", _axes())  # default min_cell=5
    texts = [_by_gid(ax, gid).get_text() for gid in _gids(ax, "km-sex-at-risk-men-")]
    assert "<5" in texts and not any(t in {"1", "2", "3", "4"} for t in texts)


def test_km_rejects_unknown_strata_and_draws_in_a_new_figure(analysis: CohortAnalysis) -> None:
    with pytest.raises(ValueError, match="variable"):
        km_resolution(analysis.resolution, "site", _axes())
    import matplotlib
    import matplotlib.pyplot as plt

    size = matplotlib.rcParams["font.size"]
    ax = km_resolution(analysis.resolution)
    try:
        assert ax.figure.get_figwidth() == pytest.approx(85 / 25.4)
        assert matplotlib.rcParams["font.size"] == size  # the house style was applied locally only
    finally:
        plt.close(ax.figure)


def test_hostile_stratum_names_never_reach_the_svg_as_markup(analysis: CohortAnalysis, tmp_path: Path) -> None:
    curves = analysis.resolution.curves.replace({"stratum": {"other": "<script>alert(1)</script>"}})
    result = dataclasses.replace(analysis.resolution, curves=curves)
    ax = km_resolution(result, "treatment", _axes())
    ax.figure.savefig(tmp_path / "km.svg")
    assert "<script" not in (tmp_path / "km.svg").read_text()


def test_cif_curves_for_recurrence_and_migration(analysis: CohortAnalysis) -> None:
    ax = cif_curves(analysis.recurrence, analysis.migration, _axes(), min_cell=0)  # every step, to the end
    for result, outcome in ((analysis.recurrence, "recurrence"), (analysis.migration, "migration")):
        curve = result.curves[result.curves["cause"] == outcome]
        x, y = _by_gid(ax, f"cif-curve-{outcome}").get_data()
        assert (x[0], y[0]) == (0.0, 0.0)
        assert x[-1] == pytest.approx(curve["days"].iloc[-1] / 365.25) and y[-1] == curve["estimate"].iloc[-1]
        verts = np.concatenate([p.vertices for p in _by_gid(ax, f"cif-ci-{outcome}").get_paths()])
        assert verts[:, 1].max() == pytest.approx(curve["upper_95"].max())
        assert _by_gid(ax, f"cif-at-risk-{outcome}-0").get_text() == str(int(curve["n_risk"].iloc[0]))
    assert not _gids(ax, "cif-curve-death")  # the competing risk is not drawn
    assert ax.get_ylim()[1] >= analysis.migration.curves["upper_95"].max()


def test_radiographic_change_npmle_weibull_bootstrap_and_band(analysis: CohortAnalysis) -> None:
    result = analysis.radiographic
    ax = radiographic_change(result, _axes(), min_cell=0)  # every interval its own rise
    x, y = _by_gid(ax, "radiographic-npmle").get_data()
    positive = result.npmle[result.npmle["mass"] > 0]
    # F rises across each interval (left, right] that holds mass and is flat between them
    assert np.allclose(x[1:-1:2], positive["left_days"] / 7) and np.allclose(x[2:-1:2], positive["right_days"] / 7)
    assert np.allclose(y[2:-1:2], positive["mass"].cumsum())
    assert len(_gids(ax, "radiographic-npmle-box-")) == len(positive)
    wx, wy = _by_gid(ax, "radiographic-weibull").get_data()
    weib = result.weibull.set_index("parameter")["estimate"]
    t = wx[100] * 7
    assert wy[100] == pytest.approx(1 - np.exp(-((t / np.exp(weib["intercept"])) ** (1 / np.exp(weib["log_scale"])))))
    bx, by = _by_gid(ax, "radiographic-bootstrap").get_data()
    assert list(bx) == [4, 8, 12] and np.allclose(by, result.at["estimate"])
    band = _by_gid(ax, "radiographic-published")
    assert (band.get_x(), band.get_x() + band.get_width()) == (4, 8)


def test_radiographic_change_without_films(analysis: CohortAnalysis) -> None:
    empty = dataclasses.replace(analysis.radiographic, npmle=analysis.radiographic.npmle.iloc[:0],
                                weibull=analysis.radiographic.weibull.iloc[:0],
                                at=analysis.radiographic.at.assign(estimate=np.nan, lower_95=np.nan, upper_95=np.nan))
    ax = radiographic_change(empty, _axes())
    assert _gids(ax, "radiographic-") == ["radiographic-npmle", "radiographic-published"]


def test_radiographic_mass_beyond_the_last_film_is_a_box_not_a_line(analysis: CohortAnalysis) -> None:
    npmle = pd.DataFrame({"left_days": [7.0, 140.0], "right_days": [14.0, np.inf], "mass": [0.5, 0.5], "cdf": [0.5, 1.0]})
    ax = radiographic_change(dataclasses.replace(analysis.radiographic, npmle=npmle), _axes())
    x, y = _by_gid(ax, "radiographic-npmle").get_data()
    assert list(x) == [0, 1, 2, 20] and list(y) == [0, 0, 0.5, 0.5]  # F unknown after the last film
    box = _by_gid(ax, "radiographic-npmle-box-1")
    assert (box.get_x(), box.get_y(), box.get_height()) == (20, 0.5, 0.5)
    assert box.get_x() + box.get_width() == ax.get_xlim()[1] >= 20


def test_age_by_sex_bars_equal_the_distribution(analysis: CohortAnalysis) -> None:
    dist = analysis.demographics.age_distribution
    ax = age_by_sex(analysis.demographics, _axes(), min_cell=0)
    lowers = sorted(dist["from_years"].unique())
    for group in ("men", "women, pregnancy-associated", "women, other"):
        counts = dist[dist["stratum"] == group].set_index("from_years")["n"].reindex(lowers, fill_value=0)
        heights = [_by_gid(ax, f"age-bar-{slug(group)}-{i}").get_height() for i in range(len(lowers))]
        assert heights == list(counts)
    band = _by_gid(ax, "age-published-men")
    assert (band.get_x(), band.get_x() + band.get_width()) == (40, 56)  # completed years 40-55
    suppressed_ax = age_by_sex(analysis.demographics, _axes())
    shown = [p.get_height() for p in suppressed_ax.patches if str(p.get_gid()).startswith("age-bar-")]
    assert not any(0 < h < 5 for h in shown) and _gids(suppressed_ax, "age-suppressed-")


def test_claims_forest_one_panel_per_claim(analysis: CohortAnalysis) -> None:
    claims = analysis.claims.claims
    fig = new_figure(figure_width("double"), 4.5)
    container = claims_forest(analysis.claims, fig.add_subplot())
    assert len(container.child_axes) == len(claims) and not container.axison
    for row in level_free(claims).itertuples():
        key = row.key.replace("_", "-")
        pct = 100.0 if row.unit == "share" else 1.0  # shares are drawn in %
        (x, _), = [_by_gid(container, f"claim-{key}-estimate").get_data()]
        assert x[0] == pytest.approx(row.estimate * pct)
        assert list(_by_gid(container, f"claim-{key}-ci").get_xdata()) == pytest.approx([row.lower * pct,
                                                                                         row.upper * pct])
        assert _by_gid(container, f"claim-{key}-verdict").get_text() == row.verdict
        ref = reference(analysis.claims.record(row.key))
        if ref.kind != "range":
            assert _by_gid(container, f"claim-{key}-published-line").get_xdata()[0] == pytest.approx(ref.low * pct)
    ratio = _by_gid(container, "claim-sex-ratio")
    assert ratio.get_xscale() == "log"


# --- files ------------------------------------------------------------------------------------

@pytest.mark.slow  # every figure written as PNG, SVG and PDF (4-10 s on the shared machine)
def test_write_figures_writes_every_figure_at_journal_size(analysis: CohortAnalysis,
                                                           written: tuple[Path, list[Path]]) -> None:
    out, paths = written
    assert figure_names(analysis) == STEMS
    assert paths == [out / f"{stem}.{fmt}" for stem in STEMS for fmt in FORMATS]
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths)
    from PIL import Image

    with Image.open(out / "km_resolution_sex.png") as image:
        assert abs(image.width - 85 / 25.4 * 300) < 1.5
        assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    assert (out / "claims_forest.pdf").read_bytes().startswith(b"%PDF")
    assert b"CreationDate" not in (out / "claims_forest.pdf").read_bytes()
    assert "<dc:date>" not in (out / "claims_forest.svg").read_text()


@pytest.mark.slow  # every figure drawn twice
def test_two_runs_give_identical_bytes(analysis: CohortAnalysis, written: tuple[Path, list[Path]],
                                       tmp_path: Path) -> None:
    """Also whichever process draws a figure: the first run split them over two, this one not."""
    out, first = written
    second = write_figures(analysis, tmp_path / "second", workers=1)
    assert [p.name for p in first] == [p.name for p in second]
    different = [p.name for p, q in zip(first, second) if p.read_bytes() != q.read_bytes()]
    assert not different


@pytest.mark.slow  # every figure at double width
def test_double_width_and_bad_options(analysis: CohortAnalysis, tmp_path: Path) -> None:
    paths = write_figures(analysis, tmp_path / "double", formats=("png",), width="double")
    from PIL import Image

    with Image.open(paths[0]) as image:
        assert abs(image.width - 180 / 25.4 * 300) < 1.5
    with pytest.raises(ValueError, match="formats"):
        write_figures(analysis, tmp_path / "bad", formats=("png", "gif"))
    assert not (tmp_path / "bad").exists()  # nothing written before the options are checked
    with pytest.raises(ValueError, match="width"):
        write_figures(analysis, tmp_path / "bad", width="triple")


def test_a_png_written_from_the_drawn_canvas_has_savefigs_pixels(analysis: CohortAnalysis, tmp_path: Path) -> None:
    """write_figures draws each figure once and writes the PNG (RGB) from the canvas: the pixels
    are those savefig writes for the same (frozen) layout, whose alpha is opaque everywhere."""
    import numpy as np
    from PIL import Image

    from toh.reports.figures._common import lay_out_once
    from toh.reports.figures._style import DPI, figure_style, save_figure
    from toh.reports.figures import _specs

    stem, height, draw = next(s for s in _specs(analysis, figure_width("single"), 5) if s[0] == "km_resolution_sex")
    with figure_style():
        fig = new_figure(figure_width("single"), height)
        draw(fig)
        lay_out_once(fig)
        [drawn] = save_figure(fig, tmp_path / stem, ("png",), drawn=True)
        fig.savefig(tmp_path / "saved.png", format="png", dpi=DPI)
    with Image.open(drawn) as ours, Image.open(tmp_path / "saved.png") as theirs:
        assert ours.mode == "RGB" and theirs.mode == "RGBA"
        assert ours.info["dpi"] == pytest.approx((DPI, DPI), abs=0.01)
        saved = np.asarray(theirs)
        assert (saved[..., 3] == 255).all()
        assert np.array_equal(np.asarray(ours), saved[..., :3])


def test_importing_the_figures_module_does_not_import_matplotlib() -> None:
    code = ("import sys, reports.figures; heavy = [m for m in ('matplotlib', 'seaborn') if m in sys.modules]; "
            "print(heavy); sys.exit(1 if heavy else 0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def _text_outside_the_canvas(analysis: CohortAnalysis, width: str) -> list[str]:
    """Every figure's text that runs past its canvas (:func:`figure_canvas.text_outside_the_canvas`)."""
    from toh.reports.figures import _specs
    from toh.reports.figures._style import figure_width

    inches = figure_width(width)
    return text_outside_the_canvas(_specs(analysis, inches, 5), inches, width)


@pytest.mark.slow  # every figure drawn and measured, twice
@pytest.mark.parametrize("width", ["single", "double"])
def test_no_figure_text_runs_outside_its_canvas(analysis: CohortAnalysis, width: str, tmp_path: Path) -> None:
    assert _text_outside_the_canvas(analysis, width) == []
    # a free-text treatment typed into the export: its legend entry is shortened to fit
    tables = set_cell(BASE_EXPORT, "episodes", 0, "treatment", "X" * 60)
    report = load_valid_export(write_export(tmp_path / "long", tables), validation_date=dt.date(2025, 6, 30))
    long = analyse_cohort(derive_cohort(report.tables), AnalysisOptions(radiographic=RadiographicOptions(bootstrap_draws=0)))
    assert _text_outside_the_canvas(long, width) == []


def test_a_laid_out_figure_is_drawn_once_per_svg(analysis: CohortAnalysis, tmp_path: Path) -> None:
    """lay_out_once leaves no layout engine (not even the "none" placeholder), so savefig draws
    the figure once for its SVG, not once more without output beforehand (issue 15, demo6)."""
    from toh.reports.figures._common import lay_out_once
    from toh.reports.figures._style import figure_style, save_figure
    from toh.reports.figures import _specs

    stem, height, draw = next(s for s in _specs(analysis, figure_width("single"), 5) if s[0] == "km_resolution_sex")
    with figure_style():
        fig = new_figure(figure_width("single"), height)
        draw(fig)
        lay_out_once(fig)
        assert fig.get_layout_engine() is None
        drawn = []
        original = fig.draw
        fig.draw = lambda renderer: drawn.append(type(renderer).__name__) or original(renderer)
        save_figure(fig, tmp_path / stem, ("svg",), drawn=True)
    assert len(drawn) == 1


def test_each_pngs_pixel_size_is_known_before_it_is_drawn(analysis: CohortAnalysis,
                                                         written: tuple[Path, list[Path]]) -> None:
    """The PDF places each figure at the size png_size announces, before the PNG is written."""
    from PIL import Image

    from toh.reports.figures import _specs, start_figures
    from toh.reports.figures._style import png_size

    out, paths = written
    width = figure_width("single")
    pending = start_figures(analysis, out / "unused", width="single", workers=1)
    pending.close()
    announced = pending.png_sizes()
    pngs = {p.stem: Image.open(p).size for p in paths if p.suffix == ".png"}
    assert pngs and announced == pngs
    assert announced == {stem: png_size(width, height) for stem, height, _ in _specs(analysis, width, 5)}


@pytest.mark.parametrize("width", ["single", "double", 3.3333, 6.1])
def test_png_size_is_the_size_of_the_png_written(width: str | float, tmp_path: Path) -> None:
    from PIL import Image

    from toh.reports.figures._style import figure_style, png_size, save_figure

    width_in = figure_width(width)
    for height in (1.6 + 0.0137 * k for k in range(0, 300, 37)):
        with figure_style():
            fig = new_figure(width_in, height)
            fig.add_subplot().plot([0, 1], [0, 1])
            [path] = save_figure(fig, tmp_path / "f", ("png",))
        with Image.open(path) as png:
            assert png.size == png_size(width_in, height), (width_in, height)
