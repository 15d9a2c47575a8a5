//! The error catalogue (dsl.md §19) and the DESIGN.md decisions: each case checks the
//! diagnostic kind and that the message names the table or key; expression errors also
//! check line and column.

mod common;
use common::*;
use dynlib_model::DiagKind as K;

// ---- [model] ----

#[test]
fn model_type_must_be_ode_or_map() {
    check_err_at(
        "[model]\ntype = \"weird\"\n[states]\n",
        K::InvalidValue,
        "[model].type must be 'ode' or 'map'",
        2,
        8,
    );
}

#[test]
fn model_table_required() {
    check_err(
        "[states]\nx = 1\n",
        K::Missing,
        "Missing required table [model]",
    );
    check_err("model = 3\n[states]\n", K::WrongType, "[model]");
}

#[test]
fn ode_needs_float_dtype() {
    check_err(
        "[model]\ntype=\"ode\"\ndtype=\"int32\"\n[states]\n",
        K::InvalidValue,
        "ODE models require a floating dtype",
    );
}

#[test]
fn dtype_aliases_and_errors() {
    let m = ok("[model]\ntype=\"ode\"\ndtype=\"double\"\n[states]\n");
    assert_eq!(m.dtype.as_str(), "float64");
    let m = ok("[model]\ntype=\"ode\"\ndtype=\"single\"\n[states]\n");
    assert_eq!(m.dtype.as_str(), "float32");
    let m = ok("[model]\ntype=\"map\"\ndtype=\"int64\"\n[states]\nn=27\n[equations.rhs]\nn=\"n//2 if n % 2 == 0 else 3*n + 1\"\n");
    assert_eq!(m.dtype.as_str(), "int64");
    check_err(
        "[model]\ntype=\"ode\"\ndtype=3\n[states]\n",
        K::WrongType,
        "[model].dtype must be a string",
    );
    check_err(
        "[model]\ntype=\"map\"\ndtype=\"float128\"\n[states]\n",
        K::InvalidValue,
        "'float128' is not supported",
    );
    check_err(
        "[model]\ntype=\"ode\"\ndtype=\"float16\"\n[states]\n",
        K::InvalidValue,
        "'float16' is not supported",
    );
}

#[test]
fn label_was_removed() {
    check_err(
        "[model]\ntype=\"ode\"\nlabel=\"x\"\n[states]\n",
        K::Removed,
        "[model].label is no longer supported; use [model].name",
    );
}

// ---- [states], [params], [constants] ----

#[test]
fn states_required() {
    check_err(
        "[model]\ntype=\"ode\"\n",
        K::Missing,
        "Missing required table [states]",
    );
}

#[test]
fn numeric_values() {
    let m = ok("[model]\ntype=\"ode\"\n[constants]\nk=2\nk2=\"k*3\"\n[states]\nx=\"1/2\"\n[params]\nb=\"8/4\"\nc=\"k2 + pi\"\n");
    assert_eq!(m.states[0].value.as_f64(), 0.5);
    assert_eq!(m.params[0].value, dynlib_model::expr::Number::Float(2.0));
    assert_eq!(m.params[1].value.as_f64(), 6.0 + std::f64::consts::PI);
}

#[test]
fn param_with_unknown_name() {
    check_err_at(
        "[model]\ntype=\"ode\"\n[states]\nx=1\n[params]\na=\"foo\"\n",
        K::Numeric,
        "[params].a contains unknown identifier 'foo'. Allowed constants: e, pi.",
        6,
        4,
    );
}

#[test]
fn numeric_value_errors() {
    check_err(
        "[model]\ntype=\"ode\"\n[states]\nx=[1]\n",
        K::WrongType,
        "[states].x must be a number or numeric expression string, got array",
    );
    check_err(
        "[model]\ntype=\"ode\"\n[states]\nx=\"\"\n",
        K::Numeric,
        "got empty string",
    );
    check_err(
        "[model]\ntype=\"ode\"\n[states]\nx=\"1/0\"\n",
        K::Numeric,
        "[states].x has a division by zero",
    );
    check_err(
        "[model]\ntype=\"ode\"\n[states]\nx=\"sin(1)\"\n",
        K::Numeric,
        "numbers and arithmetic operators",
    );
    // Decision: TOML booleans are not numbers (the reference accepted them by accident).
    check_err(
        "[model]\ntype=\"ode\"\n[states]\nx=true\n",
        K::WrongType,
        "got boolean",
    );
    check_err(
        "[model]\ntype=\"ode\"\n[states]\n[params]\na=1\nb=\"a*2\"\n",
        K::Numeric,
        "unknown identifier 'a'",
    );
}

#[test]
fn constants_forward_reference_is_an_error() {
    check_err(
        "[model]\ntype=\"ode\"\n[constants]\na=\"b*2\"\nb=1\n[states]\n",
        K::Numeric,
        "[constants].a contains unknown identifier 'b'",
    );
}

#[test]
fn reserved_names() {
    check_err(
        "[model]\ntype=\"ode\"\n[states]\npi=1\n",
        K::ReservedName,
        "[states] name(s) pi are reserved",
    );
    check_err(
        "[model]\ntype=\"ode\"\n[states]\nx=1\n[params]\npi=1\n",
        K::ReservedName,
        "[params] name(s) pi are reserved",
    );
    check_err(
        &with("[aux]\nt=\"x\"\n"),
        K::ReservedName,
        "[aux] name(s) t are reserved",
    );
    check_err(
        &with("[functions.pi]\nexpr=\"1\"\n"),
        K::ReservedName,
        "reserved",
    );
    check_err(
        "[model]\ntype=\"ode\"\n[constants]\ne=1\n[states]\n",
        K::ReservedName,
        "[constants] name(s) e are reserved",
    );
}

#[test]
fn constant_collisions() {
    check_err(
        "[model]\ntype=\"ode\"\n[constants]\nkb=1\n[states]\nkb=1\n",
        K::ConstantCollision,
        "kb is defined as a constant and cannot be reused as a state.",
    );
    check_err(
        "[model]\ntype=\"ode\"\n[constants]\nkb=1\n[states]\n[params]\nkb=1\n",
        K::ConstantCollision,
        "cannot be reused as a parameter.",
    );
    check_err(
        "[model]\ntype=\"ode\"\n[constants]\nkb=1\n[states]\n[aux]\nkb=\"1\"\n",
        K::ConstantCollision,
        "cannot be reused as an auxiliary variable.",
    );
}

#[test]
fn names_unique_across_sections() {
    check_err(
        "[model]\ntype=\"ode\"\n[states]\nx=1\n[params]\nV=1\n[aux]\nV=\"x\"\n",
        K::DuplicateName,
        "Identifiers must be unique across states/params/aux/functions/constants; conflicts: V (params, aux)",
    );
}

// ---- [equations] ----

#[test]
fn equations_shapes() {
    check_err(
        "[model]\ntype=\"ode\"\n[states]\nx=1\n[equations]\nrhs=3\n",
        K::WrongType,
        "[equations.rhs] must be a table of name = expr",
    );
    check_err(
        "[model]\ntype=\"ode\"\n[states]\nx=1\n[equations]\nexpr=3\n",
        K::WrongType,
        "[equations].expr must be a string block",
    );
    check_err(
        "equations=3\n[model]\ntype=\"ode\"\n[states]\nx=1\n",
        K::WrongType,
        "[equations] must be a table",
    );
    // Decision: a non-string rhs value is a model error (the reference crashed).
    check_err(
        "[model]\ntype=\"ode\"\n[states]\nx=1\n[equations.rhs]\nx=1.5\n",
        K::WrongType,
        "[equations.rhs].x must be a string expression",
    );
}

#[test]
fn unknown_equations_key_suggests() {
    check_err_at(
        "[model]\ntype=\"ode\"\n[states]\nx=1\n[equations]\nexprs=\"dx = -x\"\n",
        K::UnknownKey,
        "Unknown key(s) in [equations]: 'exprs' (did you mean 'expr'?)",
        6,
        1,
    );
}

#[test]
fn rhs_target_must_be_state() {
    check_err_at(
        "[model]\ntype=\"ode\"\n[states]\nx=1\n[equations.rhs]\nx=\"-x\"\nz=\"1\"\n",
        K::EquationTarget,
        "Equation targets must be declared in [states], unknown: ['z']",
        7,
        1,
    );
}

#[test]
fn block_forms() {
    let m = ok("[model]\ntype=\"ode\"\n[states]\nx=1\ny=2\nz=3\n[equations]\nexpr=\"\"\"\ndx = -x\n\nd( y ) = -y # trailing comment\n# full-line comment\nz = -z\n\"\"\"\n");
    assert_eq!(m.equations.len(), 3);
    check_err(
        "[model]\ntype=\"ode\"\n[states]\nx=1\n[equations]\nexpr=\"dx -a*x\"\n",
        K::BlockLine,
        "must contain '='",
    );
    let text = check_err(
        "[model]\ntype=\"ode\"\n[states]\nx=1\n[equations]\nexpr=\"dz = -x\"\n",
        K::EquationTarget,
        "unknown: ['dz']",
    );
    assert!(text.contains(":6:7"), "{text}");
    check_err(
        "[model]\ntype=\"ode\"\n[states]\nx=1\n[equations]\nexpr=\"dx = -x\"\n[equations.rhs]\nx=\"1\"\n",
        K::DuplicateTarget,
        "Duplicate equation targets across rhs and block: ['x']",
    );
    // Decision: a duplicate within a block is an error, not "last wins".
    check_err(
        "[model]\ntype=\"ode\"\n[states]\nx=1\n[equations]\nexpr=\"\"\"\ndx = 1\nx = 2\n\"\"\"\n",
        K::DuplicateTarget,
        "Duplicate equation target 'x'",
    );
}

#[test]
fn map_derivative_notation() {
    check_err(
        "[model]\ntype=\"map\"\n[states]\nx=1\n[equations]\nexpr=\"dx = x\"\n",
        K::MapDerivative,
        "Map models do not support derivative notation",
    );
    let m = ok("[model]\ntype=\"map\"\n[states]\ndelta=1\ndata=2\n[equations]\nexpr=\"\"\"\ndelta = delta/2\ndata = data + 1\n\"\"\"\n");
    assert_eq!(m.equations.len(), 2);
}

#[test]
fn ambiguous_ode_block_target() {
    check_err("[model]\ntype=\"ode\"\n[states]\nx=1\ndx=2\n[equations]\nexpr=\"\"\"\ndx = 1\nx = 2\n\"\"\"\n", K::EquationTarget, "Ambiguous target 'dx'");
}

#[test]
fn map_state_without_equation_is_an_error() {
    check_err(
        "[model]\ntype=\"map\"\n[states]\nx=1\ny=1\n[equations.rhs]\nx=\"y\"\n",
        K::EquationTarget,
        "map state 'y' has no equation",
    );
    // An ODE state without one holds its value, as in the reference.
    let m = ok("[model]\ntype=\"ode\"\n[states]\nx=1\ny=1\n[equations.rhs]\nx=\"y\"\n");
    assert_eq!(m.equations.len(), 1);
}

#[test]
fn inverse_only_for_maps() {
    check_err(
        &with("[equations.inverse.rhs]\nx=\"x\"\n"),
        K::InvalidValue,
        "[equations.inverse] is only supported for map models",
    );
    let map = "[model]\ntype=\"map\"\n[states]\nx=1\n[equations.rhs]\nx=\"2*x\"\n";
    let m = ok(&format!("{map}[equations.inverse.rhs]\nx=\"x/2\"\n"));
    assert_eq!(m.inverse.as_ref().unwrap().len(), 1);
    check_err(
        &format!("{map}[equations.inverse]\nfoo=1\n"),
        K::UnknownKey,
        "Unknown key(s) in [equations.inverse]: 'foo'",
    );
    check_err(
        &format!("{map}[equations.inverse.rhs]\nq=\"x/2\"\n"),
        K::EquationTarget,
        "Inverse equation targets must be declared in [states], unknown: ['q']",
    );
}

#[test]
fn jacobian_shape_and_entries() {
    let two = "[model]\ntype=\"ode\"\n[states]\nx=1\ny=1\n[equations.rhs]\nx=\"y\"\ny=\"-x\"\n";
    check_err(
        &format!("{two}[equations.jacobian]\nexpr=[[\"0\"]]\n"),
        K::JacobianShape,
        "must have 2 rows",
    );
    check_err(
        &format!("{two}[equations.jacobian]\nexpr=[[0, 1], [1]]\n"),
        K::JacobianShape,
        "[equations.jacobian].expr[1] must have 2 columns",
    );
    check_err(
        &format!("{two}[equations.jacobian]\nexpr=[[\"0\", \"unknown\"], [-1, 0]]\n"),
        K::UnknownIdentifier,
        "Unknown identifier(s) in [equations.jacobian].expr[0][1]: unknown",
    );
    check_err(
        &format!("{two}[equations.jacobian]\nexprs=[]\n"),
        K::UnknownKey,
        "'exprs' (did you mean 'expr'?)",
    );
    check_err(
        &format!("{two}[equations.jacobian]\nexpr=3\n"),
        K::WrongType,
        "must be a list of rows",
    );
    check_err(
        &format!("{two}[equations.jacobian]\nexpr=[3]\n"),
        K::WrongType,
        "[equations.jacobian].expr[0] must be a list",
    );
    check_err(
        &format!("{two}[equations.jacobian]\nexpr=[[true, 1], [0, 0]]\n"),
        K::WrongType,
        "[equations.jacobian].expr[0][0] must be a string",
    );
    let m = ok(&format!(
        "{two}[equations.jacobian]\nexpr=[[0, 1.0], [\"-1\", 0]]\n"
    ));
    assert_eq!(m.jacobian.unwrap().len(), 2);
}

// ---- expressions ----

#[test]
fn unknown_identifier_position() {
    check_err_at(
        "[model]\ntype=\"ode\"\n[states]\nx=1\n[equations.rhs]\nx = \"-a * x + b\"\n",
        K::UnknownIdentifier,
        "Unknown identifier(s) in [equations.rhs.x]: a, b.",
        6,
        7,
    );
}

#[test]
fn syntax_error_position_inside_block() {
    let src = "[model]\ntype=\"ode\"\n[states]\nx=1\ny=1\n[equations]\nexpr = \"\"\"\ndx = y\ndy = -x * (1 +\n\"\"\"\n";
    let text = check_err(src, K::Syntax, "[equations].expr");
    assert!(text.contains(":9:"), "{text}");
    assert!(text.contains("dy = -x * (1 +"), "{text}");
}

#[test]
fn syntax_error_position_with_escapes() {
    // The \t escape makes the raw text longer than the decoded one; the caret still lands.
    let src = "[model]\ntype=\"ode\"\n[states]\nx=1\n[equations.rhs]\nx = \"\\t-x $ 2\"\n";
    check_err_at(src, K::Syntax, "[equations.rhs.x]", 6, 11);
}

#[test]
fn unsupported_python() {
    check_err(&with("[aux]\nq=\"x[0]\"\n"), K::Unsupported, "[aux.q]");
    check_err(&with("[aux]\nq=\"x | 1\"\n"), K::Unsupported, "[aux.q]");
    check_err(&with("[aux]\nq=\"'s'\"\n"), K::Unsupported, "[aux.q]");
    check_err(
        &with("[aux]\nq=\"sum(x)\"\n"),
        K::Unsupported,
        "takes a generator",
    );
    check_err(&with("[aux]\nq=\"len(x)\"\n"), K::Unsupported, "len()");
    check_err(
        &with("[aux]\nq=\"randn()\"\n"),
        K::UnknownIdentifier,
        "randn",
    );
    check_err(&with("[aux]\nq=\"true\"\n"), K::UnknownIdentifier, "true");
}

#[test]
fn builtins_and_macros_arity() {
    check_err(
        &with("[aux]\nq=\"clip(x, 0)\"\n"),
        K::Arity,
        "clip() expects 3 arguments",
    );
    check_err(
        &with("[aux]\nq=\"sin(x, 1)\"\n"),
        K::Arity,
        "sin() expects 1 argument",
    );
    check_err(
        &with("[aux]\nq=\"min(x)\"\n"),
        K::Arity,
        "min() expects at least 2 arguments",
    );
    let m = ok(&with("[aux]\nq=\"sign(x) + heaviside(x) + step(x) + relu(x) + clip(x,0,1) + approx(x,1,0.1) + round(x) + math.sin(x) + max(x, 1, 2)\"\n"));
    assert_eq!(m.aux.len(), 1);
}

#[test]
fn generators() {
    let m = ok(&with("[aux]\ns=\"sum(i*i for i in range(4)) + prod((i+1) for i in range(1, 4, 2) if i > 0) + sum(sum(j for j in range(i)) for i in range(3))\"\n"));
    assert_eq!(m.aux.len(), 1);
    check_err(
        &with("[aux]\ns=\"sum(x for x in range(3))\"\n"),
        K::DuplicateName,
        "loop variable 'x'",
    );
}

// ---- [aux] and [functions] ----

#[test]
fn aux_any_order_but_no_cycles() {
    let m = ok(&with("[aux]\nb=\"c*2\"\nc=\"x+1\"\n"));
    assert_eq!(m.aux_order, vec![1, 0]);
    check_err(
        &with("[aux]\nA=\"B\"\nB=\"A\"\n"),
        K::Cycle,
        "Cyclic dependency detected involving",
    );
    check_err(
        &with("[aux]\nA=\"B\"\nB=\"C\"\nC=\"A\"\n"),
        K::Cycle,
        "Cyclic dependency detected involving",
    );
    check_err(
        &with("[aux]\nA=\"A + 1\"\n"),
        K::Cycle,
        "Cyclic dependency detected involving 'A'",
    );
    check_err(&with("[functions.f1]\nargs=[\"u\"]\nexpr=\"f2(u)\"\n[functions.f2]\nargs=[\"u\"]\nexpr=\"f1(u)\"\n"), K::Cycle, "Cyclic dependency");
    check_err(
        &with("[aux]\nA=\"g(x)\"\n[functions.g]\nargs=[\"u\"]\nexpr=\"u + A\"\n"),
        K::Cycle,
        "Cyclic dependency",
    );
    check_err(
        &with("[functions.f]\nargs=[\"n\"]\nexpr=\"f(n-1) if n > 0 else 1\"\n"),
        K::Cycle,
        "Cyclic dependency detected involving 'f'",
    );
    check_err(
        &with("[aux]\nk=3\n"),
        K::WrongType,
        "[aux].k must be a string expression",
    );
    check_err(&top("aux=3\n"), K::WrongType, "[aux] must be a table");
}

#[test]
fn function_argument_shadowing_an_aux_is_not_a_cycle() {
    // The reference found cycles by matching text and reported a false one here.
    let m = ok(&with(
        "[aux]\nA=\"f(x)\"\n[functions.f]\nargs=[\"A\"]\nexpr=\"A*2\"\n",
    ));
    assert_eq!(m.functions.len(), 1);
}

#[test]
fn function_signatures() {
    check_err(
        &with("[functions.f]\nargs=\"y\"\nexpr=\"y\"\n"),
        K::WrongType,
        "[functions.f].args must be a list of strings",
    );
    check_err(
        &with("[functions.f]\nargs=[\"y\", \"y\"]\nexpr=\"y\"\n"),
        K::FunctionSignature,
        "[functions.f].args must be unique",
    );
    check_err(
        &with("[functions.f]\nargs=[\"y\", \"2bad\"]\nexpr=\"y\"\n"),
        K::FunctionSignature,
        "[functions.f].args must be a list of identifiers",
    );
    check_err(
        &with("[functions.f]\nargs=[\"x\",\"not ident!\"]\nexpr=\"x\"\n"),
        K::FunctionSignature,
        "identifiers",
    );
    check_err(
        &with("[functions.f]\nargs=[\"y\"]\nexpr=123\n"),
        K::WrongType,
        "[functions.f].expr must be a string",
    );
    check_err(
        &top("functions = 3\n"),
        K::WrongType,
        "[functions] must be a table of subtables",
    );
}

#[test]
fn function_arity_is_checked() {
    let src = with("[functions.f]\nargs=[\"u\", \"v\"]\nexpr=\"u*v\"\n[aux]\nq=\"f(x)\"\n");
    check_err(
        &src,
        K::Arity,
        "f() takes 2 argument(s) (u, v) but 1 were given in [aux.q]",
    );
}

#[test]
fn user_function_may_not_shadow_builtins() {
    check_err(
        &with("[functions.step]\nargs=[\"u\"]\nexpr=\"u\"\n"),
        K::ReservedName,
        "builtin name",
    );
    check_err(
        &with("[functions.sin]\nargs=[\"u\"]\nexpr=\"u\"\n"),
        K::ReservedName,
        "builtin name",
    );
    check_err(
        &with("[functions.lag_x]\nexpr=\"1\"\n"),
        K::ReservedName,
        "lag_",
    );
}

#[test]
fn functions_args_shadow_model_names() {
    let m = ok(&with(
        "[functions.f]\nargs=[\"x\"]\nexpr=\"x*a\"\n[aux]\nq=\"f(2)\"\n",
    ));
    assert_eq!(m.functions[0].args, ["x"]);
}

// ---- events ----

#[test]
fn event_phase() {
    check_err(
        &with("[events.e]\ncond=\"x>1\"\nphase=\"now\"\n"),
        K::InvalidValue,
        "must be 'start'|'end'|'both'",
    );
    check_err(
        &with("[events.e]\ncond=\"x>1\"\nphase=\"pre\"\n"),
        K::Removed,
        "pre is deprecated. Use start for event phase.",
    );
    check_err(
        &with("[events.e]\ncond=\"x>1\"\nphase=\"post\"\n"),
        K::Removed,
        "post is deprecated. Use end for event phase.",
    );
    let m = ok(&with("[events.e]\ncond=\"x>1\"\n"));
    assert_eq!(m.events[0].phase, dynlib_model::Phase::End);
}

#[test]
fn event_cond_and_log_types() {
    check_err(
        &with("[events.e]\ncond=1.5\n"),
        K::WrongType,
        "[events.e].cond must be a string expression",
    );
    check_err(
        &with("[events.e]\naction=\"x=0\"\n"),
        K::Missing,
        "[events.e].cond",
    );
    check_err(
        &with("[events.e]\ncond=\"x>1\"\nlog=[1,2]\n"),
        K::WrongType,
        "[events.e].log must be a list of strings",
    );
    check_err(
        &with("[events.e]\ncond=\"x>1\"\nrecord=true\n"),
        K::Removed,
        "[events.e].record is no longer supported",
    );
    check_err(
        &top("events=3\n"),
        K::WrongType,
        "[events] must be a table of named event subtables",
    );
    check_err(
        &with("[events]\ne=3\n"),
        K::WrongType,
        "[events.e] must be a table",
    );
    check_err(
        &with("[events.e]\ncond=\"x>1\"\naction=3\n"),
        K::WrongType,
        "[events.e].action must be a string block or a table",
    );
}

#[test]
fn empty_cond_is_an_error() {
    check_err(
        &with("[events.e]\ncond=\"\"\n"),
        K::InvalidValue,
        "[events.e].cond must not be empty",
    );
}

#[test]
fn event_targets() {
    check_err(
        &with("[events.e]\ncond=\"x>1\"\naction.zz=\"0\"\n"),
        K::IllegalAssignment,
        "[events.e] may mutate only states/params; illegal: ['zz']",
    );
    check_err(
        &with("[aux]\nmy_aux=\"x\"\n[events.e]\ncond=\"x>1\"\naction.my_aux=\"0\"\n"),
        K::IllegalAssignment,
        "illegal: ['my_aux']",
    );
    check_err(
        &with("[events.e]\ncond=\"x>1\"\naction.x=1\n"),
        K::WrongType,
        "[events.e].action.x must be a string expression",
    );
    // Block action targets are checked at load time too (the reference raised ValueError late).
    check_err(
        &with("[events.e]\ncond=\"x>1\"\naction=\"\"\"\nx = 0\nE = 1\n\"\"\"\n"),
        K::IllegalAssignment,
        "illegal: ['E']",
    );
    check_err(
        &with("[events.e]\ncond=\"x>1\"\naction=\"x += 1\"\n"),
        K::IllegalAssignment,
        "illegal: ['x +']",
    );
    let m = ok(&with(
        "[events.e]\ncond=\"x>1\"\naction=\"\"\"\nx = a\na = x\n\"\"\"\n",
    ));
    assert_eq!(m.events[0].actions.len(), 2);
}

#[test]
fn event_logs() {
    let m = ok(&with("[aux]\nE=\"x*x\"\n[events.e]\ncond=\"x>1\"\nlog=[\"t\", \"x\", \"a\", \"E\", \"state:x\", \"param:a\", \"aux:E\"]\n"));
    assert_eq!(m.events[0].log.len(), 7);
    check_err(
        &with("[events.e]\ncond=\"x>1\"\nlog=[\"x+y\"]\n"),
        K::InvalidLog,
        "Unknown signal in log specification: 'x+y'",
    );
    check_err(
        &with("[events.e]\ncond=\"x>1\"\nlog=[\"foo:x\"]\n"),
        K::InvalidLog,
        "Unknown log signal prefix: 'foo'",
    );
    check_err(
        &with("[events.e]\ncond=\"x>1\"\nlog=[\"param:zz\"]\n"),
        K::InvalidLog,
        "Unknown parameter in log signal",
    );
}

#[test]
fn event_tags() {
    check_err(
        &with("[events.e]\ncond=\"x>1\"\ntags=[\"123invalid\"]\n"),
        K::InvalidTag,
        "tag '123invalid' is invalid",
    );
    check_err(
        &with("[events.e]\ncond=\"x>1\"\ntags=[\"tag@invalid\"]\n"),
        K::InvalidTag,
        "tag 'tag@invalid' is invalid",
    );
    check_err(
        &with("[events.e]\ncond=\"x>1\"\ntags=[\"\"]\n"),
        K::InvalidTag,
        "tag cannot be empty",
    );
    check_err(
        &with("[events.e]\ncond=\"x>1\"\ntags=[\"valid\", 123]\n"),
        K::WrongType,
        "tags must be a list of strings",
    );
    let m = ok(&with(
        "[events.third]\ncond=\"x>1\"\ntags=[\"common\"]\n[events.first]\ncond=\"x>2\"\ntags=[\"zebra\",\"alpha\",\"alpha\",\"beta\",\"common\"]\n[events.second]\ncond=\"x>3\"\ntags=[\"common\"]\n",
    ));
    assert_eq!(m.events[1].tags, ["alpha", "beta", "common", "zebra"]);
    let common = m.tag_index.iter().find(|(t, _)| t == "common").unwrap();
    assert_eq!(common.1, vec![0, 1, 2]);
}

// ---- lags and event macros ----

#[test]
fn lags() {
    let m = ok("[model]\ntype=\"ode\"\n[states]\nx=1\nu=0\n[equations.rhs]\nx=\"lag_x(4) - x\"\nu=\"lag_u()\"\n[aux]\nq=\"lag_u(5)\"\n[events.e]\ncond=\"lag_x(2) > 0\"\n");
    assert_eq!(m.lag_depths, vec![4, 5]);
    assert!(m.equations_use_lag);
    check_err(
        &with("[aux]\nq=\"lag_a(2)\"\n"),
        K::Lag,
        "'a' is not a declared state",
    );
    check_err(
        &with("[aux]\nq=\"lag_x(0)\"\n"),
        K::Lag,
        "Lag depth must be positive, got lag_x(0)",
    );
    check_err(
        &with("[aux]\nq=\"lag_x(1001)\"\n"),
        K::Lag,
        "Lag depth 1001 exceeds sanity limit (1000) for lag_x",
    );
    check_err(
        &with("[aux]\nq=\"lag_x(2+1)\"\n"),
        K::Lag,
        "lag_x() expects no args or a single integer literal",
    );
    check_err(
        &with("[aux]\nq=\"lag_x(1.5)\"\n"),
        K::Lag,
        "single integer literal",
    );
    let m = ok(&with("[aux]\nq=\"lag_x(1000)\"\n"));
    assert_eq!(m.lag_depths, vec![1000]);
}

#[test]
fn lags_found_on_the_tree_not_text() {
    // The reference treated flag_x(1) as a lag request on x.
    let m = ok(&with(
        "[functions.flag_x]\nargs=[\"u\"]\nexpr=\"u\"\n[aux]\nq=\"flag_x(1)\"\n",
    ));
    assert_eq!(m.lag_depths, vec![0]);
    assert!(!m.uses_lag());
}

#[test]
fn event_macros_need_states() {
    check_err(
        &with("[events.e]\ncond=\"cross_up(a, 0.0)\"\n"),
        K::MacroArgument,
        "declared state",
    );
    check_err(
        &with("[events.e]\ncond=\"cross_up(x + 1, 0.0)\"\n"),
        K::MacroArgument,
        "state identifier",
    );
    let m = ok(&with(
        "[events.e]\ncond=\"cross_up(x, 0.5) or in_interval(a, 0, 1)\"\n",
    ));
    assert_eq!(m.lag_depths, vec![1]);
    let m = ok(&with("[events.e]\ncond=\"in_interval(x, 0, 1)\"\n"));
    assert_eq!(m.lag_depths, vec![0]);
}

// ---- [sim] ----

#[test]
fn sim_defaults_and_stop() {
    let m = ok(&with("[sim]\nt0=1\nt_end=5.0\ndt=0.1\nstepper=\"euler\"\nrecord=false\nmax_steps=10\nsafety=0.8\nstop=\"x > 0.8\"\n"));
    assert_eq!(m.sim.t0, 1.0);
    assert_eq!(m.sim.stepper.as_deref(), Some("euler"));
    assert!(!m.sim.record);
    assert_eq!(m.sim.max_steps, 10);
    assert_eq!(m.sim.extras[0].0, "safety");
    assert!(m.sim.stop.is_some());
    check_err(
        &with("[sim.stop]\ncond=\"x > 1\"\nphase=\"pre\"\n"),
        K::Sim,
        "phase must be 'post'",
    );
    check_err(
        &with("[sim.stop]\ncond=\"x > 1\"\nphase=\"both\"\n"),
        K::Sim,
        "phase must be 'post'",
    );
    check_err(
        &with("[sim.stop]\ncond=\"\"\n"),
        K::Sim,
        "[sim.stop].cond must be a non-empty string",
    );
    check_err(
        &with("[sim]\nstop=3\n"),
        K::Sim,
        "[sim].stop must be a table ([sim.stop]) or a string expression",
    );
    check_err(
        &with("[sim]\nstop=\"zz > 1\"\n"),
        K::UnknownIdentifier,
        "[sim].stop: zz",
    );
    check_err(
        &with("[sim.stop]\ncond=\"zz > 1\"\n"),
        K::UnknownIdentifier,
        "[sim.stop].cond: zz",
    );
    check_err(
        &with("[sim]\ndt=\"fast\"\n"),
        K::Sim,
        "[sim].dt must be a number",
    );
    check_err(&top("sim=3\n"), K::WrongType, "[sim] must be a table");
}

// ---- [presets] ----

#[test]
fn presets() {
    let m = ok(&with("[presets.p]\nparams={a=3}\nstates={x=0.5}\n"));
    assert_eq!(
        m.presets[0].params,
        vec![(0, dynlib_model::expr::Number::Int(3))]
    );
    check_err(
        &with("[presets.p]\nparams={zz=3}\n"),
        K::Preset,
        "[presets.p].params contains unknown parameter(s): ['zz']. Valid params: ['a']",
    );
    check_err(
        &with("[presets.p]\nstates={q=3}\n"),
        K::Preset,
        "unknown state(s): ['q']",
    );
    check_err(
        &with("[presets.p]\nparams={a=\"3\"}\n"),
        K::Preset,
        "[presets.p].params.a must be a number, got string",
    );
    check_err(
        &with("[presets.p]\nparams={}\n"),
        K::Preset,
        "[presets.p] must define at least one param or state",
    );
    check_err(
        &with("[presets.p]\nparams=3\n"),
        K::WrongType,
        "[presets.p].params must be a table",
    );
    check_err(
        &top("presets=3\n"),
        K::WrongType,
        "[presets] must be a table of named preset subtables",
    );
}

// ---- TOML and shebang ----

#[test]
fn toml_syntax_error_report() {
    let errs = errors("[model]\ntype = \"ode\"\n[params]\nbeta=8/3\n[states]\n");
    let text = errs.to_string();
    assert!(errs.has(K::TomlSyntax));
    for needle in [
        "Failed to parse inline model",
        ">>>",
        "^",
        "Hint:",
        "Division (/) in numeric values",
        "beta=8/3",
        "[params]",
        "[states]",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn many_problems_reported_together() {
    let errs = errors("[model]\ntype=\"ode\"\n[states]\nx=1\n[equations.rhs]\nx=\"q\"\n[aux]\nA=\"w\"\n[events.e]\ncond=\"x>1\"\ntags=[\"1\"]\n");
    assert!(errs.diagnostics.len() >= 3, "{errs}");
}

// ---- Hostile and careless input (issue 8) ----

/// A chain of `levels` aux (or functions) each using the next level twice: exponential to
/// traverse naively (2^levels), linear with memoisation.
fn doubling_chain(levels: usize, functions: bool) -> String {
    let mut src = String::from("[model]\ntype='ode'\n[states]\nx=1.0\n[equations.rhs]\n");
    if functions {
        src.push_str("x='-x + 1e-30*f0(x)'\n");
        for i in 0..levels {
            src.push_str(&format!(
                "[functions.f{i}]\nargs=['u']\nexpr='f{}(u) * f{}(u)'\n",
                i + 1,
                i + 1
            ));
        }
        src.push_str(&format!(
            "[functions.f{levels}]\nargs=['u']\nexpr='lag_x(1) + u'\n"
        ));
    } else {
        src.push_str("x='-x + 1e-30*a0'\n[aux]\n");
        for i in 0..levels {
            src.push_str(&format!("a{i} = 'a{} * a{}'\n", i + 1, i + 1));
        }
        src.push_str(&format!("a{levels} = 'lag_x(1)'\n"));
    }
    src
}

#[test]
fn deep_aux_and_function_chains_validate_in_linear_time() {
    // 2^60 visits would never finish; a linear traversal takes microseconds.
    for functions in [false, true] {
        let m = ok(&doubling_chain(60, functions));
        assert!(
            m.equations_use_lag,
            "the lag at the bottom of the chain is found"
        );
    }
}

#[test]
fn sim_values_a_run_would_refuse_are_model_errors_with_a_location() {
    for (sim, fragment) in [
        (
            "t_end = inf",
            "[sim].t_end must be a finite number, got inf",
        ),
        ("t_end = nan", "[sim].t_end must be a finite number"),
        ("t0 = -inf", "[sim].t0 must be a finite number"),
        (
            "atol = -1",
            "[sim].atol must be a finite number >= 0, got -1",
        ),
        ("rtol = nan", "[sim].rtol must be a finite number >= 0"),
        (
            "max_steps = 0",
            "[sim].max_steps must be a whole number from 1",
        ),
        (
            "max_steps = 1e30",
            "[sim].max_steps must be a whole number from 1",
        ),
        ("dt = -0.1", "[sim].dt must be a positive finite number"),
    ] {
        let src = format!(
            "[model]\ntype='ode'\n[states]\nx=1.0\n[equations.rhs]\nx='-x'\n[sim]\n{sim}\n"
        );
        let text = check_err(&src, K::Sim, fragment);
        assert!(
            text.contains(":8:"),
            "{sim}: the error points at the line: {text}"
        );
    }
    let text = check_err(
        "[model]\ntype='ode'\n[states]\nx=1.0\n[equations.rhs]\nx='-x'\n[sim]\nt0 = 5.0\nt_end = 1.0\n",
        K::Sim,
        "[sim].t_end = 1 is before [sim].t0 = 5",
    );
    assert!(text.contains(":9:"), "{text}");
    // A map never uses [sim].t_end as a horizon unless asked: no error.
    ok("[model]\ntype='map'\n[states]\nx=1.0\n[equations.rhs]\nx='x'\n[sim]\nt0 = 5.0\nt_end = 1.0\n");
}

#[test]
fn a_table_written_as_a_key_under_another_header_is_located() {
    let text = check_err(
        "[model]\ntype = 'ode'\nstates = 5\n",
        K::Missing,
        "Missing required table [states]: the `states` key here belongs to [model]",
    );
    assert!(text.contains(":3:1"), "{text}");
    assert!(text.contains("help:"), "{text}");
    // Written at the top level with the wrong type: said so, at the key.
    check_err_at(
        "states = 5\n[model]\ntype = 'ode'\n",
        K::WrongType,
        "must be a table",
        1,
        10,
    );
}

#[test]
fn long_lines_and_control_characters_are_shown_safely() {
    let long = format!(
        "[model]\ntype='ode'\n[states]\nx=1.0\n[equations.rhs]\nx='{} $ {}'\n",
        "x + ".repeat(200_000),
        "+ x".repeat(200_000)
    );
    let errs = errors(&long);
    let text = errs.to_string();
    assert!(
        text.len() < 2000,
        "a window, not the whole 1 MB line: {} bytes",
        text.len()
    );
    // An event name with an escape sequence (a TOML `\u001b` decodes to ESC) appears in
    // the message: escaped, never raw.
    let escaped = errors(
        "[model]\ntype='ode'\n[states]\nx=1.0\n[equations.rhs]\nx='-x'\n[events.\"e\\u001b[2J\"]\ncond='zz < 1'\n",
    )
    .to_string();
    assert!(!escaped.contains('\u{1b}'), "{escaped:?}");
    assert!(escaped.contains("\\u{1b}[2J"), "{escaped}");
}

#[test]
fn model_show_escapes_nothing_itself_but_the_cli_does() {
    // `show` returns the model's text as is (it is data); printing goes through
    // `diag::printable`, which escapes control characters and direction overrides.
    let m = ok(
        "[model]\ntype='ode'\nname=\"\\u001b[31mred\"\n[states]\nx=1.0\n[equations.rhs]\nx='-x'\n",
    );
    assert!(m.show().contains('\u{1b}'));
    let shown = dynlib_model::diag::printable(&m.show()).into_owned();
    assert!(
        !shown.contains('\u{1b}') && shown.contains("\\u{1b}[31mred"),
        "{shown}"
    );
}

// ---- misspellings of keys the reference would ignore ----

#[test]
fn misspelled_tables_and_keys_are_errors_not_silently_ignored() {
    let base = "[model]\ntype=\"ode\"\n[states]\nx=1.0\n[equations.rhs]\nx=\"-k*x\"\n";
    check_err(
        &format!("{base}[param]\nk=2.0\n"),
        K::UnknownKey,
        "Unknown table [param] (did you mean [params]?)",
    );
    check_err(
        "[model]\ntype=\"ode\"\ndtyp=\"float32\"\n[states]\nx=1.0\n[equations.rhs]\nx=\"-x\"\n",
        K::UnknownKey,
        "Unknown key in [model]: 'dtyp' (did you mean 'dtype'?)",
    );
    check_err(
        &format!("{base}[params]\nk=2.0\n[events.e]\ncond=\"x < 0.5\"\nacton=\"x = 1.0\"\n"),
        K::UnknownKey,
        "'acton' (did you mean 'action'?)",
    );
    check_err(
        &format!("{base}[params]\nk=2.0\n[functions.f]\nargs=[\"u\"]\nexp=\"u\"\n"),
        K::UnknownKey,
        "'exp' (did you mean 'expr'?)",
    );
    // Keys unlike any valid one stay ignored, as in the reference ([meta], notes).
    ok(&format!(
        "{base}[params]\nk=2.0\n[meta]\nauthor=\"someone\"\n[events.e]\ncond=\"x < 0.5\"\naction=\"x = 1.0\"\ndescription=\"reset\"\n"
    )); // Nor do a user's own tables and notes that merely resemble a valid key.
    for extra in [
        "[tests]\nt=1\n",
        "[options]\no=1\n",
        "[bounds]\nb=1\n",
        "[tags]\nt=1\n",
        "[stats]\ns=1\n",
        "[vars]\nv=1\n",
        "[model.notes]\ndate=\"2026\"\n",
    ] {
        ok(&format!("{base}[params]\nk=2.0\n{extra}"));
    }
    for note in ["date=1", "count=1", "active=true", "direction=\"up\""] {
        ok(&format!(
            "{base}[params]\nk=2.0\n[events.e]\ncond=\"x < 0.5\"\naction=\"x = 1.0\"\n{note}\n"
        ));
    }
    // But a wrong case, or one swapped pair of letters, is a slip.
    check_err(
        &format!("{base}[Params]\nk=2.0\n"),
        K::UnknownKey,
        "Unknown table [Params] (did you mean [params]?)",
    );
    check_err(
        &format!("{base}[params]\nk=2.0\n[events.e]\ncodn=\"x < 0.5\"\naction=\"x = 1.0\"\n"),
        K::UnknownKey,
        "'codn' (did you mean 'cond'?)",
    );
}
