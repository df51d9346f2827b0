//! What a part is: which cut(s) it runs between.

use std::fmt;

use loadpart_cuts::CutId;

/// One part of a partitioned model, by canonical cut ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PartSpec {
    /// Model inputs -> the cut's tensors (all of them: sent ones and outputs kept on the device).
    Head(CutId),
    /// The cut's sent tensors -> the model outputs the head did not compute.
    Tail(CutId),
    /// One cut's tensors -> a later cut's tensors (for merging requests into a later batch).
    Segment { from: CutId, to: CutId },
    /// The whole model: inputs -> outputs.
    Full,
}

impl fmt::Display for PartSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartSpec::Head(c) => write!(f, "head({c})"),
            PartSpec::Tail(c) => write!(f, "tail({c})"),
            PartSpec::Segment { from, to } => write!(f, "segment({from} -> {to})"),
            PartSpec::Full => f.write_str("full model"),
        }
    }
}

/// A part of one model: the key of [`crate::PartCache`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PartKey {
    /// The model's identity (`OnnxModel::hash`).
    pub model: String,
    pub spec: PartSpec,
}
