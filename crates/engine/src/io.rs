//! What a model's inputs and outputs look like, and the one place where named run inputs are
//! checked against them. Both backends call [`order_inputs`] first, so every engine rejects a
//! bad request with the same typed error before the backend sees it.

use std::fmt;

use crate::{DType, EngineError, TensorRef};

/// One dimension of a declared input or output shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dim {
    /// A fixed size.
    Fixed(usize),
    /// A dynamic size; the symbol (ONNX `dim_param`, e.g. `"N"`) when the model names it, `"?"`
    /// otherwise. Inputs that share a named symbol must agree on its value.
    Dynamic(String),
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Dynamic(s) => f.write_str(s),
        }
    }
}

/// Name, element type and declared shape of one model input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoInfo {
    pub name: String,
    pub dtype: DType,
    pub shape: Vec<Dim>,
}

impl IoInfo {
    /// The shape as text, `[N,3,224,224]`.
    pub fn shape_string(&self) -> String {
        let dims: Vec<String> = self.shape.iter().map(|d| d.to_string()).collect();
        format!("[{}]", dims.join(","))
    }
}

/// Checks named `given` inputs against the model's `declared` inputs and returns them in the
/// model's input order. Rejects unknown, duplicate and missing names, wrong element types, wrong
/// ranks, wrong fixed dimensions, and one named symbol bound to two different sizes.
pub fn order_inputs<'a>(
    declared: &[IoInfo],
    given: &[(&str, TensorRef<'a>)],
) -> Result<Vec<TensorRef<'a>>, EngineError> {
    let names = || declared.iter().map(|i| i.name.clone()).collect::<Vec<_>>();
    let mut slots: Vec<Option<TensorRef<'a>>> = vec![None; declared.len()];
    for (name, tensor) in given {
        let ix = declared
            .iter()
            .position(|d| d.name == *name)
            .ok_or_else(|| EngineError::UnknownInput {
                received: (*name).to_owned(),
                expected: names(),
            })?;
        if slots[ix].replace(*tensor).is_some() {
            return Err(EngineError::DuplicateInput {
                name: (*name).to_owned(),
            });
        }
    }
    let mut bound: Vec<(&str, usize)> = Vec::new();
    let mut ordered = Vec::with_capacity(declared.len());
    for (info, slot) in declared.iter().zip(slots) {
        let tensor = slot.ok_or_else(|| EngineError::MissingInput {
            name: info.name.clone(),
            expected: names(),
        })?;
        check_one(info, &tensor, &mut bound)?;
        ordered.push(tensor);
    }
    Ok(ordered)
}

fn check_one<'d>(
    info: &'d IoInfo,
    tensor: &TensorRef<'_>,
    bound: &mut Vec<(&'d str, usize)>,
) -> Result<(), EngineError> {
    if tensor.dtype() != info.dtype {
        return Err(EngineError::DtypeMismatch {
            name: info.name.clone(),
            expected: info.dtype,
            received: tensor.dtype(),
        });
    }
    let mismatch = || EngineError::ShapeMismatch {
        name: info.name.clone(),
        expected: info.shape_string(),
        received: tensor.shape().to_vec(),
    };
    if tensor.shape().len() != info.shape.len() {
        return Err(mismatch());
    }
    for (dim, &got) in info.shape.iter().zip(tensor.shape()) {
        match dim {
            Dim::Fixed(n) if *n != got => return Err(mismatch()),
            Dim::Fixed(_) => {}
            Dim::Dynamic(sym) if sym == "?" || sym.is_empty() => {}
            Dim::Dynamic(sym) => match bound.iter().find(|(s, _)| s == sym) {
                Some(&(_, v)) if v != got => return Err(mismatch()),
                Some(_) => {}
                None => bound.push((sym, got)),
            },
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, shape: Vec<Dim>) -> IoInfo {
        IoInfo {
            name: name.into(),
            dtype: DType::F32,
            shape,
        }
    }

    fn declared() -> Vec<IoInfo> {
        let n = || Dim::Dynamic("N".into());
        vec![
            info("a", vec![n(), Dim::Fixed(2)]),
            info("b", vec![n(), Dim::Dynamic("?".into())]),
        ]
    }

    #[test]
    fn orders_by_model_input_order() {
        let (a, b) = ([1.0f32, 2.0], [3.0f32; 3]);
        let ta = TensorRef::f32(&[1, 2], &a).unwrap();
        let tb = TensorRef::f32(&[1, 3], &b).unwrap();
        let out = order_inputs(&declared(), &[("b", tb), ("a", ta)]).unwrap();
        assert_eq!(out, vec![ta, tb]);
    }

    #[test]
    fn rejects_bad_requests_with_typed_errors() {
        let a = [0.0f32; 4];
        let ta = TensorRef::f32(&[2, 2], &a).unwrap();
        let tb = TensorRef::f32(&[1, 4], &a).unwrap();
        let d = declared();
        let cases: Vec<(Vec<(&str, TensorRef)>, &str)> = vec![
            (vec![("x", ta)], "unknown input \"x\""),
            (vec![("a", ta), ("a", ta)], "given more than once"),
            (vec![("a", ta)], "missing input \"b\""),
            (
                vec![("a", tb), ("b", tb)],
                "must have shape [N,2], got [1, 4]",
            ),
            (
                vec![("a", ta), ("b", tb)],
                "must have shape [N,?], got [1, 4]",
            ),
        ];
        for (given, want) in cases {
            let err = order_inputs(&d, &given).unwrap_err().to_string();
            assert!(err.contains(want), "{err:?} should contain {want:?}");
        }
        let i = [0i64; 4];
        let ti = TensorRef::i64(&[2, 2], &i).unwrap();
        let err = order_inputs(&d, &[("a", ti), ("b", tb)]).unwrap_err();
        assert!(matches!(err, EngineError::DtypeMismatch { .. }), "{err}");
    }
}
