//! The structural digest changes with structure, not with values.

mod common;
use common::ok;

const M: &str = "[model]\ntype=\"ode\"\n[states]\nx=1.0\ny=2.0\n[params]\na=2.0\nb=3.0\n[equations.rhs]\nx=\"-a*x\"\ny=\"b*x - y\"\n[events.e]\ncond=\"x > 1\"\ntags=[\"t1\"]\n";

fn digest(src: &str) -> String {
    ok(src).digest()
}

#[test]
fn values_do_not_change_the_digest() {
    let base = digest(M);
    assert_eq!(base.len(), 64);
    assert_eq!(digest(&M.replace("a=2.0", "a=5.0")), base);
    assert_eq!(digest(&M.replace("x=1.0", "x=7.0")), base);
    assert_eq!(
        digest(&M.replace("\"-a*x\"", "\"- a * x\"")),
        base,
        "spacing is not structure"
    );
    assert_eq!(
        digest(&format!(
            "{M}[sim]\nt_end=50\n[presets.p]\nparams={{a=1}}\n"
        )),
        base
    );
    assert_eq!(
        digest(&M.replace("[model]\n", "[model]\nname=\"other\"\n")),
        base
    );
}

#[test]
fn structure_changes_the_digest() {
    let base = digest(M);
    let changed = [
        M.replace("\"-a*x\"", "\"-b*x\""),
        M.replace("x=1.0\ny=2.0", "y=2.0\nx=1.0"),
        M.replace("a=2.0\nb=3.0", "b=3.0\na=2.0"),
        M.replace("tags=[\"t1\"]", "tags=[\"t2\"]"),
        M.replace("type=\"ode\"", "type=\"ode\"\ndtype=\"float32\""),
        M.replace("cond=\"x > 1\"", "cond=\"x > 2\""),
        format!("{M}[sim]\nstop=\"x > 3\"\n"),
        format!("{M}[aux]\nq=\"x*2\"\n"),
    ];
    for c in &changed {
        assert_ne!(digest(c), base, "digest did not change for:\n{c}");
    }
}

#[test]
fn empty_and_absent_tags_hash_the_same() {
    assert_eq!(
        digest(&M.replace("tags=[\"t1\"]\n", "")),
        digest(&M.replace("tags=[\"t1\"]", "tags=[]"))
    );
}
