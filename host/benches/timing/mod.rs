//! Timing shared by the validator benches: each figure is a median, so one slow call
//! (a page fault, the other core busy) does not move it.

use std::time::Instant;

/// The median wall time of `iterations` calls of `f`, in milliseconds.
pub fn p50_ms(iterations: usize, f: &dyn Fn()) -> f64 {
    let mut ms: Vec<f64> = (0..iterations)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    ms[ms.len() / 2]
}
