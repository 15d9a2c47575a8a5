//! The verifier: one test per check, each asserting the entity the error is attached to.
//! Programs are written as text where the text can express the fault (the parser checks
//! only syntax and names), and built by hand where it cannot.

mod common;

use dynlib_ir::verify::Entity;
use dynlib_ir::*;

fn program(text: &str) -> Program {
    parse_program(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// A one-function program `@f` with this signature and body (block lines).
fn func(sig: &str, body: &str) -> Program {
    program(&format!("function @f{sig} {{\n{body}}}\n"))
}

/// Asserts that verification fails with an error on `entity` whose message contains
/// `needle`, and that its display names the function and the entity.
fn assert_error(p: &Program, entity: Entity, needle: &str) {
    let errors = verify_program(p).expect_err("the verifier should reject this");
    let found = errors
        .iter()
        .any(|e| e.entity == entity && e.message.contains(needle));
    let list: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert!(
        found,
        "no error on {entity} containing `{needle}`; got:\n{}\n\n{p}",
        list.join("\n")
    );
    let e = errors.iter().find(|e| e.entity == entity).unwrap();
    assert!(e
        .to_string()
        .starts_with(&format!("@{}: {entity}: ", e.function)));
}

#[test]
fn accepts_a_well_formed_loop() {
    let p = func(
        "(i64) -> (i64)",
        "block0(v0: i64):\n    v1:i64 = const 0\n    jump block1(v1)\nblock1(v2: i64):\n    v3:bool = cmp lt v2, v0\n    brif v3, block2, block3\nblock2:\n    v4:i64 = const 1\n    v5:i64 = add v2, v4\n    jump block1(v5)\nblock3:\n    return v2\n",
    );
    assert_eq!(verify_program(&p), Ok(()));
    assert_eq!(verify_function(&p, FuncId(0)), Ok(()));
}

// ---- blocks and terminators ----

#[test]
fn block_must_end_with_a_terminator() {
    let p = func("() -> ()", "block0:\n    v0:f64 = const 1.0\n");
    assert_error(
        &p,
        Entity::Block(Block(0)),
        "does not end with a terminator",
    );
}

#[test]
fn terminator_only_at_the_end() {
    let p = func("() -> ()", "block0:\n    return\n    return\n");
    let errors = verify_program(&p).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_error(
        &p,
        Entity::Inst(Inst(0)),
        "terminator in the middle of block0",
    );
}

#[test]
fn block_must_not_be_empty() {
    let p = func("() -> ()", "block0:\n    jump block1\nblock1:\n");
    assert_error(&p, Entity::Block(Block(1)), "is empty");
}

#[test]
fn function_must_have_blocks() {
    let p = func("() -> ()", "");
    assert_error(&p, Entity::Function, "has no blocks");
}

#[test]
fn entry_parameters_match_the_signature() {
    let p = func("(f64, f64) -> ()", "block0(v0: f64):\n    return\n");
    assert_error(
        &p,
        Entity::Block(Block(0)),
        "the entry block has 1 parameters but the signature has 2",
    );
    let p = func("(f64) -> ()", "block0(v0: i64):\n    return\n");
    assert_error(
        &p,
        Entity::Value(Value(0)),
        "entry parameter 0 has type i64 but the signature says f64",
    );
}

#[test]
fn nothing_jumps_to_the_entry() {
    let p = func(
        "() -> ()",
        "block0:\n    jump block1\nblock1:\n    jump block0\n",
    );
    assert_error(&p, Entity::Inst(Inst(1)), "jumps to the entry block0");
}

// ---- SSA ----

#[test]
fn operands_must_exist() {
    let mut p = func("(f64) -> (f64)", "block0(v0: f64):\n    return v0\n");
    p.functions[0].insts[0] = InstData::Return {
        args: vec![Value(9)],
    };
    assert_error(&p, Entity::Inst(Inst(0)), "uses v9, which does not exist");
}

#[test]
fn jump_targets_and_callees_must_exist() {
    let mut p = func("() -> ()", "block0:\n    return\n");
    p.functions[0].insts[0] = InstData::Jump {
        dest: BlockCall {
            block: Block(4),
            args: vec![],
        },
    };
    assert_error(
        &p,
        Entity::Inst(Inst(0)),
        "jumps to block4, which does not exist",
    );
    let mut p = func("() -> ()", "block0:\n    return\n");
    let f = &mut p.functions[0];
    f.insts.insert(
        0,
        InstData::Call {
            func: FuncId(3),
            args: vec![],
        },
    );
    f.results.insert(0, vec![]);
    f.blocks[0].insts = vec![Inst(0), Inst(1)];
    assert_error(
        &p,
        Entity::Inst(Inst(0)),
        "calls fn3, which is not a function of the program",
    );
}

#[test]
fn definition_must_dominate_use_across_blocks() {
    let p = func(
        "(bool) -> (f64)",
        "block0(v0: bool):\n    brif v0, block1, block2\nblock1:\n    v1:f64 = const 1.0\n    jump block3\nblock2:\n    jump block3\nblock3:\n    return v1\n",
    );
    assert_error(
        &p,
        Entity::Inst(Inst(4)),
        "uses v1, defined in block1, which does not dominate block3",
    );
}

#[test]
fn definition_must_come_before_use_in_a_block() {
    let p = func(
        "(f64) -> (f64)",
        "block0(v0: f64):\n    v1:f64 = neg v2\n    v2:f64 = neg v0\n    return v1\n",
    );
    assert_error(
        &p,
        Entity::Inst(Inst(0)),
        "uses v2 before its definition in block0",
    );
}

#[test]
fn unreachable_blocks_may_use_values_of_other_blocks() {
    // As in LLVM: code that never runs is dominated by everything.
    let p = func(
        "() -> (f64)",
        "block0:\n    v0:f64 = const 1.0\n    return v0\nblock1:\n    v1:f64 = const 2.0\n    jump block2\nblock2:\n    return v1\n",
    );
    assert_eq!(verify_program(&p), Ok(()));
}

#[test]
fn value_definitions_must_match_their_place() {
    let mut p = func(
        "(f64) -> (f64)",
        "block0(v0: f64):\n    v1:f64 = neg v0\n    return v1\n",
    );
    p.functions[0].values[1].def = ValueDef::Result(Inst(1), 0);
    assert_error(
        &p,
        Entity::Value(Value(1)),
        "is result 0 of inst0 but its definition says result 0 of inst1",
    );
    let mut p = func("(f64) -> (f64)", "block0(v0: f64):\n    return v0\n");
    p.functions[0].values[0].def = ValueDef::Param(Block(0), 3);
    assert_error(
        &p,
        Entity::Value(Value(0)),
        "is parameter 0 of block0 but its definition says parameter 3 of block0",
    );
}

#[test]
fn an_instruction_is_in_one_block_only() {
    let mut p = func(
        "() -> ()",
        "block0:\n    v0:f64 = const 1.0\n    jump block1\nblock1:\n    return\n",
    );
    p.functions[0].blocks[1].insts.insert(0, Inst(0));
    assert_error(&p, Entity::Inst(Inst(0)), "is in both block0 and block1");
}

#[test]
fn operands_defined_by_removed_instructions_are_rejected() {
    let mut p = func(
        "() -> (f64)",
        "block0:\n    v0:f64 = const 1.0\n    return v0\n",
    );
    p.functions[0].blocks[0].insts.remove(0);
    assert_error(
        &p,
        Entity::Inst(Inst(1)),
        "uses v0, defined by inst0, which is in no block",
    );
}

#[test]
fn function_names_are_unique() {
    let p = program("function @f() -> () {\nblock0:\n    return\n}\n");
    let mut q = p.clone();
    q.add(p.functions[0].clone());
    assert_error(&q, Entity::Function, "another function is also named @f");
}

// ---- results and types ----

#[test]
fn result_count_matches_the_opcode() {
    let p = func(
        "(f64) -> ()",
        "block0(v0: f64):\n    v1:f64, v2:f64 = add v0, v0\n    return\n",
    );
    assert_error(&p, Entity::Inst(Inst(0)), "has 2 results but should have 1");
    let p = func("(ptr<f64>, f64) -> ()", "block0(v0: ptr<f64>, v1: f64):\n    v2:i64 = const 0\n    v3:f64 = store v0, v2, v1\n    return\n");
    assert_error(&p, Entity::Inst(Inst(1)), "has 1 results but should have 0");
}

#[test]
fn constant_bits_fit_the_type() {
    for (ty, bits, needle) in [
        ("bool", "2", "bits 0x2 are not a valid bool constant"),
        (
            "i32",
            "4294967295",
            "bits 0xffffffff are not a valid i32 constant",
        ),
        (
            "f32",
            "0x100000000",
            "bits 0x100000000 are not a valid f32 constant",
        ),
        (
            "ptr<f64>",
            "0",
            "a constant cannot have pointer type ptr<f64>",
        ),
    ] {
        let p = func(
            "() -> ()",
            &format!("block0:\n    v0:{ty} = const {bits}\n    return\n"),
        );
        assert_error(&p, Entity::Inst(Inst(0)), needle);
    }
}

#[test]
fn binary_operands_have_the_result_type() {
    let p = func(
        "(f64, i64) -> ()",
        "block0(v0: f64, v1: i64):\n    v2:f64 = add v0, v1\n    return\n",
    );
    assert_error(
        &p,
        Entity::Inst(Inst(0)),
        "add operands must both have the result type f64, found f64 and i64",
    );
    let p = func(
        "(f64) -> ()",
        "block0(v0: f64):\n    v1:i64 = mul v0, v0\n    return\n",
    );
    assert_error(
        &p,
        Entity::Inst(Inst(0)),
        "mul operands must both have the result type i64",
    );
}

#[test]
fn binary_operators_have_their_types() {
    for (ty, op, needle) in [
        ("i64", "div", "div works on floats, not i64"),
        ("f64", "and", "and works on bools, not f64"),
        ("i32", "or", "or works on bools, not i32"),
        ("bool", "floordiv", "floordiv works on numbers, not bool"),
        ("bool", "mod", "mod works on numbers, not bool"),
        ("bool", "add", "add works on numbers, not bool"),
        ("ptr<f64>", "sub", "sub works on numbers, not ptr<f64>"),
    ] {
        let p = func(
            &format!("({ty}) -> ()"),
            &format!("block0(v0: {ty}):\n    v1:{ty} = {op} v0, v0\n    return\n"),
        );
        assert_error(&p, Entity::Inst(Inst(0)), needle);
    }
}

#[test]
fn unary_operators_have_their_types() {
    let p = func(
        "(bool) -> ()",
        "block0(v0: bool):\n    v1:bool = neg v0\n    return\n",
    );
    assert_error(&p, Entity::Inst(Inst(0)), "neg needs a number, found bool");
    let p = func(
        "(f64) -> ()",
        "block0(v0: f64):\n    v1:f64 = not v0\n    return\n",
    );
    assert_error(&p, Entity::Inst(Inst(0)), "not needs a bool, found f64");
    let p = func(
        "(f64) -> ()",
        "block0(v0: f64):\n    v1:f32 = neg v0\n    return\n",
    );
    assert_error(
        &p,
        Entity::Inst(Inst(0)),
        "result type f32 differs from the operand type f64",
    );
}

#[test]
fn comparisons_take_same_typed_scalars_and_give_bool() {
    let p = func(
        "(f64, f32) -> ()",
        "block0(v0: f64, v1: f32):\n    v2:bool = cmp eq v0, v1\n    return\n",
    );
    assert_error(
        &p,
        Entity::Inst(Inst(0)),
        "cmp operands must have the same type, found f64 and f32",
    );
    let p = func(
        "(ptr<f64>) -> ()",
        "block0(v0: ptr<f64>):\n    v1:bool = cmp eq v0, v0\n    return\n",
    );
    assert_error(&p, Entity::Inst(Inst(0)), "cannot compare pointers");
    let p = func(
        "(f64) -> ()",
        "block0(v0: f64):\n    v1:i64 = cmp lt v0, v0\n    return\n",
    );
    assert_error(&p, Entity::Inst(Inst(0)), "cmp gives a bool, not i64");
}

#[test]
fn select_needs_a_bool_and_matching_arms() {
    let p = func(
        "(f64) -> ()",
        "block0(v0: f64):\n    v1:f64 = select v0, v0, v0\n    return\n",
    );
    assert_error(
        &p,
        Entity::Inst(Inst(0)),
        "select condition must be bool, found f64",
    );
    let p = func(
        "(bool, f64, i64) -> ()",
        "block0(v0: bool, v1: f64, v2: i64):\n    v3:f64 = select v0, v1, v2\n    return\n",
    );
    assert_error(
        &p,
        Entity::Inst(Inst(0)),
        "select arms must both have the result type f64, found f64 and i64",
    );
}

#[test]
fn pointers_do_not_convert() {
    let p = func(
        "(ptr<f64>) -> ()",
        "block0(v0: ptr<f64>):\n    v1:i64 = convert v0\n    return\n",
    );
    assert_error(&p, Entity::Inst(Inst(0)), "cannot convert ptr<f64> to i64");
    let p = func(
        "(i64) -> ()",
        "block0(v0: i64):\n    v1:ptr<i64> = convert v0\n    return\n",
    );
    assert_error(&p, Entity::Inst(Inst(0)), "cannot convert i64 to ptr<i64>");
}

#[test]
fn math_takes_its_arity_of_one_float_type_and_gives_it() {
    let p = func(
        "(f64) -> ()",
        "block0(v0: f64):\n    v1:f64 = math atan2 v0\n    return\n",
    );
    assert_error(
        &p,
        Entity::Inst(Inst(0)),
        "math atan2 takes 2 arguments, found 1",
    );
    let p = func(
        "(f32) -> ()",
        "block0(v0: f32):\n    v1:f64 = math sin v0\n    return\n",
    );
    assert_error(
        &p,
        Entity::Inst(Inst(0)),
        "math arguments must be f64 like its result, but v0 is f32",
    );
    let p = func(
        "(f64) -> ()",
        "block0(v0: f64):\n    v1:f32 = math sqrt v0\n    return\n",
    );
    assert_error(
        &p,
        Entity::Inst(Inst(0)),
        "math arguments must be f32 like its result, but v0 is f64",
    );
    let p = func(
        "(i64) -> ()",
        "block0(v0: i64):\n    v1:i64 = math sqrt v0\n    return\n",
    );
    assert_error(
        &p,
        Entity::Inst(Inst(0)),
        "math gives an f64 or f32, not i64",
    );
    // float32 throughout is the C library's float version.
    let p = func(
        "(f32) -> ()",
        "block0(v0: f32):\n    v1:f32 = math pow v0, v0\n    return\n",
    );
    assert_eq!(verify_program(&p), Ok(()));
}

#[test]
fn loads_read_the_element_type_at_an_i64_index() {
    let p = func(
        "(f64) -> ()",
        "block0(v0: f64):\n    v1:i64 = const 0\n    v2:f64 = load v0, v1\n    return\n",
    );
    assert_error(&p, Entity::Inst(Inst(1)), "load needs a pointer, found f64");
    let p = func(
        "(ptr<f64>) -> ()",
        "block0(v0: ptr<f64>):\n    v1:i32 = const 0\n    v2:f64 = load v0, v1\n    return\n",
    );
    assert_error(&p, Entity::Inst(Inst(1)), "index must be i64, found i32");
    let p = func(
        "(ptr<f32>) -> ()",
        "block0(v0: ptr<f32>):\n    v1:i64 = const 0\n    v2:f64 = load v0, v1\n    return\n",
    );
    assert_error(
        &p,
        Entity::Inst(Inst(1)),
        "loading from ptr<f32> gives f32, not f64",
    );
}

#[test]
fn stores_write_the_element_type_at_an_i64_index() {
    let p = func(
        "(ptr<i32>, f64) -> ()",
        "block0(v0: ptr<i32>, v1: f64):\n    v2:i64 = const 0\n    store v0, v2, v1\n    return\n",
    );
    assert_error(
        &p,
        Entity::Inst(Inst(1)),
        "storing f64 into ptr<i32>; the value must be i32",
    );
    let p = func(
        "(ptr<f64>, f64) -> ()",
        "block0(v0: ptr<f64>, v1: f64):\n    store v0, v1, v1\n    return\n",
    );
    assert_error(&p, Entity::Inst(Inst(0)), "index must be i64, found f64");
    let p = func(
        "(f64) -> ()",
        "block0(v0: f64):\n    v1:i64 = const 0\n    store v0, v1, v0\n    return\n",
    );
    assert_error(
        &p,
        Entity::Inst(Inst(1)),
        "store needs a pointer, found f64",
    );
}

const CALLEE: &str =
    "function @g(f64, i64) -> (f64) {\nblock0(v0: f64, v1: i64):\n    return v0\n}\n";

#[test]
fn calls_match_the_callee_signature() {
    let p = program(&format!("function @f(f64) -> () {{\nblock0(v0: f64):\n    v1:f64 = call @g(v0)\n    return\n}}\n\n{CALLEE}"));
    assert_error(&p, Entity::Inst(Inst(0)), "@g takes 2 arguments, found 1");
    let p = program(&format!("function @f(f64) -> () {{\nblock0(v0: f64):\n    v1:f64 = call @g(v0, v0)\n    return\n}}\n\n{CALLEE}"));
    assert_error(
        &p,
        Entity::Inst(Inst(0)),
        "argument 1 of @g must be i64, but v0 is f64",
    );
    let p = program(&format!("function @f(f64, i64) -> () {{\nblock0(v0: f64, v1: i64):\n    v2:i64 = call @g(v0, v1)\n    return\n}}\n\n{CALLEE}"));
    assert_error(
        &p,
        Entity::Inst(Inst(0)),
        "result 0 of @g is f64, but v2 is declared i64",
    );
    let p = program(&format!("function @f(f64, i64) -> () {{\nblock0(v0: f64, v1: i64):\n    call @g(v0, v1)\n    return\n}}\n\n{CALLEE}"));
    assert_error(&p, Entity::Inst(Inst(0)), "has 0 results but should have 1");
}

#[test]
fn jumps_pass_what_the_target_takes() {
    let p = func(
        "(f64) -> ()",
        "block0(v0: f64):\n    jump block1\nblock1(v1: f64):\n    return\n",
    );
    assert_error(
        &p,
        Entity::Inst(Inst(0)),
        "block1 has 1 parameters but the jump passes 0 arguments",
    );
    let p = func(
        "(i64) -> ()",
        "block0(v0: i64):\n    jump block1(v0)\nblock1(v1: f64):\n    return\n",
    );
    assert_error(
        &p,
        Entity::Inst(Inst(0)),
        "argument v0 is i64 but block1's parameter v1 is f64",
    );
    let p = func(
        "(bool, i64) -> ()",
        "block0(v0: bool, v1: i64):\n    brif v0, block1, block1(v1)\nblock1:\n    return\n",
    );
    assert_error(
        &p,
        Entity::Inst(Inst(0)),
        "block1 has 0 parameters but the jump passes 1 arguments",
    );
}

#[test]
fn brif_needs_a_bool() {
    let p = func(
        "(i64) -> ()",
        "block0(v0: i64):\n    brif v0, block1, block1\nblock1:\n    return\n",
    );
    assert_error(
        &p,
        Entity::Inst(Inst(0)),
        "brif condition must be bool, found i64",
    );
}

#[test]
fn return_matches_the_signature() {
    let p = func("(f64) -> (f64, f64)", "block0(v0: f64):\n    return v0\n");
    assert_error(
        &p,
        Entity::Inst(Inst(0)),
        "returns 1 values but the signature has 2",
    );
    let p = func("(f64) -> (i64)", "block0(v0: f64):\n    return v0\n");
    assert_error(
        &p,
        Entity::Inst(Inst(0)),
        "return value 0 must be i64, but v0 is f64",
    );
}

// ---- reporting ----

#[test]
fn every_error_is_collected_and_shows_the_instruction() {
    let p = func(
        "(f64, i64) -> (f64)",
        "block0(v0: f64, v1: i64):\n    v2:f64 = add v0, v1\n    v3:f64 = div v1, v1\n    return v1\n",
    );
    let errors = verify_program(&p).unwrap_err();
    let text: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        text,
        [
            "@f: inst0: add operands must both have the result type f64, found f64 and i64 (in `v2:f64 = add v0, v1`)",
            "@f: inst1: div operands must both have the result type f64, found i64 and i64 (in `v3:f64 = div v1, v1`)",
            "@f: inst2: return value 0 must be f64, but v1 is i64 (in `return v1`)",
        ]
    );
}

#[test]
fn verify_function_checks_one_function() {
    let p = program(&format!(
        "function @f() -> () {{\nblock0:\n    return\n}}\n\nfunction @h() -> () {{\nblock0:\n}}\n\n{CALLEE}"
    ));
    assert_eq!(verify_function(&p, FuncId(0)), Ok(()));
    let errors = verify_function(&p, FuncId(1)).unwrap_err();
    assert_eq!(errors[0].function, "h");
    assert_eq!(errors[0].entity, Entity::Block(Block(0)));
}

/// The verifier (and the printer it uses for messages) must report, never panic, whatever
/// the IR holds: random mutations of random programs.
#[test]
fn never_panics_on_mangled_programs() {
    let mut rng = common::Rng(0x1234_5678_9abc_def1);
    let mut rejected = 0;
    for seed in 0..40 {
        let original = common::random_program(seed);
        for _ in 0..25 {
            let mut p = original.clone();
            for _ in 0..1 + rng.below(3) {
                let f = &mut p.functions[rng.below(3)];
                let n_values = f.values.len() as u32;
                let n_blocks = f.blocks.len() as u32;
                match rng.below(7) {
                    0 => {
                        // An operand to any value, or one past the end.
                        let i = rng.below(f.insts.len());
                        let v = Value(rng.below(n_values as usize + 2) as u32);
                        let mut first = true;
                        f.insts[i].map_operands(|x| if std::mem::take(&mut first) { v } else { x });
                    }
                    1 => {
                        // A jump to any block, or a missing one.
                        let b = Block(rng.below(n_blocks as usize + 2) as u32);
                        let i = rng.below(f.insts.len());
                        f.insts[i] = InstData::Jump {
                            dest: BlockCall {
                                block: b,
                                args: vec![],
                            },
                        };
                    }
                    2 => {
                        let b = rng.below(f.blocks.len());
                        if !f.blocks[b].insts.is_empty() {
                            let k = rng.below(f.blocks[b].insts.len());
                            f.blocks[b].insts.remove(k);
                        }
                    }
                    3 => {
                        let v = rng.below(f.values.len());
                        f.values[v].ty = rng.pick(&[Type::F64, Type::Bool, Type::Ptr(Elem::I32)]);
                    }
                    4 => {
                        let v = rng.below(f.values.len());
                        f.values[v].def =
                            ValueDef::Result(Inst(rng.below(f.insts.len() + 2) as u32), 0);
                    }
                    5 => {
                        let i = rng.below(f.insts.len());
                        f.insts[i] = InstData::Call {
                            func: FuncId(rng.below(4) as u32),
                            args: vec![Value(0)],
                        };
                    }
                    _ => {
                        let b = rng.below(f.blocks.len());
                        f.blocks[b]
                            .params
                            .push(Value(rng.below(n_values as usize + 2) as u32));
                    }
                }
            }
            if let Err(errors) = verify_program(&p) {
                rejected += 1;
                for e in errors {
                    let _ = e.to_string();
                }
            }
            let _ = p.to_string();
        }
    }
    assert!(
        rejected > 500,
        "most mutations break something ({rejected})"
    );
}

#[test]
fn calls_may_not_alias_arrays() {
    let callee = "function @g(ptr<f64>, ptr<f64>) -> () {
block0(v0: ptr<f64>, v1: ptr<f64>):
    return
}
";
    let twice = format!(
        "{callee}function @f(ptr<f64>, ptr<f64>, bool) -> () {{
block0(v0: ptr<f64>, v1: ptr<f64>, v2: bool):
    call @g(v0, v0)
    return
}}
"
    );
    let errors = dynlib_ir::verify_program(&dynlib_ir::parse_program(&twice).unwrap()).unwrap_err();
    let text = errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        text.contains("a second time") && text.contains("@f"),
        "{text}"
    );
    let picked = format!(
        "{callee}function @f(ptr<f64>, ptr<f64>, bool) -> () {{
block0(v0: ptr<f64>, v1: ptr<f64>, v2: bool):
    v3:ptr<f64> = select v2, v0, v1
    call @g(v3, v1)
    return
}}
"
    );
    let errors =
        dynlib_ir::verify_program(&dynlib_ir::parse_program(&picked).unwrap()).unwrap_err();
    let text = errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(text.contains("not a parameter of this function"), "{text}");
}

#[test]
fn functions_do_not_return_arrays() {
    let text = "function @f(ptr<f64>) -> (ptr<f64>) {
block0(v0: ptr<f64>):
    return v0
}
";
    let errors = dynlib_ir::verify_program(&dynlib_ir::parse_program(text).unwrap()).unwrap_err();
    let text = errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        text.contains("@f") && text.contains("pointer type"),
        "{text}"
    );
}
