//! Pictures of runs and sweeps: time series, phase portraits (two variables, or three as a
//! projected 3-D view), cobwebs and return maps of maps, a 2-D flow's direction field,
//! bifurcation diagrams and Lyapunov exponents against a parameter.
//!
//! The builders take [`Data`]: a run's results ([`Data::of_run`]) or a results file
//! `dynlib run` or `dynlib sweep` wrote ([`Data::read`]: JSON, CSV, `.npz`, Parquet, Arrow).
//! Every picture is a [`Figure`] of layers (lines, points, a density cloud, arrows) in one
//! or more panels, rendered by [`Figure::save`] to SVG or PNG by the file's extension, at
//! the size [`PlotOptions`] asks, with plotters. Text is drawn with DejaVu Sans, embedded
//! in the binary, so a PNG renders the same on a machine without fonts (an SVG names the
//! family and lets the viewer draw it).
//!
//! ```no_run
//! use dynlib::plot::{self, PlotOptions};
//! use dynlib::{RunOptions, SetupOptions};
//! let mut sim = dynlib::setup("builtin://ode/lorenz", SetupOptions::default())?;
//! sim.run(RunOptions::default().t_end(50.0))?;
//! let fig = plot::phase(&plot::Data::of_run(sim.results()?, sim.model()), &["x", "z"])?;
//! fig.save("lorenz.svg".as_ref(), &PlotOptions::default())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Point clouds of any size (a bifurcation diagram of 10^6 samples) are drawn as a density:
//! the points are counted per pixel of the plotting area and each pixel that holds any is
//! shaded by the logarithm of its count, so dense bands stay dark and sparse ones visible;
//! in SVG a row's run of equally shaded pixels is one rectangle.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::{Results, RuntimeError};

/// Size, title and ranges of a picture.
#[derive(Clone, Debug)]
pub struct PlotOptions {
    /// Width in pixels (SVG: user units).
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The title (default: the figure's own, from the model and the kind of plot).
    pub title: Option<String>,
    /// The horizontal range (default: the data's, padded by 3%).
    pub x_range: Option<(f64, f64)>,
    /// The vertical range (default: the data's, padded by 3%).
    pub y_range: Option<(f64, f64)>,
}

impl Default for PlotOptions {
    fn default() -> Self {
        PlotOptions {
            width: 900,
            height: 600,
            title: None,
            x_range: None,
            y_range: None,
        }
    }
}

impl PlotOptions {
    /// Checks the size, the ranges and the picture file's extension before anything is
    /// drawn (a caller checks before it runs the model): the error says what to give.
    pub fn check(&self, path: &Path) -> Result<(), PlotError> {
        let opts = self;
        if opts.width < 100 || opts.height < 80 || opts.width > 20_000 || opts.height > 20_000 {
            return Err(PlotError::Request(format!(
                "a picture of {}×{} pixels: the size must be between 100×80 and 20000×20000",
                opts.width, opts.height
            )));
        }
        for (name, r) in [("x", opts.x_range), ("y", opts.y_range)] {
            if let Some((a, b)) = r {
                if !(a.is_finite() && b.is_finite() && a < b) {
                    return Err(PlotError::Request(format!(
                        "the {name} range {a} .. {b} is empty: give LOW:HIGH with LOW < HIGH"
                    )));
                }
            }
        }
        let ext = extension(path);
        if !matches!(ext.as_deref(), Some("svg" | "png")) {
            return Err(PlotError::Request(format!(
                "cannot tell the picture format of {} from its extension {}: use .svg or .png",
                path.display(),
                ext.map_or("(none)".to_string(), |e| format!(".{e}"))
            )));
        }
        Ok(())
    }
}

/// A path's extension, lower case: what decides a picture's or a results file's format.
pub fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

/// Why a picture could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// A bad request: a variable the results do not have, a kind of plot the model does
    /// not allow, an empty range.
    #[error("{0}")]
    Request(String),
    /// The results could not be read.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// Drawing or writing the file failed.
    #[error("cannot draw {path}: {message}")]
    Draw {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// One thing drawn in a panel, in data coordinates.
#[derive(Clone, Debug)]
pub enum Layer {
    /// A polyline through the points, in order.
    Line {
        /// Its legend entry (`None`: none).
        name: Option<String>,
        /// The points.
        points: Vec<(f64, f64)>,
    },
    /// Dots.
    Points {
        /// Its legend entry.
        name: Option<String>,
        /// The points.
        points: Vec<(f64, f64)>,
    },
    /// A cloud of many points, drawn as a per-pixel density.
    Density {
        /// The points.
        points: Vec<(f64, f64)>,
    },
    /// Arrows from each start to each end.
    Arrows {
        /// (start, end) pairs.
        arrows: Vec<((f64, f64), (f64, f64))>,
    },
    /// A labelled line segment (the projected axes of a 3-D view).
    Axis {
        /// The label at its end.
        label: String,
        /// Start and end.
        from: (f64, f64),
        /// Where it ends.
        to: (f64, f64),
    },
}

impl Layer {
    fn points(&self) -> Box<dyn Iterator<Item = (f64, f64)> + '_> {
        match self {
            Layer::Line { points, .. }
            | Layer::Points { points, .. }
            | Layer::Density { points } => Box::new(points.iter().copied()),
            Layer::Arrows { arrows } => Box::new(arrows.iter().flat_map(|&(a, b)| [a, b])),
            Layer::Axis { from, to, .. } => Box::new([*from, *to].into_iter()),
        }
    }
}

/// One panel: axes with labels and the layers drawn in them.
#[derive(Clone, Debug)]
pub struct Panel {
    /// The horizontal axis's label.
    pub x_label: String,
    /// The vertical axis's label.
    pub y_label: String,
    /// What is drawn, in order.
    pub layers: Vec<Layer>,
    /// No axis numbers (a projected 3-D view, whose plane coordinates mean nothing).
    pub bare: bool,
}

impl Panel {
    /// A panel with axis labels and no layers yet.
    pub fn new(x_label: impl Into<String>, y_label: impl Into<String>) -> Panel {
        Panel {
            x_label: x_label.into(),
            y_label: y_label.into(),
            layers: Vec::new(),
            bare: false,
        }
    }

    /// The data's ranges, padded, or the ones asked for.
    fn ranges(&self, opts: &PlotOptions) -> ((f64, f64), (f64, f64)) {
        let (mut x0, mut x1, mut y0, mut y1) = (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        );
        for (x, y) in self.layers.iter().flat_map(Layer::points) {
            if x.is_finite() && y.is_finite() {
                x0 = x0.min(x);
                x1 = x1.max(x);
                y0 = y0.min(y);
                y1 = y1.max(y);
            }
        }
        let pad = |lo: f64, hi: f64| -> (f64, f64) {
            if !lo.is_finite() {
                return (0.0, 1.0);
            }
            let span = hi - lo;
            if span <= 0.0 {
                let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
                (lo - d, hi + d)
            } else {
                (lo - 0.03 * span, hi + 0.03 * span)
            }
        };
        (
            opts.x_range.unwrap_or_else(|| pad(x0, x1)),
            opts.y_range.unwrap_or_else(|| pad(y0, y1)),
        )
    }
}

/// A picture: a title and panels stacked top to bottom.
#[derive(Clone, Debug)]
pub struct Figure {
    /// The title (replaced by [`PlotOptions::title`] when that is set).
    pub title: String,
    /// The panels, top to bottom.
    pub panels: Vec<Panel>,
}

/// What [`Figure::save`] drew.
#[derive(Clone, Debug, PartialEq)]
pub struct Drawn {
    /// The picture's size.
    pub size: (u32, u32),
    /// Per panel: its data ranges and its plotting area in pixels (left, top, right,
    /// bottom), so a caller can tell where a data point landed.
    pub panels: Vec<PanelGeometry>,
    /// Marks drawn: polyline vertices, dots, shaded density pixels and arrows.
    pub marks: usize,
}

/// Where a panel's data went ([`Drawn`]).
#[derive(Clone, Debug, PartialEq)]
pub struct PanelGeometry {
    /// Horizontal data range.
    pub x_range: (f64, f64),
    /// Vertical data range.
    pub y_range: (f64, f64),
    /// The plotting area in pixels: left, top, right, bottom.
    pub area: (i32, i32, i32, i32),
}

impl PanelGeometry {
    /// The pixel where the data point `(x, y)` is drawn.
    pub fn pixel(&self, x: f64, y: f64) -> (i32, i32) {
        let (l, t, r, b) = self.area;
        let fx = (x - self.x_range.0) / (self.x_range.1 - self.x_range.0);
        let fy = (y - self.y_range.0) / (self.y_range.1 - self.y_range.0);
        (
            l + (fx * (r - l) as f64).round() as i32,
            b - (fy * (b - t) as f64).round() as i32,
        )
    }
}

/// The colours of successive lines (a colour-blind-safe palette, Okabe–Ito).
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// The family name the embedded font is registered under.
const FONT: &str = "sans-serif";

fn register_font() -> Result<(), String> {
    static DONE: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    DONE.get_or_init(|| {
        let bytes: &'static [u8] = include_bytes!("../assets/fonts/DejaVuSans.ttf");
        plotters::style::register_font(FONT, FontStyle::Normal, bytes)
            .map_err(|_| "the embedded font does not load".to_string())
    })
    .clone()
}

impl Figure {
    /// Draws the figure into `path`: SVG for `.svg`, PNG for `.png`.
    pub fn save(&self, path: &Path, opts: &PlotOptions) -> Result<Drawn, PlotError> {
        opts.check(path)?;
        register_font().map_err(PlotError::Request)?;
        let fail = |e: String| PlotError::Draw {
            path: path.display().to_string(),
            message: e,
        };
        let size = (opts.width, opts.height);
        // `check` allowed .svg and .png only.
        if extension(path).as_deref() == Some("png") {
            let area = BitMapBackend::new(path, size).into_drawing_area();
            let drawn = self.draw(&area, opts, true).map_err(fail)?;
            area.present().map_err(|e| fail(e.to_string()))?;
            Ok(drawn)
        } else {
            let area = SVGBackend::new(path, size).into_drawing_area();
            let drawn = self.draw(&area, opts, false).map_err(fail)?;
            area.present().map_err(|e| fail(e.to_string()))?;
            Ok(drawn)
        }
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        opts: &PlotOptions,
        raster: bool,
    ) -> Result<Drawn, String> {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        root.fill(&WHITE).map_err(err)?;
        let title = opts.title.as_deref().unwrap_or(&self.title);
        let root = if title.is_empty() {
            root.clone()
        } else {
            root.titled(title, (FONT, 20)).map_err(err)?
        };
        let mut marks = 0;
        let mut geometry = Vec::new();
        let n = self.panels.len().max(1);
        for (panel, area) in self.panels.iter().zip(root.split_evenly((n, 1))) {
            let ((x0, x1), (y0, y1)) = panel.ranges(opts);
            let mut chart = ChartBuilder::on(&area)
                .margin(10)
                .x_label_area_size(if panel.bare { 10 } else { 40 })
                .y_label_area_size(if panel.bare { 10 } else { 70 })
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(err)?;
            let mut mesh = chart.configure_mesh();
            mesh.x_desc(panel.x_label.as_str())
                .y_desc(panel.y_label.as_str())
                .label_style((FONT, 14))
                .axis_desc_style((FONT, 16))
                .light_line_style(RGBColor(235, 235, 235));
            if panel.bare {
                mesh.disable_mesh().x_labels(0).y_labels(0);
            }
            mesh.draw().map_err(err)?;
            let mut legend = false;
            let mut color = 0;
            for layer in &panel.layers {
                match layer {
                    Layer::Line { name, points } => {
                        let c = PALETTE[color % PALETTE.len()];
                        color += 1;
                        // Non-finite values break the line rather than the picture.
                        let mut labelled = false;
                        let pieces = points
                            .split(|(x, y)| !(x.is_finite() && y.is_finite()))
                            .filter(|p| !p.is_empty());
                        for piece in pieces {
                            marks += piece.len();
                            let s = chart
                                .draw_series(LineSeries::new(
                                    piece.iter().copied(),
                                    c.stroke_width(1),
                                ))
                                .map_err(err)?;
                            // One legend entry for the line, however many pieces.
                            if let (Some(name), false) = (name, labelled) {
                                s.label(name.as_str()).legend(move |(x, y)| {
                                    PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2))
                                });
                                legend = true;
                                labelled = true;
                            }
                        }
                    }
                    Layer::Points { name, points } => {
                        let c = PALETTE[color % PALETTE.len()];
                        color += 1;
                        let finite: Vec<(f64, f64)> = points
                            .iter()
                            .copied()
                            .filter(|(x, y)| x.is_finite() && y.is_finite())
                            .collect();
                        marks += finite.len();
                        let s = chart
                            .draw_series(finite.into_iter().map(|p| Circle::new(p, 2, c.filled())))
                            .map_err(err)?;
                        if let Some(name) = name {
                            s.label(name.as_str())
                                .legend(move |(x, y)| Circle::new((x + 10, y), 3, c.filled()));
                            legend = true;
                        }
                    }
                    Layer::Density { points } => {
                        marks += density(&chart, points, raster).map_err(err)?;
                    }
                    Layer::Arrows { arrows } => {
                        let c = RGBColor(120, 120, 120);
                        // Drawn in the plotting area's own pixels (so clipped to it).
                        let area = chart.plotting_area().strip_coord_spec();
                        let (xr, yr) = chart.plotting_area().get_pixel_range();
                        let local = |p: (i32, i32)| (p.0 - xr.start, p.1 - yr.start);
                        for &(a, b) in arrows {
                            let (pa, pb) = (
                                local(chart.backend_coord(&a)),
                                local(chart.backend_coord(&b)),
                            );
                            let (dx, dy) = ((pb.0 - pa.0) as f64, (pb.1 - pa.1) as f64);
                            let len = (dx * dx + dy * dy).sqrt();
                            if len < 1.0 {
                                continue;
                            }
                            let (ux, uy) = (dx / len, dy / len);
                            let head = 0.35 * len.min(12.0);
                            let wing = |s: f64| {
                                (
                                    pb.0 - (head * ux - s * head * 0.5 * uy).round() as i32,
                                    pb.1 - (head * uy + s * head * 0.5 * ux).round() as i32,
                                )
                            };
                            let shaft = PathElement::new(vec![pa, pb], c.stroke_width(1));
                            let tip = PathElement::new(
                                vec![wing(1.0), pb, wing(-1.0)],
                                c.stroke_width(1),
                            );
                            area.draw(&shaft).map_err(err)?;
                            area.draw(&tip).map_err(err)?;
                            marks += 1;
                        }
                    }
                    Layer::Axis { label, from, to } => {
                        let c = RGBColor(90, 90, 90);
                        chart
                            .draw_series(std::iter::once(PathElement::new(
                                vec![*from, *to],
                                c.stroke_width(1),
                            )))
                            .map_err(err)?;
                        chart
                            .draw_series(std::iter::once(Text::new(label.clone(), *to, (FONT, 16))))
                            .map_err(err)?;
                    }
                }
            }
            if legend {
                chart
                    .configure_series_labels()
                    .label_font((FONT, 14))
                    .background_style(WHITE.mix(0.8))
                    .border_style(RGBColor(200, 200, 200))
                    .draw()
                    .map_err(err)?;
            }
            let (xr, yr) = chart.plotting_area().get_pixel_range();
            geometry.push(PanelGeometry {
                x_range: (x0, x1),
                y_range: (y0, y1),
                area: (xr.start, yr.start, xr.end - 1, yr.end - 1),
            });
        }
        Ok(Drawn {
            size: (opts.width, opts.height),
            panels: geometry,
            marks,
        })
    }
}

/// Draws `points` as a density over the chart's pixels; returns the pixels shaded.
fn density<DB: DrawingBackend>(
    chart: &ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    points: &[(f64, f64)],
    raster: bool,
) -> Result<usize, DrawingAreaErrorKind<DB::ErrorType>> {
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let (w, h) = (
        (xr.end - xr.start).max(1) as usize,
        (yr.end - yr.start).max(1) as usize,
    );
    let mut counts = vec![0u32; w * h];
    for &(x, y) in points {
        if !(x.is_finite() && y.is_finite()) {
            continue;
        }
        let (px, py) = chart.backend_coord(&(x, y));
        let (cx, cy) = (px - xr.start, py - yr.start);
        if cx >= 0 && cy >= 0 && (cx as usize) < w && (cy as usize) < h {
            counts[cy as usize * w + cx as usize] += 1;
        }
    }
    let max = counts.iter().copied().max().unwrap_or(0);
    if max == 0 {
        return Ok(0);
    }
    // A count of 1 is light grey, the densest pixel black: shade by log(count).
    let scale = ((max as f64) + 1.0).ln();
    let shade = |c: u32| -> u8 {
        let f = ((c as f64) + 1.0).ln() / scale;
        (200.0 * (1.0 - f)).round() as u8
    };
    let root = chart.plotting_area().strip_coord_spec();
    let mut shaded = 0;
    for row in 0..h {
        let line = &counts[row * w..(row + 1) * w];
        let mut col = 0;
        while col < w {
            if line[col] == 0 {
                col += 1;
                continue;
            }
            let s = shade(line[col]);
            let mut end = col + 1;
            // A vector picture merges a run of equal shades into one rectangle.
            while !raster && end < w && line[end] != 0 && shade(line[end]) == s {
                end += 1;
            }
            shaded += end - col;
            let (x, y) = (col as i32, row as i32);
            let c = RGBColor(s, s, s);
            if raster && end == col + 1 {
                root.draw_pixel((x, y), &c)?;
            } else {
                root.draw(&Rectangle::new([(x, y), (end as i32, y + 1)], c.filled()))?;
            }
            col = end;
        }
    }
    Ok(shaded)
}

/// Named columns of numbers to draw: a run's results ([`Data::of_run`]), or a results
/// file read back ([`Data::read`]).
#[derive(Clone, Debug)]
pub struct Data {
    /// What the pictures are titled after (the model's name, or the file's).
    pub title: String,
    /// Whether the data are a map's (`Some(true)`), a flow's, or unknown (a file).
    pub map: Option<bool>,
    /// The numeric columns, in order: `t` first for a run; all of one length.
    pub columns: Vec<(String, Vec<f64>)>,
    /// Every column's name in the source's order, text ones too (a sweep's `status`).
    pub header: Vec<String>,
}

impl Data {
    /// A run's samples: `t`, `step`, then each recorded variable (integers as floats).
    pub fn of_run(res: &Results, model: &crate::Model) -> Data {
        let mut columns = vec![
            ("t".to_string(), res.t.clone()),
            (
                "step".to_string(),
                res.step.iter().map(|&s| s as f64).collect(),
            ),
        ];
        columns.extend(res.all_series().map(|(n, c)| {
            let v = match c {
                crate::Column::Float(v) => v.to_vec(),
                crate::Column::Int(v) => v.iter().map(|&x| x as f64).collect(),
            };
            (n.to_string(), v)
        }));
        Data {
            title: model.name.clone().unwrap_or_else(|| model.uri.clone()),
            map: Some(model.kind.as_str() == "map"),
            header: columns.iter().map(|(n, _)| n.clone()).collect(),
            columns,
        }
    }

    /// The column `name`.
    pub fn column(&self, name: &str) -> Result<&[f64], PlotError> {
        self.columns
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
            .ok_or_else(|| {
                let known: Vec<&str> = self.columns.iter().map(|(n, _)| n.as_str()).collect();
                PlotError::Request(format!(
                    "no recorded variable '{name}' in {}; recorded: {} (a run records it with \
                     --record-vars)",
                    self.title,
                    known.join(", ")
                ))
            })
    }

    /// The recorded variables: the columns but `t` and `step`, and in a sweep's file the
    /// `point` and the swept parameters (the columns between `point` and `status`).
    pub fn variables(&self) -> Vec<&str> {
        let swept = self.swept();
        self.columns
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| !matches!(*n, "t" | "step" | "point") && !swept.contains(n))
            .collect()
    }

    /// In a sweep's file, the swept parameters: the columns between `point` and `status`.
    pub fn swept(&self) -> Vec<&str> {
        let Some(p) = self.header.iter().position(|n| n == "point") else {
            return Vec::new();
        };
        self.header[p + 1..]
            .iter()
            .take_while(|n| *n != "status")
            .map(String::as_str)
            .collect()
    }

    /// Reads the samples of a file `dynlib run` (or `dynlib sweep`) wrote: `.json` (its
    /// `t`, `step` and `series`), `.csv` (a header, then numbers; text columns are left
    /// out), `.npz` (its one-dimensional numeric arrays), `.parquet` and `.arrow` (their
    /// numeric columns; with the `columnar` feature).
    pub fn read(path: &Path) -> Result<Data, PlotError> {
        let fail = |m: String| PlotError::Request(format!("cannot read {}: {m}", path.display()));
        let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let ext = extension(path);
        let (columns, header) = match ext.as_deref() {
            Some("json") => read_json(&bytes).map_err(fail)?,
            Some("csv") => read_csv(&bytes).map_err(fail)?,
            Some("npz") => read_npz(&bytes).map_err(fail)?,
            Some("parquet" | "arrow" | "feather") => {
                read_columnar(path, ext.as_deref() == Some("parquet")).map_err(fail)?
            }
            other => {
                return Err(fail(format!(
                    "a results file is .json, .csv, .npz, .parquet or .arrow, not {}",
                    other.map_or("(no extension)".to_string(), |e| format!(".{e}"))
                )))
            }
        };
        if columns.is_empty() {
            return Err(fail("it holds no numeric columns".into()));
        }
        let rows = columns[0].1.len();
        if let Some((name, v)) = columns.iter().find(|(_, v)| v.len() != rows) {
            return Err(fail(format!(
                "its columns differ in length: {} has {rows} values, {name} {}",
                columns[0].0,
                v.len()
            )));
        }
        Ok(Data {
            header,
            title: path
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            map: None,
            columns,
        })
    }
}

type Columns = Vec<(String, Vec<f64>)>;

/// A JSON number, or the strings `"nan"`, `"inf"`, `"-inf"` the JSON output writes.
fn json_number(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::String(s) => match s.as_str() {
            "nan" => Some(f64::NAN),
            "inf" => Some(f64::INFINITY),
            "-inf" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        other => other.as_f64(),
    }
}

fn read_json(bytes: &[u8]) -> Result<(Columns, Vec<String>), String> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let array = |v: &serde_json::Value| -> Option<Vec<f64>> {
        v.as_array()?.iter().map(json_number).collect()
    };
    let mut cols = Vec::new();
    for key in ["t", "step"] {
        if let Some(xs) = v.get(key).and_then(array) {
            cols.push((key.to_string(), xs));
        }
    }
    let series = v.get("series").and_then(|s| s.as_object()).ok_or(
        "no `series`: plot reads the JSON of `dynlib run` (a sweep's: use .csv, .npz or .parquet)",
    )?;
    for (name, xs) in series {
        cols.push((
            name.clone(),
            array(xs).ok_or(format!("series {name} is not numbers"))?,
        ));
    }
    let names = cols.iter().map(|(n, _)| n.clone()).collect();
    Ok((cols, names))
}

/// The fields of a CSV line: separated by commas, a field in double quotes may hold
/// commas and doubled quotes (as `dynlib sweep` writes a status that holds a comma).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let (mut quoted, mut chars) = (false, line.chars().peekable());
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// A CSV file's numeric columns, in order (a column with any text, a sweep's `status`, is
/// left out); an empty cell, a point that recorded nothing, is NaN. Also every column's
/// name, text ones too.
fn read_csv(bytes: &[u8]) -> Result<(Columns, Vec<String>), String> {
    let text = std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
    let mut lines = text.lines();
    let header = csv_fields(lines.next().ok_or("it is empty")?);
    let mut cols: Vec<Option<Vec<f64>>> = vec![Some(Vec::new()); header.len()];
    for (n, line) in lines.enumerate() {
        let cells = csv_fields(line);
        if cells.len() != header.len() {
            return Err(format!(
                "line {} has {} fields, the header {}",
                n + 2,
                cells.len(),
                header.len()
            ));
        }
        for (c, cell) in cols.iter_mut().zip(cells) {
            let parsed = match cell.as_str() {
                "" | "nan" | "NaN" => Some(f64::NAN),
                "inf" => Some(f64::INFINITY),
                "-inf" => Some(f64::NEG_INFINITY),
                _ => cell.parse().ok(),
            };
            match (c.as_mut(), parsed) {
                (Some(v), Some(x)) => v.push(x),
                _ => *c = None,
            }
        }
    }
    let numeric = header
        .iter()
        .zip(cols)
        .filter_map(|(h, c)| c.map(|c| (h.clone(), c)))
        .collect();
    Ok((numeric, header))
}

/// An `.npz` archive's one-dimensional numeric arrays (`<f8`, `<i8`, `<u8`), in order,
/// with `NAME.mask` applied (NaN where true); event tables (`events/...`), strings and
/// booleans are left out. Also every array's name.
fn read_npz(bytes: &[u8]) -> Result<(Columns, Vec<String>), String> {
    use std::io::Read;
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let mut cols: Columns = Vec::new();
    let mut masks: Vec<(String, Vec<bool>)> = Vec::new();
    let mut names = Vec::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).map_err(|e| e.to_string())?;
        let Some(name) = f.name().strip_suffix(".npy").map(String::from) else {
            continue;
        };
        let mut b = Vec::new();
        f.read_to_end(&mut b).map_err(|e| e.to_string())?;
        let bad = |why: &str| format!("{name}.npy is not a .npy array ({why})");
        if b.len() < 12 || &b[..6] != b"\x93NUMPY" {
            return Err(bad("no NUMPY magic"));
        }
        let (len, start): (usize, usize) = match b[6] {
            1 => (u16::from_le_bytes([b[8], b[9]]) as usize, 10),
            2 | 3 => (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12),
            v => return Err(bad(&format!("format version {v}"))),
        };
        let header = b
            .get(start..start.saturating_add(len))
            .ok_or_else(|| bad("a truncated header"))?;
        let header = String::from_utf8_lossy(header);
        let data = &b[start + len..];
        if name.starts_with("events/") {
            continue; // an event table's field: not a sample column
        }
        // One dimension: `'shape': (N,)`.
        let shape = header
            .split("'shape': (")
            .nth(1)
            .and_then(|s| s.split(')').next())
            .unwrap_or("");
        let Some(n) = shape
            .strip_suffix(',')
            .and_then(|n| n.trim().parse::<usize>().ok())
        else {
            continue;
        };
        if header.contains("'fortran_order': True") {
            continue;
        }
        let width = if header.contains("'|b1'") { 1 } else { 8 };
        if data.len() < n * width {
            return Err(bad(&format!(
                "{n} elements declared, {} bytes of data",
                data.len()
            )));
        }
        let data = &data[..n * width];
        let eight = |c: &[u8]| <[u8; 8]>::try_from(c).expect("chunks of 8");
        let values: Vec<f64> = if header.contains("'<f8'") {
            data.chunks_exact(8)
                .map(|c| f64::from_le_bytes(eight(c)))
                .collect()
        } else if header.contains("'<i8'") {
            data.chunks_exact(8)
                .map(|c| i64::from_le_bytes(eight(c)) as f64)
                .collect()
        } else if header.contains("'<u8'") {
            data.chunks_exact(8)
                .map(|c| u64::from_le_bytes(eight(c)) as f64)
                .collect()
        } else if let (true, Some(of)) = (width == 1, name.strip_suffix(".mask")) {
            masks.push((of.to_string(), data.iter().map(|&x| x != 0).collect()));
            continue;
        } else {
            names.push(name);
            continue; // strings: not numbers to draw
        };
        names.push(name.clone());
        cols.push((name, values));
    }
    for (of, mask) in masks {
        if let Some((_, v)) = cols.iter_mut().find(|(n, _)| *n == of) {
            for (x, &m) in v.iter_mut().zip(&mask) {
                if m {
                    *x = f64::NAN;
                }
            }
        }
    }
    Ok((cols, names))
}

#[cfg(feature = "columnar")]
fn read_columnar(path: &Path, parquet: bool) -> Result<(Columns, Vec<String>), String> {
    use arrow_array::{Array, Float64Array, Int64Array, RecordBatch, UInt64Array};
    let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let (schema, batches): (_, Vec<RecordBatch>) = if parquet {
        let b = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
            .map_err(|e| e.to_string())?;
        let schema = b.schema().clone();
        let batches = b
            .build()
            .map_err(|e| e.to_string())?
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        (schema, batches)
    } else {
        let r = arrow_ipc::reader::FileReader::try_new(f, None).map_err(|e| e.to_string())?;
        let schema = r.schema();
        (
            schema,
            r.collect::<Result<_, _>>().map_err(|e| e.to_string())?,
        )
    };
    let mut cols: Vec<Option<(String, Vec<f64>)>> = schema
        .fields()
        .iter()
        .map(|f| Some((f.name().clone(), Vec::new())))
        .collect();
    for b in &batches {
        for (c, col) in cols.iter_mut().zip(b.columns()) {
            let any = col.as_any();
            let Some((_, out)) = c.as_mut() else { continue };
            let value = |i: usize| -> Option<f64> {
                if col.is_null(i) {
                    return Some(f64::NAN);
                }
                if let Some(a) = any.downcast_ref::<Float64Array>() {
                    Some(a.value(i))
                } else if let Some(a) = any.downcast_ref::<Int64Array>() {
                    Some(a.value(i) as f64)
                } else {
                    any.downcast_ref::<UInt64Array>().map(|a| a.value(i) as f64)
                }
            };
            match (0..col.len()).map(value).collect::<Option<Vec<f64>>>() {
                Some(v) => out.extend(v),
                None => *c = None,
            }
        }
    }
    let names = schema.fields().iter().map(|f| f.name().clone()).collect();
    Ok((cols.into_iter().flatten().collect(), names))
}

#[cfg(not(feature = "columnar"))]
fn read_columnar(_: &Path, _: bool) -> Result<(Columns, Vec<String>), String> {
    Err(
        "this dynlib was built without the `columnar` feature: it reads .json, .csv and .npz"
            .into(),
    )
}

/// Variables against time: one panel per variable with `panels`, else all in one.
pub fn series(data: &Data, vars: &[&str], panels: bool) -> Result<Figure, PlotError> {
    let t = data.column("t")?;
    let lines: Vec<(String, Vec<(f64, f64)>)> = vars
        .iter()
        .map(|v| {
            Ok((
                v.to_string(),
                t.iter()
                    .copied()
                    .zip(data.column(v)?.iter().copied())
                    .collect(),
            ))
        })
        .collect::<Result<_, PlotError>>()?;
    let x_label = if data.map == Some(true) { "n (t)" } else { "t" };
    let panels = if panels {
        lines
            .into_iter()
            .map(|(name, points)| Panel {
                layers: vec![Layer::Line { name: None, points }],
                ..Panel::new(x_label, name)
            })
            .collect()
    } else {
        let mut p = Panel::new(x_label, vars.join(", "));
        p.layers = lines
            .into_iter()
            .map(|(name, points)| Layer::Line {
                name: (vars.len() > 1).then_some(name),
                points,
            })
            .collect();
        vec![p]
    };
    Ok(Figure {
        title: format!("{}: {}", data.title, vars.join(", ")),
        panels,
    })
}

/// A phase portrait: two variables against each other, or three as a projected 3-D view
/// (azimuth 40°, elevation 25°, each variable scaled to its range).
pub fn phase(data: &Data, vars: &[&str]) -> Result<Figure, PlotError> {
    let cols: Vec<Vec<f64>> = vars
        .iter()
        .map(|v| data.column(v).map(<[f64]>::to_vec))
        .collect::<Result<_, _>>()?;
    let title = format!("{}: phase portrait", data.title);
    match cols.as_slice() {
        [x, y] => {
            let mut p = Panel::new(vars[0], vars[1]);
            p.layers.push(Layer::Line {
                name: None,
                points: x.iter().copied().zip(y.iter().copied()).collect(),
            });
            Ok(Figure {
                title,
                panels: vec![p],
            })
        }
        [x, y, z] => {
            let norm = |v: &[f64]| {
                let lo = v
                    .iter()
                    .copied()
                    .filter(|a| a.is_finite())
                    .fold(f64::INFINITY, f64::min);
                let hi = v
                    .iter()
                    .copied()
                    .filter(|a| a.is_finite())
                    .fold(f64::NEG_INFINITY, f64::max);
                let span = if hi > lo { hi - lo } else { 1.0 };
                move |a: f64| (a - lo) / span - 0.5
            };
            let (nx, ny, nz) = (norm(x), norm(y), norm(z));
            let (az, el) = (40f64.to_radians(), 25f64.to_radians());
            let project = move |a: f64, b: f64, c: f64| {
                let u = a * az.cos() - b * az.sin();
                let depth = a * az.sin() + b * az.cos();
                (u, c * el.cos() - depth * el.sin())
            };
            let points = (0..x.len())
                .map(|i| project(nx(x[i]), ny(y[i]), nz(z[i])))
                .collect();
            let o = (-0.5, -0.5, -0.5);
            let mut p = Panel::new("", "");
            p.bare = true;
            for (label, end) in [
                (vars[0], (0.5, -0.5, -0.5)),
                (vars[1], (-0.5, 0.5, -0.5)),
                (vars[2], (-0.5, -0.5, 0.5)),
            ] {
                p.layers.push(Layer::Axis {
                    label: label.to_string(),
                    from: project(o.0, o.1, o.2),
                    to: project(end.0, end.1, end.2),
                });
            }
            p.layers.push(Layer::Line { name: None, points });
            Ok(Figure {
                title: format!("{title} ({}, projected)", vars.join(", ")),
                panels: vec![p],
            })
        }
        _ => Err(PlotError::Request(format!(
            "a phase portrait takes two or three variables, got {}",
            vars.len()
        ))),
    }
}

fn require_map(data: &Data, what: &str) -> Result<(), PlotError> {
    if data.map == Some(false) {
        return Err(PlotError::Request(format!(
            "a {what} is for maps; {} is an ODE (try series or phase)",
            data.title
        )));
    }
    Ok(())
}

/// A cobweb of a map: the iterates' staircase between the diagonal and the map's graph.
/// With `kernel`, a one-state map's graph is the map itself over the iterates' range (its
/// parameters as `params` set them); otherwise the visited pairs (x_n, x_{n+1}) stand for it.
pub fn cobweb(
    data: &Data,
    var: &str,
    kernel: Option<(&crate::Kernel, &[(String, f64)])>,
) -> Result<Figure, PlotError> {
    require_map(data, "cobweb")?;
    let x = data.column(var)?;
    let mut stairs = Vec::with_capacity(2 * x.len());
    for w in x.windows(2) {
        stairs.push((w[0], w[0]));
        stairs.push((w[0], w[1]));
    }
    let finite: Vec<f64> = x.iter().copied().filter(|a| a.is_finite()).collect();
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let graph = match kernel {
        Some((k, params))
            if k.model().states.len() == 1 && k.model().states[0].name == var && lo < hi =>
        {
            let mut eval = crate::runtime::jacobian::ModelEval::of(k);
            for (name, v) in params {
                eval.set_param(k, name, *v)?;
            }
            let curve = (0..=400)
                .map(|i| {
                    let a = lo + (hi - lo) * i as f64 / 400.0;
                    Ok((a, eval.rhs(k, 0.0, &[a])?[0]))
                })
                .collect::<Result<Vec<_>, RuntimeError>>()?;
            Layer::Line {
                name: Some("map".into()),
                points: curve,
            }
        }
        _ => {
            let mut pairs: Vec<(f64, f64)> = x.windows(2).map(|w| (w[0], w[1])).collect();
            pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
            Layer::Points {
                name: Some("map".into()),
                points: pairs,
            }
        }
    };
    let mut p = Panel::new(format!("{var}(n)"), format!("{var}(n+1)"));
    p.layers = vec![
        Layer::Line {
            name: Some("diagonal".into()),
            points: vec![(lo, lo), (hi, hi)],
        },
        graph,
        Layer::Line {
            name: Some("iterates".into()),
            points: stairs,
        },
    ];
    Ok(Figure {
        title: format!("{}: cobweb of {var}", data.title),
        panels: vec![p],
    })
}

/// A return map: each value of `var` against the next (`lag` iterates later).
pub fn return_map(data: &Data, var: &str, lag: usize) -> Result<Figure, PlotError> {
    require_map(data, "return map")?;
    let lag = lag.max(1);
    let x = data.column(var)?;
    let points: Vec<(f64, f64)> = x
        .iter()
        .zip(x.iter().skip(lag))
        .map(|(&a, &b)| (a, b))
        .collect();
    let mut p = Panel::new(format!("{var}(n)"), format!("{var}(n+{lag})"));
    p.layers.push(if points.len() > 20_000 {
        Layer::Density { points }
    } else {
        Layer::Points { name: None, points }
    });
    Ok(Figure {
        title: format!("{}: return map of {var}", data.title),
        panels: vec![p],
    })
}

/// A 2-D flow's direction field over `x_range` × `y_range` (`grid` arrows a side, each
/// scaled to the cell, pointing along f), with trajectories on top.
pub fn vector_field(
    kernel: &crate::Kernel,
    params: &[(String, f64)],
    vars: (&str, &str),
    (x_range, y_range): ((f64, f64), (f64, f64)),
    grid: usize,
    trajectories: &[Vec<(f64, f64)>],
) -> Result<Figure, PlotError> {
    let model = kernel.model();
    if model.kind.as_str() != "ode" || model.states.len() != 2 {
        return Err(PlotError::Request(format!(
            "a vector field is for ODEs of two states; {} has {} ({})",
            model.uri,
            model.states.len(),
            model.kind.as_str()
        )));
    }
    let names = model.state_names();
    let (ix, iy) = match (
        names.iter().position(|n| *n == vars.0),
        names.iter().position(|n| *n == vars.1),
    ) {
        (Some(a), Some(b)) if a != b => (a, b),
        _ => {
            return Err(PlotError::Request(format!(
                "a vector field is drawn over the two states ({}), not '{}, {}'",
                names.join(", "),
                vars.0,
                vars.1
            )))
        }
    };
    let mut eval = crate::runtime::jacobian::ModelEval::of(kernel);
    for (name, v) in params {
        eval.set_param(kernel, name, *v)?;
    }
    let grid = grid.clamp(2, 200);
    let (dx, dy) = (
        (x_range.1 - x_range.0) / grid as f64,
        (y_range.1 - y_range.0) / grid as f64,
    );
    let mut arrows = Vec::with_capacity(grid * grid);
    for i in 0..grid {
        for j in 0..grid {
            let (x, y) = (
                x_range.0 + (i as f64 + 0.5) * dx,
                y_range.0 + (j as f64 + 0.5) * dy,
            );
            let mut state = vec![0.0; 2];
            state[ix] = x;
            state[iy] = y;
            let f = eval.rhs(kernel, 0.0, &state)?;
            let (fx, fy) = (f[ix] / dx, f[iy] / dy);
            let len = (fx * fx + fy * fy).sqrt();
            if !(len.is_finite() && len > 0.0) {
                continue;
            }
            // Each arrow spans 80% of its cell along the flow.
            let (ux, uy) = (0.4 * fx / len * dx, 0.4 * fy / len * dy);
            arrows.push(((x - ux, y - uy), (x + ux, y + uy)));
        }
    }
    let mut p = Panel::new(vars.0, vars.1);
    p.layers.push(Layer::Arrows { arrows });
    for tr in trajectories {
        p.layers.push(Layer::Line {
            name: None,
            points: tr.clone(),
        });
    }
    Ok(Figure {
        title: format!(
            "{}: vector field",
            model.name.clone().unwrap_or_else(|| model.uri.clone())
        ),
        panels: vec![p],
    })
}

/// A bifurcation diagram: every (parameter value, sample) pair of a sweep, as a density.
/// `title` names the data (the model's name, or a file's).
pub fn bifurcation(param: &str, var: &str, samples: Vec<(f64, f64)>, title: &str) -> Figure {
    let mut p = Panel::new(param, var);
    p.layers.push(Layer::Density { points: samples });
    Figure {
        title: format!("{title}: bifurcation diagram of {var}"),
        panels: vec![p],
    }
}

/// Lyapunov exponents against a parameter: one line per exponent, with the zero line;
/// `title` names the data.
pub fn lyapunov(param: &str, values: &[f64], exponents: &[Vec<f64>], title: &str) -> Figure {
    let mut p = Panel::new(param, "Lyapunov exponent");
    if let (Some(&a), Some(&b)) = (values.first(), values.last()) {
        p.layers.push(Layer::Axis {
            label: String::new(),
            from: (a, 0.0),
            to: (b, 0.0),
        });
    }
    let several = exponents.len() > 1;
    for (k, ex) in exponents.iter().enumerate() {
        p.layers.push(Layer::Line {
            name: several.then(|| format!("λ{}", k + 1)),
            points: values.iter().copied().zip(ex.iter().copied()).collect(),
        });
    }
    Figure {
        title: format!("{title}: Lyapunov exponents"),
        panels: vec![p],
    }
}
