//! Per-tensor code-width floors: the fewest bits per code each cut tensor may be sent with,
//! from measured top-1 agreement (`loadpart check-codec --choose-bits`).
//!
//! Accuracy depends on where the cut is: early feature maps tolerate coarse codes, the last
//! ones before a classifier often do not. One width for the whole model is then either too
//! coarse late or too fine early; floors let the planner send each tensor as coarse as its
//! own measurement allows.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ExecError;

/// Per tensor, the fewest bits its codes may have. JSON field names are a stable interface.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CodecFloors {
    /// The model identity the floors were measured on (empty: not checked).
    #[serde(default)]
    pub model_hash: String,
    /// The agreement (plain and centered top-1, percent) each floor kept.
    #[serde(default)]
    pub min_agreement_pct: f64,
    /// Samples per cut behind each floor.
    #[serde(default)]
    pub inputs: usize,
    /// Tensor name -> fewest bits (2..=8). Tensors not listed keep 8 bits.
    pub tensors: BTreeMap<String, u8>,
}

impl CodecFloors {
    /// Reads floors written by `check-codec --choose-bits`, checking each width.
    pub fn load(path: &Path) -> Result<Self, ExecError> {
        let bad = |detail: String| ExecError::Floors {
            path: path.display().to_string(),
            detail,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let floors: Self = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if let Some((t, b)) = floors.tensors.iter().find(|(_, b)| !(2..=8).contains(*b)) {
            return Err(bad(format!("tensor {t:?}: {b} bits, expected 2..=8")));
        }
        Ok(floors)
    }

    /// Floors measured on another model (another identity) are refused: its tensors' names
    /// may match while their tolerance does not.
    pub fn check_model(&self, identity: &str) -> Result<(), ExecError> {
        if self.model_hash.is_empty() || self.model_hash == identity {
            return Ok(());
        }
        Err(ExecError::Floors {
            path: "codec floors".into(),
            detail: format!(
                "measured on model {}, not on this one ({identity}); choose them again with \
                 `loadpart check-codec --choose-bits`",
                self.model_hash
            ),
        })
    }

    /// The fewest bits of `tensor`'s codes: its floor, 8 when it has none.
    pub fn floor(&self, tensor: &str) -> u8 {
        self.tensors.get(tensor).copied().unwrap_or(8)
    }

    /// A short stable tag of the floors for cache file names (FNV-1a of the sorted pairs).
    pub fn tag(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for (name, bits) in &self.tensors {
            for b in name.bytes().chain([0, *bits]) {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        format!("{:08x}", h as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlisted_tensors_keep_eight_bits_and_tags_follow_content() {
        let mut f = CodecFloors::default();
        f.tensors.insert("a".into(), 5);
        assert_eq!((f.floor("a"), f.floor("b")), (5, 8));
        let t = f.tag();
        f.tensors.insert("b".into(), 6);
        assert_ne!(f.tag(), t);
    }

    #[test]
    fn a_bad_width_or_file_is_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("loadpart-floors-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("f.json");
        std::fs::write(&p, r#"{"tensors": {"x": 9}}"#).unwrap();
        let e = CodecFloors::load(&p).unwrap_err().to_string();
        assert!(e.contains("9 bits"), "{e}");
        std::fs::write(&p, "{").unwrap();
        assert!(CodecFloors::load(&p).is_err());
        std::fs::write(&p, r#"{"tensors": {"x": 5}}"#).unwrap();
        let f = CodecFloors::load(&p).unwrap();
        assert_eq!(f.floor("x"), 5);
        assert!(
            f.check_model("any").is_ok(),
            "no identity recorded: not checked"
        );
        let g = CodecFloors {
            model_hash: "abc".into(),
            ..f
        };
        assert!(g.check_model("abc").is_ok());
        assert!(
            g.check_model("xyz")
                .unwrap_err()
                .to_string()
                .contains("xyz")
        );
    }
}
