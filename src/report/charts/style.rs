//! How the charts look: the palette, the sizes every chart shares (so that they line up
//! when stacked in a page), the fonts, and the look of each kind of line.

use plotters::style::{BLACK, Color, RGBColor, ShapeStyle};

/// Colour-blind-safe palette (Okabe–Ito), also distinct in grey-scale by dash and width.
pub(super) const BLUE: RGBColor = RGBColor(0, 114, 178);
pub(super) const ORANGE: RGBColor = RGBColor(230, 159, 0);
pub(super) const VERMILLION: RGBColor = RGBColor(213, 94, 0);
pub(super) const GREEN: RGBColor = RGBColor(0, 158, 115);
pub(super) const PURPLE: RGBColor = RGBColor(204, 121, 167);
pub(super) const SKY: RGBColor = RGBColor(86, 180, 233);
pub(super) const GREY: RGBColor = RGBColor(110, 110, 110);
/// Sampling-gap markers: lighter than the other event markers.
pub(super) const LIGHT_GREY: RGBColor = RGBColor(165, 165, 165);
/// The warm-up span's shading.
pub(super) const SHADE: RGBColor = RGBColor(228, 228, 228);
/// Grid lines at the axis ticks.
pub(super) const GRID: RGBColor = RGBColor(225, 225, 225);

/// Width of every chart, and the areas around its plots (pixels).
pub(super) const WIDTH: u32 = 960;
pub(super) const MARGIN: u32 = 12;
pub(super) const LEFT_AXIS_PX: u32 = 70;
pub(super) const RIGHT_AXIS_PX: u32 = 70;
pub(super) const X_AXIS_PX: u32 = 40;
/// Width of the plotting area of every panel.
pub(super) const PLOT_W_PX: u32 = WIDTH - 2 * MARGIN - LEFT_AXIS_PX - RIGHT_AXIS_PX;
/// Height of one panel of each chart (pixels).
pub(super) const SINGLE_PANEL_PX: u32 = 400;
pub(super) const DOUBLE_PANEL_PX: u32 = 320;

/// Font sizes as plotters takes them (it writes `size / 1.24` px into the SVG).
pub(super) const TITLE_FONT: f64 = 20.0;
pub(super) const CAPTION_FONT: f64 = 16.0;
pub(super) const LABEL_FONT: f64 = 13.0;
pub(super) const LEGEND_FONT: f64 = 14.0;
/// Height of one row of event labels and of one row of the legend (pixels).
pub(super) const LABEL_ROW_PX: f64 = 14.0;
pub(super) const LEGEND_ROW_PX: i32 = 20;

/// Points drawn per series at most: two per pixel column of the plot (the first-occurring
/// minimum and maximum of each bucket, see [`super::series`]).
pub(super) const MAX_POINTS: usize = 2 * PLOT_W_PX as usize;

/// Estimated width of a text in pixels (plotters cannot measure text in the SVG backend
/// without font libraries; sans-serif averages about 0.6 em).
pub(super) fn text_px(text: &str, font: f64) -> f64 {
    text.chars().count() as f64 * font / 1.24 * 0.6
}

/// How a series is marked, so lines differ in grey-scale as well as in colour.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Marker {
    None,
    Circle,
    Cross,
    Triangle,
}

/// A position on the drawing in pixels (plotters' backend coordinate).
pub(super) type BackendCoord = (i32, i32);

/// A marker's outline as one path in pixels around (0, 0): the same element type for
/// every kind, so a series' markers and its legend sample are drawn alike.
pub(super) fn marker_path(marker: Marker) -> Vec<BackendCoord> {
    match marker {
        Marker::None => vec![(0, 0), (0, 0)],
        // An octagon.
        Marker::Circle => vec![
            (3, 0),
            (2, 2),
            (0, 3),
            (-2, 2),
            (-3, 0),
            (-2, -2),
            (0, -3),
            (2, -2),
            (3, 0),
        ],
        // Both strokes of an X, through the centre.
        Marker::Cross => vec![(-4, -4), (4, 4), (0, 0), (4, -4), (-4, 4)],
        Marker::Triangle => vec![(0, -4), (4, 3), (-4, 3), (0, -4)],
    }
}

/// The look of one series: colour, width, dash (dash, gap in pixels) and marker.
#[derive(Clone, Copy, Debug)]
pub(super) struct Look {
    pub color: RGBColor,
    pub width: u32,
    pub dash: Option<(u32, u32)>,
    pub marker: Marker,
}

impl Look {
    pub const fn new(
        color: RGBColor,
        width: u32,
        dash: Option<(u32, u32)>,
        marker: Marker,
    ) -> Look {
        Look {
            color,
            width,
            dash,
            marker,
        }
    }

    pub fn style(self) -> ShapeStyle {
        ShapeStyle {
            color: self.color.to_rgba(),
            filled: false,
            stroke_width: self.width,
        }
    }
}

// Data series are solid (a dashed line of thousands of points would be thousands of SVG
// elements); they differ by width and marker. Reference lines are straight, so dashed.
pub(super) const RSS_LOOK: Look = Look::new(BLUE, 2, None, Marker::None);
pub(super) const PSS_LOOK: Look = Look::new(GREEN, 1, None, Marker::Circle);
pub(super) const USS_LOOK: Look = Look::new(ORANGE, 1, None, Marker::Triangle);
pub(super) const VMS_LOOK: Look = Look::new(SKY, 1, None, Marker::Cross);
/// A cgroup target's anon memory (its judged memory) on the memory chart.
pub(super) const ANON_LOOK: Look = Look::new(GREEN, 2, None, Marker::Triangle);
pub(super) const THREADS_LOOK: Look = Look::new(BLUE, 2, None, Marker::None);
pub(super) const FDS_LOOK: Look = Look::new(ORANGE, 2, None, Marker::Triangle);
pub(super) const CPU_LOOK: Look = Look::new(BLUE, 1, None, Marker::None);
pub(super) const CPU_MEAN_LOOK: Look = Look::new(ORANGE, 2, None, Marker::None);
pub(super) const FIT_LOOK: Look = Look::new(VERMILLION, 2, Some((10, 5)), Marker::None);
pub(super) const THRESHOLD_LOOK: Look = Look::new(BLACK, 1, Some((4, 4)), Marker::None);
pub(super) const LIMIT_LOOK: Look = Look::new(PURPLE, 2, Some((16, 5)), Marker::None);
pub(super) const PROJECTION_LOOK: Look = Look::new(VERMILLION, 2, Some((2, 4)), Marker::Circle);

// Two runs overlaid (compare.html): the baseline blue, the candidate vermillion (an
// Okabe–Ito pair that stays apart for every common colour-vision deficiency), and apart in
// grey-scale too: the candidate's line carries triangles, and the fitted lines differ in
// dash. A run's fitted trend is dashed in its own colour.
pub(super) const BASELINE_LOOK: Look = Look::new(BLUE, 2, None, Marker::None);
pub(super) const CANDIDATE_LOOK: Look = Look::new(VERMILLION, 2, None, Marker::Triangle);
pub(super) const BASELINE_FIT_LOOK: Look = Look::new(BLUE, 2, Some((12, 5)), Marker::Circle);
pub(super) const CANDIDATE_FIT_LOOK: Look =
    Look::new(VERMILLION, 2, Some((5, 4)), Marker::Triangle);
