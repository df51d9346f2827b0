//! NumPy arrays in and out. Inputs of any strides and of any dtype NumPy can cast are made
//! C-contiguous in the model's element type (one copy into the tensor the engine reads; a
//! contiguous array of the right type is copied once, never converted); outputs move into NumPy
//! without a copy: the tensor's buffer becomes the array's.

use loadpart_engine::{Tensor, TensorData};
use loadpart_graph::OnnxModel;
use loadpart_graph::onnx::DataType;
use loadpart_runtime::NamedTensors;
use numpy::ndarray::{ArrayD, IxDyn};
use numpy::{PyArray, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyDictMethods};

/// The element types a model input can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elem {
    F32,
    I64,
}

fn input_elem(model: &OnnxModel, name: &str) -> Elem {
    match model.declared(name).map(|(t, _)| t) {
        Some(DataType::Int64 | DataType::Int32) => Elem::I64,
        _ => Elem::F32,
    }
}

/// `x` (an array, or a dict of arrays by input name) as the model's named inputs, in model
/// order. A single array goes to a single-input model.
pub fn inputs(model: &OnnxModel, x: &Bound<'_, PyAny>) -> PyResult<NamedTensors> {
    let names = model.inputs();
    if let Ok(dict) = x.cast::<PyDict>() {
        for key in dict.keys() {
            let key: String = key
                .extract()
                .map_err(|_| PyTypeError::new_err("input names must be str"))?;
            if !names.contains(&key) {
                return Err(PyValueError::new_err(format!(
                    "the model has no input {key:?}; its inputs are {names:?}"
                )));
            }
        }
        return names
            .iter()
            .map(|n| {
                let v = dict.get_item(n)?.ok_or_else(|| {
                    PyValueError::new_err(format!("missing input {n:?}; the model takes {names:?}"))
                })?;
                Ok((n.clone(), tensor(&v, input_elem(model, n))?))
            })
            .collect();
    }
    match names {
        [only] => Ok(vec![(only.clone(), tensor(x, input_elem(model, only))?)]),
        _ => Err(PyTypeError::new_err(format!(
            "the model has {} inputs ({names:?}): pass a dict of arrays by name",
            names.len()
        ))),
    }
}

/// One array-like as a C-contiguous tensor of `elem`, through `numpy.ascontiguousarray` (which
/// accepts lists, any strides and any castable dtype, and raises for the rest).
fn tensor(x: &Bound<'_, PyAny>, elem: Elem) -> PyResult<Tensor> {
    let py = x.py();
    let np = py.import("numpy")?;
    let dtype = match elem {
        Elem::F32 => "float32",
        Elem::I64 => "int64",
    };
    let arr = np
        .call_method1("ascontiguousarray", (x, dtype))
        .map_err(|e| {
            if e.is_instance_of::<PyValueError>(py) || e.is_instance_of::<PyTypeError>(py) {
                e
            } else {
                PyTypeError::new_err(format!("input is not an array of numbers: {e}"))
            }
        })?;
    let out = match elem {
        Elem::F32 => {
            let a: PyReadonlyArrayDyn<'_, f32> = arr.extract()?;
            Tensor::f32(a.shape().to_vec(), a.as_slice()?.to_vec())
        }
        Elem::I64 => {
            let a: PyReadonlyArrayDyn<'_, i64> = arr.extract()?;
            Tensor::i64(a.shape().to_vec(), a.as_slice()?.to_vec())
        }
    };
    out.map_err(|e| PyValueError::new_err(e.to_string()))
}

/// A tensor as a NumPy array that owns the tensor's buffer (no copy when the buffer is a
/// vector; engine memory is copied once).
pub fn to_numpy(py: Python<'_>, t: Tensor) -> PyResult<Py<PyAny>> {
    let shape = IxDyn(&t.shape);
    let bad = |e: numpy::ndarray::ShapeError| PyValueError::new_err(e.to_string());
    Ok(match t.data {
        TensorData::F32(b) => {
            let a = ArrayD::from_shape_vec(shape, b.into_vec()).map_err(bad)?;
            PyArray::from_owned_array(py, a).into_any().unbind()
        }
        TensorData::I64(b) => {
            let a = ArrayD::from_shape_vec(shape, b.into_vec()).map_err(bad)?;
            PyArray::from_owned_array(py, a).into_any().unbind()
        }
    })
}

/// Named tensors as a dict of arrays.
pub fn to_dict(py: Python<'_>, tensors: NamedTensors) -> PyResult<Py<PyDict>> {
    let d = PyDict::new(py);
    for (name, t) in tensors {
        d.set_item(name, to_numpy(py, t)?)?;
    }
    Ok(d.unbind())
}
