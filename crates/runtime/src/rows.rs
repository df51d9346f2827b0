//! Handing each request its rows of a batched output.

use loadpart_engine::{Tensor, TensorData};

use crate::{NamedTensors, RuntimeError};

/// Splits every output along dimension 0 into consecutive blocks of `rows[i]` rows, one
/// [`NamedTensors`] per request, in `rows` order. Outputs whose dimension 0 is not the sum of
/// `rows` are an error (a model that does not batch along dim 0).
pub fn split_rows(
    outputs: NamedTensors,
    rows: &[usize],
) -> Result<Vec<NamedTensors>, RuntimeError> {
    let total: usize = rows.iter().sum();
    let mut per_request: Vec<NamedTensors> = vec![Vec::with_capacity(outputs.len()); rows.len()];
    for (name, tensor) in outputs {
        let bad = || RuntimeError::Rows {
            name: name.clone(),
            shape: tensor.shape.clone(),
            rows: rows.to_vec(),
        };
        if tensor.shape.first() != Some(&total) {
            return Err(bad());
        }
        if rows.len() == 1 {
            per_request[0].push((name, tensor));
            continue;
        }
        let per_row = tensor.len().checked_div(total).unwrap_or(0);
        let mut start = 0;
        for (i, &n) in rows.iter().enumerate() {
            let range = start * per_row..(start + n) * per_row;
            start += n;
            let data = match &tensor.data {
                TensorData::F32(v) => TensorData::F32(v[range].to_vec().into()),
                TensorData::I64(v) => TensorData::I64(v[range].to_vec().into()),
            };
            let mut shape = tensor.shape.clone();
            shape[0] = n;
            per_request[i].push((name.clone(), Tensor::new(shape, data).map_err(|_| bad())?));
        }
    }
    Ok(per_request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_each_output_by_rows() {
        let y = Tensor::f32(vec![3, 2], vec![0., 1., 2., 3., 4., 5.]).unwrap();
        let k = Tensor::i64(vec![3], vec![7, 8, 9]).unwrap();
        let parts = split_rows(vec![("y".into(), y), ("k".into(), k)], &[1, 2]).unwrap();
        assert_eq!(
            parts[0][0].1,
            Tensor::f32(vec![1, 2], vec![0., 1.]).unwrap()
        );
        assert_eq!(
            parts[1][0].1,
            Tensor::f32(vec![2, 2], vec![2., 3., 4., 5.]).unwrap()
        );
        assert_eq!(parts[1][1].1, Tensor::i64(vec![2], vec![8, 9]).unwrap());
    }

    #[test]
    fn rows_that_do_not_add_up_are_an_error() {
        let y = Tensor::f32(vec![3, 2], vec![0.; 6]).unwrap();
        let err = split_rows(vec![("y".into(), y)], &[1, 1]).unwrap_err();
        assert!(err.to_string().contains("into rows [1, 1]"), "{err}");
    }
}
