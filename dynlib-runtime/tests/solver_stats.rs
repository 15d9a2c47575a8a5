//! The solver's counters for every builtin model with every stepper of its kind, against
//! a snapshot (`tests/data/solver_stats.txt`), so a change in what a stepper computes
//! shows in review. A run keeps its model's `[sim]` settings over a short horizon. To
//! accept a deliberate change: `DYNLIB_UPDATE_SNAPSHOTS=1 cargo test --test solver_stats`,
//! then review the file's diff.

use dynlib_model::uri::builtin_models;
use dynlib_model::Config;
use dynlib_runtime::stepper::registry;
use dynlib_runtime::{RunOptions, SetupOptions};

fn line(uri: &str, stepper: &str) -> String {
    let o = SetupOptions::default()
        .stepper(stepper)
        .config(Config::default());
    let mut sim = dynlib_runtime::setup(uri, o).unwrap();
    let m = sim.kernel().model().clone();
    let run = match m.kind {
        dynlib_model::ModelKind::Map => RunOptions::default().n(200),
        dynlib_model::ModelKind::Ode => RunOptions::default().t_end(m.sim.t0 + 200.0 * m.sim.dt),
    };
    let outcome = match sim.run(run) {
        Ok(_) => "DONE".to_string(),
        Err(e) => e.to_string(),
    };
    let s = sim.results().map(|r| r.stats).unwrap_or_default();
    format!(
        "{uri} {stepper}: accepted {} rejected {} rhs {} jacobians {} newton {} lu {} ({})",
        s.accepted, s.rejected, s.rhs, s.jacobians, s.newton, s.lu, outcome
    )
}

#[test]
fn the_solver_counters_are_the_snapshot_s() {
    let mut lines = Vec::new();
    for b in builtin_models() {
        for s in registry().iter().filter(|s| s.kind.as_str() == b.kind) {
            lines.push(line(&b.uri(), s.name));
        }
    }
    let text = lines.join("\n") + "\n";
    let path = format!(
        "{}/../tests/data/solver_stats.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    if std::env::var_os("DYNLIB_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    let changed: Vec<String> = text
        .lines()
        .zip(want.lines().chain(std::iter::repeat("(missing)")))
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("  now:  {a}\n  was:  {b}"))
        .collect();
    assert!(
        changed.is_empty() && text.lines().count() == want.lines().count(),
        "solver counters changed (DYNLIB_UPDATE_SNAPSHOTS=1 to accept):\n{}",
        changed.join("\n")
    );
}
