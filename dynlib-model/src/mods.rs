//! Mods: named modifications applied to a model's normal form (dsl.md §15).
//!
//! A mod removes, replaces, adds or sets events, params, aux, functions, states and `[sim]`
//! keys. Mods come from the model file (`[mods.NAME]`, selected by a `#mod=NAME` fragment)
//! or from external mod URIs. Unlike the reference, all mods of one load (fragment and
//! external) are applied in one pass, so group exclusivity holds across them; presets
//! survive mods; mod events keep their tags; mod values are type-checked and numeric strings
//! evaluated exactly like values in a model file.

use toml_edit::TableLike;

use crate::diag::DiagKind;
use crate::raw::{self, Cx, RawAux, RawEvent, RawFunction, RawModel, RawNumber, RawSim};
use crate::source::{Span, Spanned};

/// What a mod verb acts on.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ModTarget {
    /// `[events]`
    Events,
    /// `[params]`
    Params,
    /// `[states]` (set only)
    States,
    /// `[aux]`
    Aux,
    /// `[functions]`
    Functions,
    /// `[sim]` (set only)
    Sim,
}

impl ModTarget {
    fn name(self) -> &'static str {
        match self {
            ModTarget::Events => "events",
            ModTarget::Params => "params",
            ModTarget::States => "states",
            ModTarget::Aux => "aux",
            ModTarget::Functions => "functions",
            ModTarget::Sim => "sim",
        }
    }

    fn singular(self) -> &'static str {
        match self {
            ModTarget::Events => "event",
            ModTarget::Params => "param",
            ModTarget::States => "state",
            ModTarget::Aux => "aux",
            ModTarget::Functions => "function",
            ModTarget::Sim => "sim key",
        }
    }

    fn parse(s: &str) -> Option<ModTarget> {
        Some(match s {
            "events" => ModTarget::Events,
            "params" => ModTarget::Params,
            "states" => ModTarget::States,
            "aux" => ModTarget::Aux,
            "functions" => ModTarget::Functions,
            "sim" => ModTarget::Sim,
            _ => return None,
        })
    }
}

/// The payload of one verb on one target.
#[derive(Clone, Debug, PartialEq)]
pub enum ModItems {
    /// Names to remove.
    Names(Vec<Spanned<String>>),
    /// Event bodies.
    Events(Vec<RawEvent>),
    /// Aux expressions.
    Aux(Vec<RawAux>),
    /// Function bodies.
    Functions(Vec<RawFunction>),
    /// Named values (params, states).
    Numbers(Vec<RawNumber>),
    /// `[sim]` keys to merge.
    Sim(Box<RawSim>),
}

/// The four verbs, in the order they run within a mod.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verb {
    /// Delete existing items.
    Remove,
    /// Swap the body of existing items.
    Replace,
    /// Add new items.
    Add,
    /// Upsert (aux, functions, sim) or overwrite values (states, params).
    Set,
}

impl Verb {
    const ALL: [Verb; 4] = [Verb::Remove, Verb::Replace, Verb::Add, Verb::Set];

    fn name(self) -> &'static str {
        match self {
            Verb::Remove => "remove",
            Verb::Replace => "replace",
            Verb::Add => "add",
            Verb::Set => "set",
        }
    }

    fn targets(self) -> &'static [ModTarget] {
        use ModTarget::*;
        match self {
            Verb::Remove => &[Aux, Events, Functions, Params],
            Verb::Replace => &[Aux, Events, Functions],
            Verb::Add => &[Aux, Events, Functions, Params],
            Verb::Set => &[Aux, Functions, Params, Sim, States],
        }
    }
}

/// One parsed mod.
#[derive(Clone, Debug, PartialEq)]
pub struct Mod {
    /// Its name (the `[mods.NAME]` key, or `[mod].name`).
    pub name: String,
    /// Its exclusivity group.
    pub group: Option<String>,
    /// Whether it excludes other mods of its group.
    pub exclusive: bool,
    /// Verb, target and payload, in application order.
    pub ops: Vec<(Verb, ModTarget, ModItems, Option<Span>)>,
    /// Where the mod is written.
    pub span: Option<Span>,
}

/// Parses one mod table. `constants` are the model's, for numeric strings in values.
pub(crate) fn parse_mod(
    table: &dyn TableLike,
    name: String,
    span: Option<Span>,
    constants: &[RawNumber],
    cx: &mut Cx,
) -> Option<Mod> {
    let before = cx.diags.len();
    let group = match table.get("group") {
        None => None,
        Some(g) => match g.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                let s = cx.item_span(g);
                cx.error(
                    DiagKind::Mod,
                    format!("mod '{name}': group must be a string"),
                    s,
                );
                None
            }
        },
    };
    let exclusive = match table.get("exclusive") {
        None => false,
        Some(e) => e.as_bool().unwrap_or_else(|| {
            let s = cx.item_span(e);
            cx.error(
                DiagKind::Mod,
                format!("mod '{name}': exclusive must be true or false"),
                s,
            );
            false
        }),
    };
    // A misspelled verb (`remvoe`) would otherwise be a mod that silently does nothing.
    let known: Vec<&str> = ["name", "group", "exclusive"]
        .into_iter()
        .chain(Verb::ALL.iter().map(|v| v.name()))
        .collect();
    for (key, value) in raw::entries(table) {
        if known.contains(&key.get()) {
            continue;
        }
        let span = cx.key_span(key, value);
        let hint = crate::diag::did_you_mean(key.get(), known.iter().copied())
            .map(|s| format!(" (did you mean '{s}'?)"))
            .unwrap_or_default();
        cx.error(
            DiagKind::Mod,
            format!(
                "mod '{name}': unknown key '{}'{hint}; a mod has name, group, exclusive and the verbs remove, replace, add, set",
                key.get()
            ),
            span,
        );
    }
    let mut ops = Vec::new();
    for verb in Verb::ALL {
        let Some(item) = table.get(verb.name()) else {
            continue;
        };
        let Some(body) = cx.expect_table(
            item,
            &format!("{}: must be a table of targets", verb.name()),
        ) else {
            continue;
        };
        for (key, value) in raw::entries(body) {
            let kspan = cx.key_span(key, value);
            let target = match ModTarget::parse(key.get()).filter(|t| verb.targets().contains(t)) {
                Some(t) => t,
                None => {
                    let supported: Vec<&str> = verb.targets().iter().map(|t| t.name()).collect();
                    cx.error(
                        DiagKind::Mod,
                        format!(
                            "{}.{}: unsupported target. Supported targets: {}",
                            verb.name(),
                            key.get(),
                            supported.join(", ")
                        ),
                        kspan,
                    );
                    continue;
                }
            };
            let loc = format!("{}.{}", verb.name(), target.name());
            let Some(t) = cx.expect_table(value, &format!("{loc}: must be a table")) else {
                continue;
            };
            let items = match (verb, target) {
                (Verb::Remove, _) => {
                    let Some(names) = t.get("names") else {
                        cx.error(
                            DiagKind::Mod,
                            format!("{loc}: expected names = [\"a\", ...]"),
                            kspan.clone(),
                        );
                        continue;
                    };
                    match cx.string_list(names, &format!("{loc}.names must be a list of strings")) {
                        Some(n) => ModItems::Names(n),
                        None => continue,
                    }
                }
                (_, ModTarget::Events) => ModItems::Events(
                    raw::entries(t)
                        .into_iter()
                        .filter_map(|(k, v)| raw::parse_event(k, v, &format!("{loc}."), cx))
                        .collect(),
                ),
                (_, ModTarget::Aux) => ModItems::Aux(
                    raw::entries(t)
                        .into_iter()
                        .filter_map(|(k, v)| raw::parse_aux_entry(k, v, &format!("{loc}."), cx))
                        .collect(),
                ),
                (_, ModTarget::Functions) => ModItems::Functions(
                    raw::entries(t)
                        .into_iter()
                        .filter_map(|(k, v)| raw::parse_function(k, v, &format!("{loc}."), cx))
                        .collect(),
                ),
                (_, ModTarget::Params | ModTarget::States) => ModItems::Numbers(
                    raw::entries(t)
                        .into_iter()
                        .filter_map(|(k, v)| raw::parse_mod_number(k, v, &loc, constants, cx))
                        .collect(),
                ),
                (_, ModTarget::Sim) => {
                    let mut sim = RawSim::default();
                    raw::parse_sim_into(t, &mut sim, "set.sim", cx);
                    ModItems::Sim(Box::new(sim))
                }
            };
            ops.push((verb, target, items, kspan));
        }
    }
    (cx.diags.len() == before).then_some(Mod {
        name,
        group,
        exclusive,
        ops,
        span,
    })
}

/// Rejects a batch in which an exclusive group has more than one member.
pub(crate) fn check_groups(mods: &[Mod], cx: &mut Cx) -> bool {
    let mut ok = true;
    let mut seen: Vec<&str> = Vec::new();
    for m in mods {
        let Some(g) = m.group.as_deref() else {
            continue;
        };
        if seen.contains(&g) {
            continue;
        }
        seen.push(g);
        let members: Vec<&Mod> = mods
            .iter()
            .filter(|o| o.group.as_deref() == Some(g))
            .collect();
        if members.len() > 1 && members.iter().any(|o| o.exclusive) {
            let names: Vec<&str> = members.iter().map(|o| o.name.as_str()).collect();
            cx.error(
                DiagKind::Mod,
                format!(
                    "group '{g}' allows only one active mod but received: {}",
                    names.join(", ")
                ),
                m.span.clone(),
            );
            ok = false;
        }
    }
    ok
}

/// Applies mods in order; problems go to `cx` and the failing operation is skipped.
pub(crate) fn apply(model: &mut RawModel, mods: &[Mod], cx: &mut Cx) {
    for m in mods {
        for (verb, target, items, span) in &m.ops {
            apply_op(model, *verb, *target, items, span, cx);
        }
    }
}

/// Name accessors shared by every target, so each verb is written once.
fn names_of(model: &RawModel, target: ModTarget) -> Vec<String> {
    match target {
        ModTarget::Events => model.events.iter().map(|e| e.name.value.clone()).collect(),
        ModTarget::Params => model.params.iter().map(|p| p.name.value.clone()).collect(),
        ModTarget::States => model.states.iter().map(|s| s.name.value.clone()).collect(),
        ModTarget::Aux => model.aux.iter().map(|a| a.name.value.clone()).collect(),
        ModTarget::Functions => model
            .functions
            .iter()
            .map(|f| f.name.value.clone())
            .collect(),
        ModTarget::Sim => Vec::new(),
    }
}

fn remove_named(model: &mut RawModel, target: ModTarget, name: &str) {
    match target {
        ModTarget::Events => model.events.retain(|e| e.name.value != name),
        ModTarget::Params => model.params.retain(|e| e.name.value != name),
        ModTarget::States => model.states.retain(|e| e.name.value != name),
        ModTarget::Aux => model.aux.retain(|e| e.name.value != name),
        ModTarget::Functions => model.functions.retain(|e| e.name.value != name),
        ModTarget::Sim => {}
    }
}

fn apply_op(
    model: &mut RawModel,
    verb: Verb,
    target: ModTarget,
    items: &ModItems,
    span: &Option<Span>,
    cx: &mut Cx,
) {
    let existing = names_of(model, target);
    let vt = format!("{}.{}", verb.name(), target.name());
    let what = target.singular();
    match (verb, items) {
        (Verb::Remove, ModItems::Names(names)) => {
            let missing: Vec<&Spanned<String>> = names
                .iter()
                .filter(|n| !existing.contains(&n.value))
                .collect();
            if !missing.is_empty() {
                for n in missing {
                    let msg = if target == ModTarget::Events {
                        format!("{vt}: event '{}' does not exist", n.value)
                    } else {
                        format!("{vt}.{}: {what} does not exist", n.value)
                    };
                    cx.error(DiagKind::Mod, msg, n.span.clone().or(span.clone()));
                }
                return;
            }
            for n in names {
                remove_named(model, target, &n.value);
            }
        }
        (_, ModItems::Names(_)) => {}
        (_, ModItems::Sim(sim)) => merge_sim(&mut model.sim, sim),
        (verb, items) => {
            let item_names: Vec<Spanned<String>> = match items {
                ModItems::Events(v) => v.iter().map(|e| e.name.clone()).collect(),
                ModItems::Aux(v) => v.iter().map(|e| e.name.clone()).collect(),
                ModItems::Functions(v) => v.iter().map(|e| e.name.clone()).collect(),
                ModItems::Numbers(v) => v.iter().map(|e| e.name.clone()).collect(),
                _ => Vec::new(),
            };
            for (i, n) in item_names.iter().enumerate() {
                let exists = existing.contains(&n.value);
                let problem = match verb {
                    Verb::Replace if !exists => Some("does not exist"),
                    Verb::Add if exists => Some("already exists"),
                    Verb::Set
                        if !exists && matches!(target, ModTarget::States | ModTarget::Params) =>
                    {
                        Some("unknown")
                    }
                    _ => None,
                };
                if let Some(p) = problem {
                    let msg = if p == "unknown" {
                        format!("{vt}.{}: unknown {what}", n.value)
                    } else {
                        format!("{vt}.{}: {what} {p}", n.value)
                    };
                    cx.error(DiagKind::Mod, msg, n.span.clone());
                    continue;
                }
                upsert(model, target, items, i, exists);
            }
        }
    }
}

/// Puts item `i` of `items` into the model: in place when it exists, appended otherwise.
fn upsert(model: &mut RawModel, target: ModTarget, items: &ModItems, i: usize, exists: bool) {
    fn put<T: Clone>(list: &mut Vec<T>, item: &T, same: impl Fn(&T) -> bool, exists: bool) {
        match list.iter_mut().find(|x| same(x)) {
            Some(slot) if exists => *slot = item.clone(),
            _ => list.push(item.clone()),
        }
    }
    match items {
        ModItems::Events(v) => put(
            &mut model.events,
            &v[i],
            |e| e.name.value == v[i].name.value,
            exists,
        ),
        ModItems::Aux(v) => put(
            &mut model.aux,
            &v[i],
            |e| e.name.value == v[i].name.value,
            exists,
        ),
        ModItems::Functions(v) => put(
            &mut model.functions,
            &v[i],
            |e| e.name.value == v[i].name.value,
            exists,
        ),
        ModItems::Numbers(v) => {
            let n = &v[i];
            let list = if target == ModTarget::States {
                &mut model.states
            } else {
                &mut model.params
            };
            put(list, n, |p| p.name.value == n.name.value, exists);
        }
        ModItems::Names(_) | ModItems::Sim(_) => {}
    }
}

fn merge_sim(into: &mut RawSim, from: &RawSim) {
    macro_rules! take {
        ($($f:ident),*) => { $( if from.$f.is_some() { into.$f = from.$f.clone(); } )* };
    }
    take!(t0, t_end, dt, stepper, record, atol, rtol, max_steps, stop);
    for (k, v) in &from.extras {
        into.extras.retain(|(n, _)| n.value != k.value);
        into.extras.push((k.clone(), v.clone()));
    }
    into.spans.extend(from.spans.iter().cloned());
}
