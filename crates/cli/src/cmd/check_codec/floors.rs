//! `check-codec --choose-bits`: per cut the fewest bits per code that keep top-1 agreement
//! (plain and centered), and from them each tensor's floor.

use std::collections::BTreeMap;

use anyhow::Result;
use loadpart_bench::outln;
use loadpart_bench::progress::Progress;
use loadpart_cuts::CutId;
use loadpart_engine::Engine;
use loadpart_exec::{AgreementOptions, CodecFloors, Prepared, codec_agreement_with};

/// What the search keeps.
pub struct Search<'a> {
    /// Widths to try, each 2..=8.
    pub widths: &'a [u8],
    /// Agreement (percent) a width must keep, plain and centered, on each cut.
    pub min_agreement: f64,
}

impl Search<'_> {
    /// Runs the check at each width from the widest down. A cut's floor is the last width
    /// before its first failure (8 if it fails at 8, which is then reported); a tensor's floor
    /// is the largest floor among the checked cuts that send it.
    pub fn run(
        &self,
        engine: &dyn Engine,
        prepared: &Prepared,
        cuts: &[CutId],
        base: &AgreementOptions,
        bar: &Progress,
    ) -> Result<CodecFloors> {
        let mut widths = self.widths.to_vec();
        widths.sort_unstable_by(|a, b| b.cmp(a));
        widths.dedup();
        let mut floor = vec![8u8; cuts.len()];
        let mut open = vec![true; cuts.len()];
        outln!("  bits  per-cut plain/centered agreement %");
        for &w in &widths {
            let opts = AgreementOptions {
                codec: base.codec.with_bits(w),
                ..base.clone()
            };
            let r = codec_agreement_with(engine, prepared, cuts, &opts, &mut |d, t| {
                bar.update(&format!("checking {w}-bit codes"), d, t)
            })?;
            let mut line = String::new();
            for (k, c) in r.cuts.iter().enumerate() {
                let centered = c.centered_agreement_pct.unwrap_or(c.agreement_pct);
                let ok = c.agreement_pct >= self.min_agreement && centered >= self.min_agreement;
                line.push_str(&format!(" {:.0}/{:.0}", c.agreement_pct, centered));
                if open[k] {
                    if ok {
                        floor[k] = w;
                    } else {
                        open[k] = false;
                    }
                }
            }
            outln!("  {w:>4} {line}");
            if !open.iter().any(|o| *o) {
                break;
            }
        }
        bar.finish();
        let dag = prepared.stages.dag();
        let mut tensors: BTreeMap<String, u8> = BTreeMap::new();
        for (id, &f) in cuts.iter().zip(&floor) {
            let cut = dag.cut_by_id(id)?;
            for t in cut.sent_tensors(dag) {
                let e = tensors.entry(dag.tensor(t).name.clone()).or_insert(2);
                *e = (*e).max(f);
            }
            outln!("  floor {f} bits: {id}");
        }
        Ok(CodecFloors {
            model_hash: prepared.identity().to_string(),
            min_agreement_pct: self.min_agreement,
            inputs: base.inputs,
            tensors,
        })
    }
}
