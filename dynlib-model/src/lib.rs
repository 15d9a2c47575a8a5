//! The dynlib model language: from TOML text to a validated [`Model`].
//!
//! The pipeline (dsl.md §0): resolve the URI ([`uri`]) → read the text → structural parse of
//! the TOML into a normal form ([`raw`]) → apply mods ([`mods`]) → semantic checks and name
//! resolution ([`check`]) → an immutable [`Model`]. Every problem becomes a [`Diagnostic`]
//! that names the table and key and points at the source; independent problems are reported
//! together.
//!
//! ```
//! let model = dynlib_model::load("builtin://ode/lorenz", &dynlib_model::LoadOptions::default()).unwrap();
//! assert_eq!(model.state_names(), ["x", "y", "z"]);
//! ```

pub mod builtins;
pub mod check;
pub mod config;
pub mod diag;
mod error;
pub mod expr;
mod lanes;
mod load;
pub mod model;
pub mod mods;
pub mod numeric;
pub mod raw;
pub mod source;
pub mod types;
pub mod uri;

pub use config::Config;
pub use diag::{DiagKind, Diagnostic, ModelErrors};
pub use error::Error;
pub use expr::Number;
pub use load::{load, load_text, LoadOptions};
pub use model::*;
pub use source::{SourceId, SourceMap, Span, Spanned, SrcStr};
pub use types::Ty;
