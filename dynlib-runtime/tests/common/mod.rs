//! Models and helpers shared by the runtime's test files.

use dynlib_runtime::Results;

/// Every recorded series of `r`, times first, as bits: equal only when every sample is.
#[allow(dead_code)]
pub fn bits(r: &Results) -> Vec<Vec<u64>> {
    let mut all = vec![r.t.iter().map(|x| x.to_bits()).collect::<Vec<_>>()];
    for name in r.names() {
        all.push(
            r.series(name)
                .unwrap()
                .iter()
                .map(|x| x.to_bits())
                .collect(),
        );
    }
    all
}

/// A damped oscillator with aux (one of them a lag), logged crossing events, a start-phase
/// kick that changes a state, and two presets: most of what a session touches.
#[allow(dead_code)]
pub const OSC: &str = r#"
[model]
type = "ode"
[states]
x = 1.0
v = 0.0
[params]
k = 4.0
c = 0.1
[equations.rhs]
x = "v"
v = "-k*x - c*v"
[aux]
energy = "0.5*v*v + 0.5*k*x*x"
prev_x = "lag_x(1)"
[events.upcross]
phase = "end"
cond = "cross_up(x, 0.0)"
log = ["t", "x", "v", "aux:energy"]
tags = ["cross"]
[events.downcross]
phase = "end"
cond = "cross_down(x, 0.0)"
log = ["t", "v"]
tags = ["cross"]
[events.kick]
phase = "start"
cond = "t >= 3.0 and t < 3.0 + 0.06"
action = "v = v + 1.0"
log = ["t", "v"]
[presets.stiff.params]
k = 9.0
[presets.moved.states]
x = 2.0
"#;
