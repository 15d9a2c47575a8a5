//! Mutated and random inputs never panic: deleted lines, swapped tokens, random bytes,
//! truncation, over every builtin model file.

mod common;
use common::opts;
use dynlib_model::uri::builtin_models;
use proptest::prelude::*;

fn model_text(i: usize) -> &'static str {
    let all = builtin_models();
    all[i % all.len()].text
}

fn no_panic(text: &str) {
    // Errors are fine; a panic fails the property. Rendering the error must not panic either.
    if let Err(e) = dynlib_model::load_text(text, &opts()) {
        let _ = e.to_string();
    }
}

fn tokens(text: &str) -> Vec<&str> {
    text.split_inclusive(|c: char| c.is_whitespace() || "=[](){}\",*+-/".contains(c))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn deleting_a_line(model in 0usize..19, line in 0usize..80) {
        let text = model_text(model);
        let mutated: Vec<&str> = text.lines().enumerate().filter(|(i, _)| *i != line).map(|(_, l)| l).collect();
        no_panic(&mutated.join("\n"));
    }

    #[test]
    fn swapping_tokens(model in 0usize..19, a in 0usize..400, b in 0usize..400) {
        let mut toks = tokens(model_text(model));
        let n = toks.len();
        toks.swap(a % n, b % n);
        no_panic(&toks.concat());
    }

    #[test]
    fn deleting_a_token(model in 0usize..19, a in 0usize..400) {
        let mut toks = tokens(model_text(model));
        let n = toks.len();
        toks.remove(a % n);
        no_panic(&toks.concat());
    }

    #[test]
    fn inserting_random_bytes(model in 0usize..19, at in 0usize..4000, bytes in proptest::collection::vec(any::<u8>(), 1..12)) {
        let text = model_text(model).as_bytes();
        let at = at % text.len();
        let mut out = text[..at].to_vec();
        out.extend(&bytes);
        out.extend(&text[at..]);
        no_panic(&String::from_utf8_lossy(&out));
    }

    #[test]
    fn truncating(model in 0usize..19, at in 0usize..4000) {
        let text = model_text(model);
        let mut cut = at % text.len();
        while !text.is_char_boundary(cut) { cut -= 1; }
        no_panic(&text[..cut]);
    }

    #[test]
    fn random_expressions(s in "[a-z0-9_ ()+*/%^<>=!.,:#\\-\\[\\]'\"\n]{0,40}") {
        no_panic(&format!("[model]\ntype=\"ode\"\n[states]\nx=1\n[equations.rhs]\nx='''{s}'''\n"));
        let _ = dynlib_model::expr::parse(&s);
    }

    #[test]
    fn random_text(s in any::<String>()) {
        no_panic(&s);
    }
}
