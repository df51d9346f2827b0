//! [`CutId`]: the one canonical, process-independent name of a cut.
//!
//! Device, server, profiles, reports and the wire all name a cut the same way: its tensor names
//! (the canonical cut `C(H)` of its head, so a multi-output cut whose head keeps some outputs has
//! one id), sorted by byte order, deduplicated, and joined with `,`. A name that contains `,` or
//! `\` is escaped (`\,`, `\\`) rather than rejected, so every tensor name an ONNX file may hold
//! gives an unambiguous id that [`CutId::parse`] reads back.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::CutError;

/// A canonical cut id: sorted, deduplicated, escaped tensor names joined with `,`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct CutId(String);

impl CutId {
    /// The id of a set of tensor names, in any order, duplicates allowed.
    pub fn from_names<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Self {
        let mut v: Vec<S> = names.into_iter().collect();
        v.sort_unstable_by(|a, b| a.as_ref().cmp(b.as_ref()));
        v.dedup_by(|a, b| a.as_ref() == b.as_ref());
        let mut s = String::new();
        for (i, n) in v.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            escape_into(n.as_ref(), &mut s);
        }
        CutId(s)
    }

    /// Reads an id written by [`CutId::as_str`] (or any order of the same names: the result is
    /// canonical). Errors on an empty name, a trailing `\`, or an escape other than `\,` and `\\`.
    pub fn parse(s: &str) -> Result<Self, CutError> {
        Ok(Self::from_names(split(s)?))
    }

    /// The tensor names, unescaped, in canonical (sorted) order.
    pub fn names(&self) -> Vec<String> {
        split(&self.0).expect("a CutId is always well formed")
    }

    /// The escaped, canonical text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A short checksum of the canonical text (64-bit FNV-1a), sent next to a partitioned request
    /// so that a receiver can tell that both sides mean the same cut.
    pub fn checksum(&self) -> u64 {
        fnv1a(self.0.as_bytes())
    }

    /// [`CutId::checksum`] as 16 lowercase hex digits.
    pub fn checksum_hex(&self) -> String {
        format!("{:016x}", self.checksum())
    }
}

impl fmt::Display for CutId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<CutId> for String {
    fn from(id: CutId) -> String {
        id.0
    }
}

impl TryFrom<String> for CutId {
    type Error = CutError;
    fn try_from(s: String) -> Result<Self, CutError> {
        CutId::parse(&s)
    }
}

impl std::str::FromStr for CutId {
    type Err = CutError;
    fn from_str(s: &str) -> Result<Self, CutError> {
        CutId::parse(s)
    }
}

impl PartialEq<str> for CutId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<String> for CutId {
    fn eq(&self, other: &String) -> bool {
        self.0 == *other
    }
}

impl PartialEq<&str> for CutId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

fn escape_into(name: &str, out: &mut String) {
    for c in name.chars() {
        if c == ',' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Splits on unescaped commas and unescapes. An empty string has no names.
fn split(s: &str) -> Result<Vec<String>, CutError> {
    let bad = |reason: &str| CutError::BadCutId {
        id: s.chars().take(200).collect(),
        reason: reason.to_string(),
    };
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let mut names = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ (',' | '\\')) => cur.push(e),
                Some(_) => return Err(bad("only \\, and \\\\ are escapes")),
                None => return Err(bad("ends with a lone \\")),
            },
            ',' => {
                if cur.is_empty() {
                    return Err(bad("empty tensor name"));
                }
                names.push(std::mem::take(&mut cur));
            }
            c => cur.push(c),
        }
    }
    if cur.is_empty() {
        return Err(bad("empty tensor name"));
    }
    names.push(cur);
    Ok(names)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_deduplicated_and_order_free() {
        let a = CutId::from_names(["b", "a", "b"]);
        assert_eq!(a, "a,b");
        assert_eq!(a, CutId::from_names(vec!["a".to_string(), "b".to_string()]));
        assert_eq!(CutId::parse("b,a").unwrap(), a);
        assert_eq!(a.names(), vec!["a", "b"]);
        assert_eq!(
            CutId::from_names(Vec::<&str>::new()).names(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn awkward_names_are_escaped_and_round_trip() {
        let names = ["x,y", "a\\b", "plain", ",", "\\"];
        let id = CutId::from_names(names);
        let mut want: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(id.names(), want);
        assert_eq!(CutId::parse(id.as_str()).unwrap(), id);
        // "x,y" alone and "x" + "y" are different cuts with different ids.
        assert_ne!(CutId::from_names(["x,y"]), CutId::from_names(["x", "y"]));
        let json = serde_json_like(&id);
        assert_eq!(CutId::try_from(json).unwrap(), id);
    }

    fn serde_json_like(id: &CutId) -> String {
        String::from(id.clone())
    }

    #[test]
    fn malformed_ids_are_errors_not_panics() {
        for bad in ["a,", ",a", "a,,b", "a\\", "a\\x"] {
            let err = CutId::parse(bad).unwrap_err();
            assert!(matches!(err, CutError::BadCutId { .. }), "{bad:?}: {err}");
        }
    }

    #[test]
    fn checksum_is_stable_and_distinguishes() {
        let a = CutId::from_names(["a", "b"]);
        assert_eq!(a.checksum(), CutId::parse("b,a").unwrap().checksum());
        assert_ne!(a.checksum(), CutId::from_names(["a"]).checksum());
        assert_eq!(a.checksum_hex().len(), 16);
        // FNV-1a 64 of the empty string is its offset basis.
        assert_eq!(
            CutId::from_names(Vec::<&str>::new()).checksum(),
            0xcbf29ce484222325
        );
    }
}
