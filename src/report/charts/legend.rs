//! The legend: a strip below the panels, where it never covers data, with one entry per
//! series, reference line, shading or note, left to right and wrapping.

use plotters::coord::Shift;
use plotters::element::ComposedElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{
    BackendCoord, GREY, LEFT_AXIS_PX, LEGEND_FONT, LEGEND_ROW_PX, Look, MARGIN, SHADE, WIDTH,
    marker_path, text_px,
};

/// What a legend entry shows beside its label.
#[derive(Clone, Copy, Debug)]
pub(super) enum Key {
    Line(Look),
    Area(RGBColor),
    /// A note: text only.
    Text,
}

pub(super) struct LegendItem {
    pub label: String,
    pub key: Key,
}

pub(super) fn legend_item(label: impl Into<String>, look: Look) -> LegendItem {
    LegendItem {
        label: label.into(),
        key: Key::Line(look),
    }
}

/// The entry of a warm-up's shading.
pub(super) fn warmup_legend() -> LegendItem {
    LegendItem {
        label: "warm-up (not used for the trend)".to_string(),
        key: Key::Area(SHADE),
    }
}

type PixelPath = PathElement<BackendCoord>;
type LegendSample<DB> = ComposedElement<
    BackendCoord,
    DB,
    PixelPath,
    ComposedElement<BackendCoord, DB, PixelPath, PixelPath>,
>;

/// The legend sample of a series: a short line in its dash, with its marker.
fn legend_sample<DB: DrawingBackend>(look: Look, (x, y): BackendCoord) -> LegendSample<DB> {
    let style = look.style();
    let (first, second) = match look.dash {
        Some(_) => (vec![(0, 0), (9, 0)], vec![(15, 0), (24, 0)]),
        None => (vec![(0, 0), (12, 0)], vec![(12, 0), (24, 0)]),
    };
    let mark: Vec<BackendCoord> = marker_path(look.marker)
        .into_iter()
        .map(|(dx, dy)| (dx + 12, dy))
        .collect();
    EmptyElement::at((x, y))
        + PathElement::new(first, style)
        + PathElement::new(second, style)
        + PathElement::new(mark, style)
}

/// Where each legend entry goes (left to right, wrapping), and the strip's height.
pub(super) fn legend_layout(items: &[LegendItem]) -> (Vec<BackendCoord>, u32) {
    let left = (MARGIN + LEFT_AXIS_PX) as i32;
    let right = (WIDTH - MARGIN) as i32;
    let (mut x, mut y) = (left, LEGEND_ROW_PX / 2 + 4);
    let mut at = Vec::with_capacity(items.len());
    for item in items {
        let w = 32 + text_px(&item.label, LEGEND_FONT).ceil() as i32 + 20;
        if x > left && x + w > right {
            x = left;
            y += LEGEND_ROW_PX;
        }
        at.push((x, y));
        x += w;
    }
    let height = if items.is_empty() {
        0
    } else {
        (y + LEGEND_ROW_PX / 2 + 6) as u32
    };
    (at, height)
}

pub(super) fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[LegendItem],
    at: &[BackendCoord],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let font = ("sans-serif", LEGEND_FONT)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (item, &(x, y)) in items.iter().zip(at) {
        match item.key {
            Key::Line(look) => area.draw(&legend_sample::<DB>(look, (x, y)))?,
            Key::Area(color) => {
                area.draw(&Rectangle::new(
                    [(x, y - 6), (x + 24, y + 6)],
                    color.filled(),
                ))?;
                area.draw(&Rectangle::new(
                    [(x, y - 6), (x + 24, y + 6)],
                    GREY.stroke_width(1),
                ))?;
            }
            Key::Text => {}
        }
        area.draw(&Text::new(item.label.clone(), (x + 32, y), font.clone()))?;
    }
    Ok(())
}
