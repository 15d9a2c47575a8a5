//! Mods: verbs, order, groups, fragments, external mod files (dsl.md §15).

mod common;
use common::*;
use dynlib_model::{load, DiagKind as K, Error, LoadOptions};

const BASE_MODEL: &str = r#"
[model]
type = "ode"
[states]
x = 1.0
[params]
a = 1.0
b = 2.0
[equations.rhs]
x = "-a*x + drive(t)"
[functions.drive]
args = ["s"]
expr = "0*s"
[aux]
E = "x*x"
[events.reset]
cond = "x < 0.1"
action = "x = 1"
tags = ["keep"]
[presets.p]
params = { a = 3.0 }
"#;

fn with_mods(mods: &[&str]) -> Result<dynlib_model::Model, Error> {
    let mut o = opts();
    for m in mods {
        o = o.with_mod(format!("inline: {m}"));
    }
    dynlib_model::load_text(BASE_MODEL, &o)
}

fn mod_err(mods: &[&str], kind: K, fragment: &str) {
    match with_mods(mods) {
        Err(Error::Model(e)) => assert!(
            e.diagnostics
                .iter()
                .any(|d| d.kind == kind && d.message.contains(fragment)),
            "expected {kind:?} {fragment:?}, got:\n{e}"
        ),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("expected {fragment:?}"),
    }
}

#[test]
fn verbs_apply_in_order() {
    let m = with_mods(&[r#"[mod]
name = "m1"
[mod.remove.events]
names = ["reset"]
[mod.add.events.spike]
cond = "x > 2"
action.x = "0"
tags = ["added"]
[mod.add.params]
c = "8/4"
[mod.set.params]
a = 5
[mod.set.states]
x = 0.5
[mod.replace.aux]
E = "x*x*x"
[mod.set.aux]
F = "E + c"
[mod.set.functions.drive]
args = ["s"]
expr = "s"
[mod.set.sim]
t_end = 9.0
stop = "x > 100"
"#])
    .unwrap();
    assert_eq!(m.events.len(), 1);
    assert_eq!(m.events[0].name, "spike");
    assert_eq!(m.events[0].tags, ["added"], "mod events keep their tags");
    assert_eq!(m.param_names(), ["a", "b", "c"]);
    assert_eq!(
        m.params[2].value.as_f64(),
        2.0,
        "numeric strings are evaluated"
    );
    assert_eq!(m.params[0].value.as_f64(), 5.0);
    assert_eq!(m.states[0].value.as_f64(), 0.5);
    assert_eq!(m.aux.len(), 2);
    assert_eq!(m.sim.t_end, 9.0);
    assert!(m.sim.stop.is_some());
    assert_eq!(m.presets.len(), 1, "presets survive mods");
}

#[test]
fn remove_then_add_in_one_mod() {
    let m =
        with_mods(&["[mod]\n[mod.remove.aux]\nnames=[\"E\"]\n[mod.add.aux]\nE=\"2*x\"\n"]).unwrap();
    assert_eq!(m.aux.len(), 1);
}

#[test]
fn verb_errors() {
    mod_err(
        &["[mod]\n[mod.remove.events]\nnames=[\"nonexistent\"]\n"],
        K::Mod,
        "remove.events: event 'nonexistent' does not exist",
    );
    mod_err(
        &["[mod]\n[mod.replace.events.nope]\ncond=\"x>1\"\n"],
        K::Mod,
        "replace.events.nope: event does not exist",
    );
    mod_err(
        &["[mod]\n[mod.add.events.reset]\ncond=\"x>1\"\n"],
        K::Mod,
        "add.events.reset: event already exists",
    );
    mod_err(
        &["[mod]\n[mod.add.params]\na=1\n"],
        K::Mod,
        "add.params.a: param already exists",
    );
    mod_err(
        &["[mod]\n[mod.remove.params]\nnames=[\"nonexistent\"]\n"],
        K::Mod,
        "remove.params.nonexistent: param does not exist",
    );
    mod_err(
        &["[mod]\n[mod.add.aux]\nE=\"1\"\n"],
        K::Mod,
        "add.aux.E: aux already exists",
    );
    mod_err(
        &["[mod]\n[mod.replace.aux]\nnonexistent=\"1\"\n"],
        K::Mod,
        "replace.aux.nonexistent: aux does not exist",
    );
    mod_err(
        &["[mod]\n[mod.remove.aux]\nnames=[\"nonexistent\"]\n"],
        K::Mod,
        "remove.aux.nonexistent: aux does not exist",
    );
    mod_err(
        &["[mod]\n[mod.add.functions.drive]\nargs=[\"s\"]\nexpr=\"s\"\n"],
        K::Mod,
        "add.functions.drive: function already exists",
    );
    mod_err(
        &["[mod]\n[mod.replace.functions.nonexistent]\nexpr=\"1\"\n"],
        K::Mod,
        "replace.functions.nonexistent: function does not exist",
    );
    mod_err(
        &["[mod]\n[mod.remove.functions]\nnames=[\"nonexistent\"]\n"],
        K::Mod,
        "remove.functions.nonexistent: function does not exist",
    );
    mod_err(
        &["[mod]\n[mod.add.aux]\nbad=3\n"],
        K::WrongType,
        "add.aux.bad must be a string expression",
    );
    mod_err(
        &["[mod]\n[mod.add.functions.bad]\nargs=\"s\"\nexpr=\"s\"\n"],
        K::WrongType,
        "add.functions.bad.args must be a list of strings",
    );
    mod_err(
        &["[mod]\n[mod.add.functions.bad]\nexpr=3\n"],
        K::WrongType,
        "add.functions.bad.expr must be a string",
    );
    mod_err(
        &["[mod]\n[mod.set.states]\nq=1\n"],
        K::Mod,
        "set.states.q: unknown state",
    );
    mod_err(
        &["[mod]\n[mod.set.params]\nq=1\n"],
        K::Mod,
        "set.params.q: unknown param",
    );
    mod_err(
        &["[mod]\n[mod.add.events.e2]\ncond=\"x>1\"\nphase=\"pre\"\n"],
        K::Removed,
        "pre is deprecated. Use start for event phase.",
    );
    mod_err(
        &["[mod]\n[mod.add.events.e2]\nphase=\"end\"\n"],
        K::Missing,
        "cond",
    );
}

#[test]
fn unsupported_targets() {
    for (m, msg) in [
        (
            "[mod]\n[mod.add.states]\ny=1\n",
            "add.states: unsupported target. Supported targets: aux, events, functions, params",
        ),
        (
            "[mod]\n[mod.remove.states]\nnames=[\"x\"]\n",
            "remove.states: unsupported target. Supported targets:",
        ),
        (
            "[mod]\n[mod.replace.params]\na=1\n",
            "replace.params: unsupported target. Supported targets:",
        ),
        (
            "[mod]\n[mod.set.invalid_target]\na=1\n",
            "set.invalid_target: unsupported target. Supported targets:",
        ),
    ] {
        mod_err(&[m], K::Mod, msg);
    }
}

#[test]
fn exclusive_groups() {
    let a = "[mod]\nname=\"A\"\ngroup=\"G\"\nexclusive=true\n";
    let b = "[mod]\nname=\"B\"\ngroup=\"G\"\nexclusive=true\n";
    let c = "[mod]\nname=\"C\"\ngroup=\"G\"\n";
    mod_err(
        &[a, b],
        K::Mod,
        "group 'G' allows only one active mod but received: A, B",
    );
    mod_err(&[a, c], K::Mod, "group 'G' allows only one active mod");
    assert!(with_mods(&[c, "[mod]\nname=\"D\"\ngroup=\"G\"\n"]).is_ok());
}

#[test]
fn mods_may_supply_what_the_base_uses() {
    // The base calls a function that only the mod defines: names resolve after mods.
    let base = "[model]\ntype=\"ode\"\n[states]\nx=1\n[equations.rhs]\nx=\"sat(x)\"\n";
    let err = dynlib_model::load_text(base, &opts());
    assert!(err.is_err());
    let m = dynlib_model::load_text(
        base,
        &opts().with_mod(
            "inline: [mod]\n[mod.add.functions.sat]\nargs=[\"u\"]\nexpr=\"u/(1+abs(u))\"\n",
        ),
    )
    .unwrap();
    assert_eq!(m.functions.len(), 1);
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("dynlib-model-mods-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn fragments_and_mod_files() {
    let dir = temp_dir("frag");
    let model = format!(
        "#! dynlib\n{BASE_MODEL}\n[mods.odd]\n[mods.odd.set.params]\na = 7\n[mods.even]\n[mods.even.set.params]\na = 8\n"
    );
    std::fs::write(dir.join("m.toml"), model).unwrap();
    let p = dir.join("m.toml").display().to_string();
    let m = load(&format!("{p}#mod=odd"), &opts()).unwrap();
    assert_eq!(m.params[0].value.as_f64(), 7.0);
    let m = load(&format!("{p}#other"), &opts()).unwrap();
    assert_eq!(
        m.params[0].value.as_f64(),
        1.0,
        "other fragments are ignored"
    );
    match load(&format!("{p}#mod=nonexistent"), &opts()) {
        Err(Error::Model(e)) => {
            let t = e.to_string();
            assert!(
                t.contains("nonexistent") && t.contains("existing") && t.contains("odd"),
                "{t}"
            );
        }
        other => panic!("{other:?}"),
    }
    // External mod files: [mod], #mod=NAME, a single [mods.X], several [mods.*].
    std::fs::write(
        dir.join("one.toml"),
        "[mod]\nname=\"one\"\n[mod.set.params]\nb=9\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("many.toml"),
        "[mods.v1.set.params]\nb=10\n[mods.v2.set.params]\nb=11\n",
    )
    .unwrap();
    std::fs::write(dir.join("single.toml"), "[mods.v1.set.params]\nb=12\n").unwrap();
    std::fs::write(dir.join("none.toml"), "[other]\n").unwrap();
    let load_with = |mods: &[&str]| {
        let mut o: LoadOptions = opts();
        for m in mods {
            o = o.with_mod(dir.join(m).display().to_string());
        }
        load(&format!("{p}#mod=odd"), &o)
    };
    assert_eq!(
        load_with(&["one.toml"]).unwrap().params[1].value.as_f64(),
        9.0
    );
    assert_eq!(
        load_with(&["many.toml#mod=v2"]).unwrap().params[1]
            .value
            .as_f64(),
        11.0
    );
    assert_eq!(
        load_with(&["single.toml"]).unwrap().params[1]
            .value
            .as_f64(),
        12.0
    );
    assert_eq!(
        load_with(&["one.toml", "many.toml#mod=v1"]).unwrap().params[1]
            .value
            .as_f64(),
        10.0,
        "mods apply in order"
    );
    let e = load_with(&["many.toml"]).unwrap_err().to_string();
    assert!(
        e.contains("contains multiple mods") && e.contains("#mod=NAME"),
        "{e}"
    );
    let e = load_with(&["none.toml"]).unwrap_err().to_string();
    assert!(e.contains("No [mod] or [mods.*] table found"), "{e}");
    let e = load_with(&["missing.toml"]).unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e}");
    // Group exclusivity holds across the fragment mod and external mods.
    std::fs::write(
        dir.join("g1.toml"),
        "[mod]\nname=\"g1\"\ngroup=\"G\"\nexclusive=true\n",
    )
    .unwrap();
    let m2 = format!("#! dynlib\n{BASE_MODEL}\n[mods.g0]\ngroup=\"G\"\n");
    std::fs::write(dir.join("m2.toml"), m2).unwrap();
    let e = load(
        &format!("{}#mod=g0", dir.join("m2.toml").display()),
        &opts().with_mod(dir.join("g1.toml").display().to_string()),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("allows only one active mod"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shebang_and_inline() {
    let dir = temp_dir("shebang");
    std::fs::write(dir.join("snn.toml"), format!("#! snnlib:1.0\n{BASE_MODEL}")).unwrap();
    let e = load(&dir.join("snn.toml").display().to_string(), &opts()).unwrap_err();
    assert!(e.to_string().contains("This is not a dynlib model"), "{e}");
    std::fs::write(dir.join("ok.toml"), format!("#!dynlib:0.13\n{BASE_MODEL}")).unwrap();
    assert!(
        load(&dir.join("ok").display().to_string(), &opts()).is_ok(),
        "extension inferred, versioned shebang"
    );
    assert!(
        load(&format!("inline: #!snnlib:1.0\n{BASE_MODEL}"), &opts()).is_ok(),
        "inline skips the shebang check"
    );
    let e = load("inline: [model\n", &opts()).unwrap_err().to_string();
    assert!(e.contains("Failed to parse inline model"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_misspelled_verb_is_an_error_with_a_suggestion() {
    mod_err(
        &["[mod]\nname='m'\n[mod.remvoe.events]\nnames = ['reset']\n"],
        K::Mod,
        "unknown key 'remvoe' (did you mean 'remove'?)",
    );
    mod_err(
        &["[mod]\nname='m'\nsett.params = { a = 2.0 }\n"],
        K::Mod,
        "did you mean 'set'?",
    );
    // The known keys stay fine.
    with_mods(&["[mod]\nname='m'\ngroup='g'\nexclusive=false\nset.params = { a = 2.0 }\n"])
        .unwrap();
}

#[test]
fn a_clash_a_mod_makes_is_reported_at_the_mod() {
    let e = match with_mods(&["[mod]\nname='m'\nadd.aux = { x = \"2*a\" }\n"]) {
        Err(Error::Model(e)) => e,
        other => panic!("{other:?}"),
    };
    let text = e.to_string();
    assert!(text.contains("conflicts: x (states, aux)"), "{text}");
    assert!(
        text.contains("inline mod"),
        "points into the mod, not the base: {text}"
    );
    assert!(text.contains("add.aux = { x = \"2*a\" }"), "{text}");
}
