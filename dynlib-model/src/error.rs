//! The crate's error type.

use std::path::PathBuf;

use crate::diag::ModelErrors;

/// Everything that can go wrong while finding, reading and validating a model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The model text has problems; each diagnostic names the table, key and position.
    #[error("{0}")]
    Model(#[from] ModelErrors),
    /// No file matched the URI.
    #[error("Model not found: {uri}\nSearched locations:{}", list_paths(.candidates))]
    NotFound {
        /// The URI as given.
        uri: String,
        /// Every path that was tried, in order.
        candidates: Vec<PathBuf>,
    },
    /// An extensionless URI matched both `p` and `p.toml`.
    #[error("Ambiguous model URI {uri}: it matches{}\nPlease use an explicit filename.", list_paths(.matches))]
    Ambiguous {
        /// The URI as given.
        uri: String,
        /// The files it matched.
        matches: Vec<PathBuf>,
    },
    /// A `TAG://` path escapes its root (`proj://../secret.toml`).
    #[error("Path traversal in {uri}: {} lies outside the root {}", .path.display(), .root.display())]
    PathTraversal {
        /// The URI as given.
        uri: String,
        /// The path it would reach.
        path: PathBuf,
        /// The root it must stay in.
        root: PathBuf,
    },
    /// The configuration (config file, `DYN_MODEL_PATH`, an unknown tag) is unusable.
    #[error("{message}")]
    Config {
        /// What is wrong and where.
        message: String,
    },
    /// The path names something that is not a regular file (a directory, a FIFO, a
    /// device, ...), or a file too large to be a model.
    #[error("cannot read {} as a model file: {reason}", .path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is instead ("it is a directory, not a regular file").
        reason: String,
    },
    /// A file could not be read.
    #[error("failed to read {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// A configuration error with this message.
    pub fn config(message: impl Into<String>) -> Self {
        Error::Config {
            message: message.into(),
        }
    }

    /// The model diagnostics, when this is a model error.
    pub fn model_errors(&self) -> Option<&ModelErrors> {
        match self {
            Error::Model(m) => Some(m),
            _ => None,
        }
    }
}

fn list_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| format!("\n  {}", p.display()))
        .collect()
}
