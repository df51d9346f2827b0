//! One loaded model shared by 8 threads, mixing batch sizes, each result checked.

use loadpart_engine::{EngineKind, TensorRef, time_runs};

use crate::dynamic::{check, load, run};
use crate::small_net::{self, C_IN, CLASSES, HW, SmallNet};

pub fn shared(kind: EngineKind) {
    let net = SmallNet::new(3);
    let model = load(kind, &net);
    std::thread::scope(|scope| {
        for t in 0..8u64 {
            let (model, net) = (&model, &net);
            scope.spawn(move || {
                for round in 0..4u64 {
                    let batch = 1 + ((t + round) % 4) as usize;
                    let seed = t * 100 + round;
                    check(net, &run(&**model, batch, seed), batch, seed);
                }
            });
        }
    });
}

pub fn timed(kind: EngineKind) {
    let net = SmallNet::new(5);
    let model = load(kind, &net);
    let (x, s) = small_net::inputs(2, 1);
    let (xs, ss) = ([2, C_IN, HW, HW], [2, CLASSES]);
    let inputs = [
        ("x", TensorRef::f32(&xs, &x).unwrap()),
        ("s", TensorRef::f32(&ss, &s).unwrap()),
    ];
    let times = time_runs(&*model, &inputs, 2, 5).unwrap();
    assert_eq!(times.len(), 5);
    assert!(times.iter().all(|d| !d.is_zero()), "{times:?}");
}
