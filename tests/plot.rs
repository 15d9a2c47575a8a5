//! `dynlib plot` and `dynlib::plot`: each kind renders for a builtin model into a valid SVG
//! or PNG of the size asked for, and what it draws is the data: polyline vertices and dots
//! at the pixels the data map to, density pixels dark where samples are and white where
//! none are, one arrow per grid cell.
#![cfg(feature = "plot")]

use std::path::Path;
use std::process::Command;

use dynlib::plot::{self, Drawn, PlotOptions};
use dynlib::{RunOptions, SetupOptions};

mod common;

/// The standard output of a successful `dynlib` run.
fn dynlib(args: &[&str]) -> String {
    String::from_utf8(common::dynlib_ok(args).stdout).unwrap()
}

/// The `points` of every `<polyline>` of an SVG, as pixel pairs.
fn polylines(svg: &str) -> Vec<Vec<(i32, i32)>> {
    svg.split("<polyline")
        .skip(1)
        .map(|p| {
            let pts = p
                .split("points=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            pts.split_whitespace()
                .map(|xy| {
                    let (x, y) = xy.split_once(',').unwrap();
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect()
        })
        .collect()
}

/// The number in the attribute `name` of an element's text (`cx="12"`).
fn attr<T: std::str::FromStr>(element: &str, name: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    let value = element
        .split(&format!(" {name}=\""))
        .nth(1)
        .and_then(|v| v.split('"').next())
        .unwrap_or_else(|| panic!("no {name} in {element}"));
    value.parse().unwrap()
}

/// The centres of every `<circle>` of an SVG.
fn circles(svg: &str) -> Vec<(i32, i32)> {
    svg.split("<circle")
        .skip(1)
        .map(|c| (attr(c, "cx"), attr(c, "cy")))
        .collect()
}

/// Width, height and RGB pixels of a PNG.
fn read_png(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let px = buf[..info.buffer_size()]
        .chunks(channels)
        .map(|c| [c[0], c[1], c[2]])
        .collect();
    (info.width, info.height, px)
}

fn svg_size(svg: &str) -> (u32, u32) {
    let head = svg.split('>').next().unwrap();
    (attr(head, "width"), attr(head, "height"))
}

#[test]
fn a_lorenz_phase_portrait_draws_the_trajectory_where_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let mut sim = dynlib::setup("builtin://ode/lorenz", SetupOptions::default()).unwrap();
    sim.run(RunOptions::default().t_end(20.0)).unwrap();
    let res = sim.results().unwrap();
    let (x, z) = (
        res.series("x").unwrap().to_vec(),
        res.series("z").unwrap().to_vec(),
    );
    let data = plot::Data::of_run(res, sim.model());
    let fig = plot::phase(&data, &["x", "z"]).unwrap();
    let path = dir.path().join("lorenz.svg");
    let opts = PlotOptions {
        width: 640,
        height: 480,
        ..Default::default()
    };
    let drawn: Drawn = fig.save(&path, &opts).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert_eq!(svg_size(&svg), (640, 480));
    assert!(
        svg.contains(">\nx\n</text>") && svg.contains(">\nz\n</text>"),
        "axis labels from the model's names"
    );
    assert_eq!(drawn.marks, x.len());
    // The trajectory is the polyline with every sample, each vertex where its (x, z) maps.
    let line = polylines(&svg)
        .into_iter()
        .find(|p| p.len() == x.len())
        .expect("the trajectory");
    let g = &drawn.panels[0];
    for (k, &(px, py)) in line.iter().enumerate() {
        let (ex, ey) = g.pixel(x[k], z[k]);
        assert!(
            (px - ex).abs() <= 1 && (py - ey).abs() <= 1,
            "sample {k}: drawn at {px},{py}, data at {ex},{ey}"
        );
    }
    // Three variables: a projected 3-D view with the three labelled axes.
    let fig = plot::phase(&data, &["x", "y", "z"]).unwrap();
    let drawn = fig.save(&dir.path().join("l3.svg"), &opts).unwrap();
    assert_eq!(drawn.marks, x.len());
    let svg = std::fs::read_to_string(dir.path().join("l3.svg")).unwrap();
    assert!(svg.contains(">\ny\n</text>"));
    assert!(plot::phase(&data, &["x"]).is_err());
    assert!(plot::phase(&data, &["x", "w"])
        .unwrap_err()
        .to_string()
        .contains("no recorded variable 'w'"));
}

#[test]
fn a_logistic_bifurcation_png_is_dark_where_the_samples_are() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bif.png");
    let out = dynlib(&[
        "plot",
        "bifurcation",
        "builtin://map/logistic",
        "--param",
        "r=2.8:4:300",
        "-n",
        "200",
        "--transient",
        "300",
        "--width",
        "700",
        "--height",
        "500",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert!(out.contains("700×500"), "{out}");
    let (w, h, px) = read_png(&path);
    assert_eq!((w, h), (700, 500));
    // The same picture through the library, for its geometry.
    let fig = {
        let kernel = dynlib::build("builtin://map/logistic", SetupOptions::default()).unwrap();
        let mut samples = Vec::new();
        for r in dynlib::runtime::linspace(2.8, 4.0, 300) {
            let mut sim = dynlib::Sim::new(kernel.clone());
            let res = sim
                .run(RunOptions {
                    params: vec![("r".into(), r.into())],
                    ..RunOptions::default().n(200).transient(300.0)
                })
                .unwrap();
            samples.extend(res.series("x").unwrap().iter().map(|&x| (r, x)));
        }
        plot::bifurcation("r", "x", samples, "Logistic Map")
    };
    let g2 = dir.path().join("bif2.png");
    let drawn = fig
        .save(
            &g2,
            &PlotOptions {
                width: 700,
                height: 500,
                ..Default::default()
            },
        )
        .unwrap();
    assert!(
        std::fs::read(&g2).unwrap() == std::fs::read(&path).unwrap(),
        "the CLI draws what the library does"
    );
    let g = &drawn.panels[0];
    let at = |x: f64, y: f64| {
        let (cx, cy) = g.pixel(x, y);
        px[(cy as u32 * w + cx as u32) as usize]
    };
    // The grid's r nearest 3.2: a period-2 orbit, x = ((r+1) ± sqrt((r+1)(r-3))) / 2r:
    // dark on both branches, white between them.
    let r = dynlib::runtime::linspace(2.8, 4.0, 300)[100];
    let root = ((r + 1.0) * (r - 3.0)).sqrt();
    for x in [(r + 1.0 - root) / (2.0 * r), (r + 1.0 + root) / (2.0 * r)] {
        let p = at(r, x);
        assert!(p[0] < 190, "a branch at r = {r}, x = {x}: {p:?}");
    }
    // No data is white or a grid line (light grey); the lightest data pixel is darker.
    assert!(at(r, 0.65)[0] > 200, "nothing between the branches");
    assert!(at(2.9, 0.2)[0] > 200, "nothing below the fixed point");
    assert!(drawn.marks > 300, "{} pixels shaded", drawn.marks);
}

#[test]
fn henon_cobweb_and_return_map_draw_every_iterate() {
    let dir = tempfile::tempdir().unwrap();
    let rm = dir.path().join("rm.svg");
    dynlib(&[
        "plot",
        "return-map",
        "builtin://map/henon",
        "-n",
        "500",
        "--var",
        "x",
        "-o",
        rm.to_str().unwrap(),
    ]);
    let svg = std::fs::read_to_string(&rm).unwrap();
    // 501 samples (the start and 500 iterates): 500 pairs.
    assert_eq!(circles(&svg).len(), 500);
    assert!(svg.contains("x(n+1)"));
    let cw = dir.path().join("cw.png");
    dynlib(&[
        "plot",
        "cobweb",
        "builtin://map/henon",
        "-n",
        "50",
        "--width",
        "400",
        "--height",
        "400",
        "-o",
        cw.to_str().unwrap(),
    ]);
    assert_eq!(read_png(&cw).0, 400);
    // A cobweb of an ODE is refused with what to do instead.
    let o = Command::new(env!("CARGO_BIN_EXE_dynlib"))
        .args([
            "plot",
            "cobweb",
            "builtin://ode/lorenz",
            "-o",
            dir.path().join("c.svg").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cobweb is for maps"));
}

#[test]
fn a_van_der_pol_vector_field_has_an_arrow_per_cell_and_the_trajectories() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("vf.svg");
    let out = dynlib(&[
        "plot",
        "vectorfield",
        "builtin://ode/vanderpol",
        "--t-end",
        "10",
        "--grid",
        "12",
        "--x-range",
        "-3:3",
        "--y-range",
        "-3:3",
        "--from",
        "2.5,-2.5",
        "-o",
        p.to_str().unwrap(),
    ]);
    assert!(out.contains("marks"), "{out}");
    let svg = std::fs::read_to_string(&p).unwrap();
    let lines = polylines(&svg);
    // Arrows: a shaft of two points and a head of three; 12 × 12 of each.
    let shafts = lines.iter().filter(|l| l.len() == 2).count();
    let heads = lines.iter().filter(|l| l.len() == 3).count();
    assert!(
        heads == 144 && shafts >= 144,
        "{heads} heads, {shafts} two-point lines"
    );
    // Two trajectories (the run's and --from's), each with every sample.
    let long = lines.iter().filter(|l| l.len() > 100).count();
    assert_eq!(long, 2);
}

#[test]
fn a_logistic_lyapunov_curve_crosses_zero_where_chaos_starts() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ly.svg");
    dynlib(&[
        "plot",
        "lyapunov",
        "builtin://map/logistic",
        "--param",
        "r=3:4:101",
        "-n",
        "3000",
        "--transient",
        "500",
        "-o",
        p.to_str().unwrap(),
    ]);
    let svg = std::fs::read_to_string(&p).unwrap();
    let curve = polylines(&svg)
        .into_iter()
        .find(|l| l.len() == 101)
        .expect("one vertex per point");
    // The zero line is drawn in the axes' grey.
    let zero = svg
        .split("<polyline")
        .find(|p| p.contains("stroke=\"#5A5A5A\""))
        .map(|p| polylines(&format!("<polyline{p}"))[0].clone())
        .expect("the zero line");
    assert_eq!(zero[0].1, zero[1].1, "horizontal");
    let y0 = zero[0].1;
    // Periodic at r = 3.2 (negative: below the zero line, larger pixel y), chaotic at 4.
    assert!(curve[20].1 > y0, "r = 3.2: {:?} vs zero at {y0}", curve[20]);
    assert!(curve[100].1 < y0, "r = 4: {:?} vs zero at {y0}", curve[100]);
}

#[test]
fn series_in_panels_and_bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.svg");
    dynlib(&[
        "plot",
        "series",
        "builtin://ode/vanderpol",
        "--t-end",
        "5",
        "--panels",
        "--title",
        "VdP",
        "-o",
        p.to_str().unwrap(),
    ]);
    let svg = std::fs::read_to_string(&p).unwrap();
    assert!(svg.contains(">\nVdP\n</text>"));
    let long: Vec<Vec<(i32, i32)>> = polylines(&svg)
        .into_iter()
        .filter(|l| l.len() > 100)
        .collect();
    assert_eq!(long.len(), 2, "a line per state");
    let lowest = |l: &[(i32, i32)]| l.iter().map(|p| p.1).max().unwrap();
    let highest = |l: &[(i32, i32)]| l.iter().map(|p| p.1).min().unwrap();
    assert!(
        lowest(&long[0]) < highest(&long[1]),
        "one panel above the other"
    );
    for (args, says) in [
        (
            vec!["plot", "series", "builtin://ode/vanderpol", "-o", "x.gif"],
            "use .svg or .png",
        ),
        (
            vec!["plot", "series", "builtin://ode/vanderpol"],
            "-o FILE.svg",
        ),
        (
            vec![
                "plot",
                "series",
                "builtin://ode/vanderpol",
                "--vars",
                "q",
                "-o",
                "x.svg",
            ],
            "unknown",
        ),
        (
            vec![
                "plot",
                "series",
                "builtin://ode/vanderpol",
                "--x-range",
                "3:1",
                "-o",
                "x.svg",
            ],
            "LOW < HIGH",
        ),
        (
            vec![
                "plot",
                "series",
                "builtin://ode/vanderpol",
                "--width",
                "5",
                "-o",
                "x.svg",
            ],
            "between 100×80",
        ),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_dynlib"))
            .current_dir(dir.path())
            .args(&args)
            .output()
            .unwrap();
        assert!(!o.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// `dynlib plot KIND FILE` draws a file `dynlib run` or `dynlib sweep` wrote: the same
/// picture as from the model, in every format.
#[test]
fn results_files_draw_the_pictures_their_runs_do() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).display().to_string();
    let run = [
        "builtin://ode/lorenz",
        "--t-end",
        "10",
        "--record-vars",
        "x,z",
    ];
    let phase = |input: &str, out: &str| {
        dynlib(
            &[
                &[
                    "plot", "phase", input, "--vars", "x,z", "--title", "L", "-o",
                ][..],
                &[out],
            ]
            .concat(),
        );
        std::fs::read_to_string(out).unwrap()
    };
    let want = {
        let out = p("model.svg");
        dynlib(
            &[
                &["plot", "phase"][..],
                &run,
                &["--vars", "x,z", "--title", "L", "-o", &out],
            ]
            .concat(),
        );
        std::fs::read_to_string(&out).unwrap()
    };
    let mut exts = vec!["json", "csv", "npz"];
    if cfg!(feature = "columnar") {
        exts.extend(["parquet", "arrow"]);
    }
    for ext in exts {
        let file = p(&format!("r.{ext}"));
        dynlib(&[&["run"][..], &run, &["-o", &file]].concat());
        assert_eq!(
            phase(&file, &p(&format!("from_{ext}.svg"))),
            want,
            "from .{ext}"
        );
    }
    // A sweep's file: the parameter is the column after `point`.
    let sweep = [
        "builtin://map/logistic",
        "--param",
        "r=2.8:4:120",
        "-n",
        "100",
        "--transient",
        "200",
    ];
    let want = {
        let out = p("bif.svg");
        dynlib(
            &[
                &["plot", "bifurcation"][..],
                &sweep,
                &["--title", "B", "-o", &out],
            ]
            .concat(),
        );
        std::fs::read_to_string(&out).unwrap()
    };
    for ext in ["csv", "npz"] {
        let file = p(&format!("s.{ext}"));
        dynlib(&[&["sweep"][..], &sweep, &["-o", &file]].concat());
        let out = p(&format!("bif_{ext}.svg"));
        dynlib(&["plot", "bifurcation", &file, "--title", "B", "-o", &out]);
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            want,
            "a sweep's .{ext}"
        );
    }
}

/// What `dynlib plot` says of a file it cannot draw, instead of panicking or drawing
/// something else: event tables are not series, failed points are gaps, bad files are
/// errors that name the file.
#[test]
fn results_files_with_events_gaps_and_damage() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).display().to_string();
    let fails = |args: &[&str]| -> String {
        let o = Command::new(env!("CARGO_BIN_EXE_dynlib"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    // Izhikevich with a logged event: its .npz holds events/reset/* arrays too.
    let events = "inline:[mod]\nname='log'\n[mod.replace.events.reset]\ncond='v >= v_th'\n\
                  action=\"v = c\\nu = u + d\"\nlog=['t','v']\n";
    let run = [
        "builtin://ode/izhikevich",
        "--t-end",
        "60",
        "--mod",
        events,
        "--param",
        "I=12",
    ];
    dynlib(&[&["run"][..], &run, &["-o", &p("iz.npz")]].concat());
    let (from_file, from_model) = (p("f.svg"), p("m.svg"));
    dynlib(&[
        "plot",
        "series",
        &p("iz.npz"),
        "--title",
        "I",
        "-o",
        &from_file,
    ]);
    dynlib(
        &[
            &["plot", "series"][..],
            &run,
            &["--title", "I", "-o", &from_model],
        ]
        .concat(),
    );
    assert_eq!(
        std::fs::read_to_string(&from_file).unwrap(),
        std::fs::read_to_string(&from_model).unwrap(),
        "the states only, not the event table"
    );

    // A sweep's CSV with a failed point: a quoted status holding a comma, empty cells.
    let csv = p("s.csv");
    std::fs::write(
        &csv,
        "point,r,status,t,step,x\n0,3.2,DONE,0,0,0.5\n0,3.2,DONE,1,1,0.8\n\
         1,3.3,\"ERROR: a, b\",,,\n2,3.4,DONE,0,0,0.45\n",
    )
    .unwrap();
    let out = dynlib(&["plot", "bifurcation", &csv, "-o", &p("b.svg")]);
    assert!(out.contains("b.svg"), "{out}");

    // Two swept parameters: refused, naming them.
    let two = p("two.csv");
    std::fs::write(&two, "point,a,b,status,t,step,x\n0,1,2,DONE,0,0,0.5\n").unwrap();
    assert!(
        fails(&["plot", "bifurcation", &two, "-o", &p("x.svg")]).contains("2 parameters (a, b)")
    );
    // A ragged CSV, a truncated .npz, columns of unequal length: errors naming the file.
    let ragged = p("ragged.csv");
    std::fs::write(&ragged, "t,x\n0,1\n1\n").unwrap();
    let err = fails(&["plot", "series", &ragged, "-o", &p("x.svg")]);
    assert!(
        err.contains("ragged.csv") && err.contains("line 3 has 1 fields"),
        "{err}"
    );
    let bytes = std::fs::read(p("iz.npz")).unwrap();
    let cut = p("cut.npz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    assert!(fails(&["plot", "series", &cut, "-o", &p("x.svg")]).contains("cut.npz"));
    let uneven = p("uneven.json");
    std::fs::write(&uneven, r#"{"t": [0, 1, 2], "series": {"x": [1, 2]}}"#).unwrap();
    let err = fails(&["plot", "series", &uneven, "-o", &p("x.svg")]);
    assert!(err.contains("differ in length"), "{err}");
    // Nothing recorded: said, not a panic.
    dynlib(&[
        "run",
        "builtin://map/logistic",
        "-n",
        "5",
        "--no-record",
        "-o",
        &p("none.csv"),
    ]);
    let err = fails(&["plot", "cobweb", &p("none.csv"), "-o", &p("x.svg")]);
    assert!(err.contains("no samples to draw"), "{err}");
    // A bad picture is refused before the model runs (a run of 10^12 steps would not end).
    let err = fails(&[
        "plot",
        "series",
        "builtin://map/logistic",
        "-n",
        "1000000000000",
        "-o",
        &p("x.jpg"),
    ]);
    assert!(err.contains("use .svg or .png"), "{err}");
}
