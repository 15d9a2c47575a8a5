//! Expression types follow Python's numeric rules.

mod common;
use common::ok;
use dynlib_model::Ty;

fn aux_types(dtype: &str, kind: &str, aux: &[(&str, &str)]) -> Vec<Ty> {
    let mut src = format!("[model]\ntype=\"{kind}\"\ndtype=\"{dtype}\"\n[states]\nn=1\n[params]\nk=2\n[equations.rhs]\nn=\"n\"\n[functions.half]\nargs=[\"u\"]\nexpr=\"u // 2\"\n[aux]\n");
    for (name, e) in aux {
        src.push_str(&format!("{name} = \"{e}\"\n"));
    }
    let m = ok(&src);
    m.aux.iter().map(|a| m.type_of(&a.expr, &[])).collect()
}

#[test]
fn int_map_keeps_ints() {
    let tys = aux_types(
        "int64",
        "map",
        &[
            ("a", "n // 2"),
            ("b", "n / 2"),
            ("c", "n % 2 == 0"),
            ("d", "n ** 2"),
            ("e2", "n ** k"),
            ("f", "3*n + 1 if n % 2 else n // 2"),
            ("g", "half(n)"),
            ("h", "half(1.5)"),
            ("ri", "round(n / 3)"),
            ("j", "sum(i for i in range(n))"),
            ("l", "-(n > 0)"),
            ("m", "floor(1.5) + pi"),
            ("o", "n or 0.5"),
        ],
    );
    use Ty::*;
    assert_eq!(
        tys,
        vec![Int, Float, Bool, Int, Float, Int, Int, Float, Int, Float, Int, Int, Float]
    );
}

#[test]
fn float_models_are_floats() {
    let tys = aux_types(
        "float64",
        "ode",
        &[
            ("a", "n // 2"),
            ("b", "t"),
            ("c", "sign(n)"),
            ("d", "cross_up(n, 1)"),
        ],
    );
    assert_eq!(tys, vec![Ty::Float, Ty::Float, Ty::Int, Ty::Bool]);
}
