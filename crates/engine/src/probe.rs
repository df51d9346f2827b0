//! What a backend actually read, so that a caller can prove its buffers were not copied.
//!
//! ONNX Runtime reads input tensors in place: [`last_input_addresses`] gives the data addresses
//! ONNX Runtime itself reports (`GetTensorMutableData`) for the inputs of this thread's most
//! recent run, in model input order. A server that decoded a batch into its own buffer can check
//! that the engine read that buffer and not a copy. Tract copies inputs into tensors it owns and
//! records nothing.

use std::cell::RefCell;

thread_local! {
    static LAST_INPUTS: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// Data addresses of the inputs of this thread's last ONNX Runtime run, as ONNX Runtime saw them.
pub fn last_input_addresses() -> Vec<usize> {
    LAST_INPUTS.with(|v| v.borrow().clone())
}

pub(crate) fn record(addresses: Vec<usize>) {
    LAST_INPUTS.with(|v| *v.borrow_mut() = addresses);
}
