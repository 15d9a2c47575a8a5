//! Every builtin model loads, shows its equations, and matches the reference's shapes.

mod common;
use common::opts;
use dynlib_model::uri::builtin_models;
use dynlib_model::{load, ModelKind};

#[test]
fn every_builtin_model_validates() {
    assert_eq!(builtin_models().len(), 19);
    for b in builtin_models() {
        let uri = format!("builtin://{}/{}", b.kind, b.name);
        let m = load(&uri, &opts()).unwrap_or_else(|e| panic!("{uri}:\n{e}"));
        assert_eq!(m.kind.as_str(), b.kind, "{uri}");
        let shown = m.show();
        for s in &m.states {
            let marker = match m.kind {
                ModelKind::Ode => format!("d{}/dt = ", s.name),
                ModelKind::Map => format!("{}' = ", s.name),
            };
            assert!(
                shown.contains(&marker),
                "{uri}: no equation for {} in\n{shown}",
                s.name
            );
        }
        assert!(m.summary().starts_with("Model OK: kind="), "{uri}");
        // Loading with the .toml suffix gives the same model.
        let again = load(&format!("{uri}.toml"), &opts()).unwrap();
        assert_eq!(again.digest(), m.digest());
    }
}

#[test]
fn builtin_features() {
    let l = load("builtin://ode/lorenz", &opts()).unwrap();
    assert_eq!(l.params[2].value.as_f64(), 2.6666666666666665);
    assert_eq!(l.jacobian.as_ref().map(|j| j.len()), Some(3));
    assert_eq!(
        l.summary(),
        "Model OK: kind=ode dtype=float64 states=3 stepper=rk4"
    );
    let hh = load("builtin://ode/hodgkin-huxley", &opts()).unwrap();
    assert_eq!(hh.functions.len(), 2);
    assert_eq!(hh.aux.len(), 6);
    let iz = load("builtin://ode/izhikevich", &opts()).unwrap();
    assert_eq!(iz.presets.len(), 6);
    assert_eq!(iz.events[0].actions.len(), 2);
    assert!(iz.name.is_none());
    let h2 = load("builtin://map/henon2", &opts()).unwrap();
    assert_eq!(h2.inverse.as_ref().map(|i| i.len()), Some(2));
    let sine = load("builtin://map/sine", &opts()).unwrap();
    assert_eq!(
        sine.summary(),
        "Model OK: kind=map dtype=float64 states=1 stepper=map"
    );
    let ikeda = load("builtin://map/ikeda", &opts()).unwrap();
    assert_eq!(ikeda.aux_order, vec![0, 1]);
}
