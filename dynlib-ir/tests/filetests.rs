//! Data-driven tests: every `tests/data/*.ir` file is an IR program whose header comments
//! say what to check (Cranelift's filetests, in small):
//!
//! ```text
//! ; test: roundtrip            print(parse(text)) parses back to the same program and text
//! ; test: canonical            the file (without lines starting with `;`) is exactly what
//!                              the printer prints
//! ; test: verify               the verifier accepts the program
//! ; test: verify-error         the verifier rejects it; each `; error: TEXT` line must be
//!                              part of some error message
//! ; test: parse-error          parsing fails with a message containing each `; error:` line
//! ; test: pass fold cse dce    runs these passes in order (`inline`, `fold`, `cse`, `merge`,
//!                              `dce`, `optimize`), verifying after each; then each `; check: TEXT`
//!                              line must occur in the printed result, in order, and no
//!                              `; not: TEXT` line may occur anywhere
//! ```

mod common;

use std::path::Path;

use dynlib_ir::passes;
use dynlib_ir::*;

struct Directives {
    tests: Vec<String>,
    errors: Vec<String>,
    checks: Vec<String>,
    nots: Vec<String>,
}

fn directives(text: &str) -> Directives {
    let mut d = Directives {
        tests: Vec::new(),
        errors: Vec::new(),
        checks: Vec::new(),
        nots: Vec::new(),
    };
    for line in text.lines() {
        let Some(comment) = line.trim_start().strip_prefix(';') else {
            continue;
        };
        let comment = comment.trim_start();
        for (prefix, list) in [
            ("test:", &mut d.tests),
            ("error:", &mut d.errors),
            ("check:", &mut d.checks),
            ("not:", &mut d.nots),
        ] {
            if let Some(rest) = comment.strip_prefix(prefix) {
                list.push(rest.trim().to_string());
            }
        }
    }
    d
}

fn verify_text(program: &Program) -> Result<(), String> {
    verify_program(program).map_err(|errors| {
        errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })
}

fn run_file(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let d = directives(&text);
    if d.tests.is_empty() {
        return Err("no `; test:` line".into());
    }
    for test in &d.tests {
        let mut words = test.split_whitespace();
        let kind = words.next().unwrap_or_default();
        if kind == "parse-error" {
            let err = match parse_program(&text) {
                Ok(_) => return Err("expected a parse error".into()),
                Err(e) => e.to_string(),
            };
            for want in &d.errors {
                if !err.contains(want.as_str()) {
                    return Err(format!("parse error `{err}` does not contain `{want}`"));
                }
            }
            continue;
        }
        let program = parse_program(&text).map_err(|e| format!("parse error: {e}"))?;
        match kind {
            "roundtrip" => {
                let printed = print_program(&program);
                let again = parse_program(&printed)
                    .map_err(|e| format!("printed text does not parse: {e}\n{printed}"))?;
                if again != program {
                    return Err(format!("parse(print(p)) != p\n{printed}"));
                }
                if print_program(&again) != printed {
                    return Err("print(parse(print(p))) != print(p)".into());
                }
            }
            "canonical" => {
                let body: String = text
                    .lines()
                    .filter(|l| !l.starts_with(';'))
                    .map(|l| format!("{l}\n"))
                    .collect();
                let printed = print_program(&program);
                if printed != body {
                    return Err(format!(
                        "the printer prints\n{printed}\nbut the file says\n{body}"
                    ));
                }
            }
            "verify" => verify_text(&program)?,
            "verify-error" => {
                let errors = match verify_text(&program) {
                    Ok(()) => return Err("expected verifier errors".into()),
                    Err(e) => e,
                };
                for want in &d.errors {
                    if !errors.contains(want.as_str()) {
                        return Err(format!("no verifier error contains `{want}`:\n{errors}"));
                    }
                }
            }
            "pass" => {
                let mut p = program.clone();
                verify_text(&p).map_err(|e| format!("input does not verify:\n{e}"))?;
                for pass in words {
                    match pass {
                        "inline" => {
                            passes::inline_calls(&mut p);
                        }
                        "fold" => {
                            passes::constant_fold(&mut p);
                        }
                        "cse" => {
                            passes::cse(&mut p);
                        }
                        "dce" => {
                            passes::dead_code(&mut p);
                        }
                        "merge" => {
                            passes::merge_blocks(&mut p);
                        }
                        "optimize" => {
                            passes::optimize(&mut p);
                        }
                        other => return Err(format!("unknown pass `{other}`")),
                    }
                    verify_text(&p).map_err(|e| format!("after {pass}:\n{e}\n{p}"))?;
                }
                let printed = print_program(&p);
                let mut rest = printed.as_str();
                for want in &d.checks {
                    match rest.find(want.as_str()) {
                        Some(at) => rest = &rest[at + want.len()..],
                        None => {
                            return Err(format!(
                                "check `{want}` not found (in order) in:\n{printed}"
                            ))
                        }
                    }
                }
                for bad in &d.nots {
                    if printed.contains(bad.as_str()) {
                        return Err(format!("`{bad}` should not occur in:\n{printed}"));
                    }
                }
            }
            other => return Err(format!("unknown test `{other}`")),
        }
    }
    Ok(())
}

#[test]
fn filetests() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ir"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 8,
        "expected the data files in {}",
        dir.display()
    );
    let failures: Vec<String> = files
        .iter()
        .filter_map(|f| {
            run_file(f)
                .err()
                .map(|e| format!("{}: {e}", f.file_name().unwrap().to_string_lossy()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} files failed:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}
