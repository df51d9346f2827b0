//! Randomised hysteresis: a device keeps its previous cut unless the new best is clearly better.
//!
//! Many load-aware devices that see the same load report at the same moment would all jump to
//! the same cut when the server looks idle, load it together, and all jump away together
//! (herding). A device that moves only when the best cut beats its current one by more than a
//! margin of its own, drawn at random once per device, moves at a different load from its
//! neighbours: the first movers change the load before the others follow, and a small change
//! of conditions no longer flips every device at once. The price is at most the margin: a kept
//! cut is predicted within `margin` of the best one.

use parking_lot::Mutex;
use std::collections::HashMap;

use loadpart_cuts::Cut;

use crate::Decision;

/// One device's hysteresis: its margin and the cut it chose last under each policy (a device
/// that alternates policies, as the evaluation's measured client does, keeps one history per
/// policy).
#[derive(Debug, Default)]
pub struct Hysteresis {
    margin: f64,
    previous: Mutex<HashMap<String, Cut>>,
}

impl Hysteresis {
    /// A relative margin (0.05: keep a cut predicted up to 5% slower than the best). A margin
    /// that is not finite and positive counts as 0 (no hysteresis).
    pub fn new(margin: f64) -> Self {
        let margin = if margin.is_finite() && margin > 0.0 {
            margin
        } else {
            0.0
        };
        Self {
            margin,
            previous: Mutex::default(),
        }
    }

    /// A margin drawn uniformly from `[0, max]` by `unit`, a number in `[0, 1)` from the
    /// device's own random source: each device gets its own.
    pub fn drawn(max: f64, unit: f64) -> Self {
        Self::new(max * unit.clamp(0.0, 1.0))
    }

    /// The margin in use.
    pub fn margin(&self) -> f64 {
        self.margin
    }

    /// `best` (the pick of `policy`), or the previous cut under `policy`, priced now by
    /// `price`, when its predicted latency is within the margin of `best`'s; remembers the
    /// choice. `price` is called only when the previous cut differs from `best`'s and the
    /// margin is positive.
    pub fn choose(
        &self,
        policy: &str,
        best: Decision,
        price: impl FnOnce(&Cut) -> Decision,
    ) -> Decision {
        if self.margin <= 0.0 {
            return best;
        }
        let mut history = self.previous.lock();
        let chosen = match history.get(policy) {
            Some(p) if *p != best.cut => {
                let kept = price(p);
                if kept.predicted.total() <= best.predicted.total() * (1.0 + self.margin) {
                    kept
                } else {
                    best
                }
            }
            _ => best,
        };
        match history.get_mut(policy) {
            Some(p) => p.clone_from(&chosen.cut),
            None => {
                history.insert(policy.to_owned(), chosen.cut.clone());
            }
        }
        chosen
    }
}
