//! The tensors that cross the engine boundary: owned [`Tensor`] for outputs, borrowed
//! [`TensorRef`] for inputs so a caller's buffer (a decoded cut tensor, say) is not copied
//! before it reaches the backend.

use std::fmt;

use crate::EngineError;

/// Element type of a tensor. Only what DNN partitioning moves around: f32 activations and
/// i64 indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    I64,
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DType::F32 => "f32",
            DType::I64 => "i64",
        })
    }
}

/// Memory an engine allocated and handed over with a run's outputs (ONNX Runtime's output
/// values): read and written in place, freed by the engine's allocator when dropped.
pub(crate) trait EngineMemory<T>: Send + Sync {
    fn as_slice(&self) -> &[T];
    fn as_mut_slice(&mut self) -> &mut [T];
}

enum Storage<T> {
    Vec(Vec<T>),
    Engine(Box<dyn EngineMemory<T>>),
}

/// Owned elements, row-major: a `Vec`, or the memory an engine wrote a run's outputs to, handed
/// over without a copy (ONNX Runtime). Either way it reads as a slice (`Deref<Target = [T]>`);
/// [`Buffer::into_vec`] copies only engine memory.
pub struct Buffer<T>(Storage<T>);

impl<T> Buffer<T> {
    pub(crate) fn from_engine(memory: Box<dyn EngineMemory<T>>) -> Self {
        Buffer(Storage::Engine(memory))
    }

    /// Whether this is engine memory handed over as it was (no copy was made).
    pub fn is_engine_memory(&self) -> bool {
        matches!(self.0, Storage::Engine(_))
    }
}

impl<T: Clone> Buffer<T> {
    /// The elements as a `Vec`: free for a `Vec`, a copy of engine memory.
    pub fn into_vec(self) -> Vec<T> {
        match self.0 {
            Storage::Vec(v) => v,
            Storage::Engine(m) => m.as_slice().to_vec(),
        }
    }
}

impl<T> std::ops::Deref for Buffer<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        match &self.0 {
            Storage::Vec(v) => v,
            Storage::Engine(m) => m.as_slice(),
        }
    }
}

impl<T> std::ops::DerefMut for Buffer<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        match &mut self.0 {
            Storage::Vec(v) => v,
            Storage::Engine(m) => m.as_mut_slice(),
        }
    }
}

impl<T> From<Vec<T>> for Buffer<T> {
    fn from(v: Vec<T>) -> Self {
        Buffer(Storage::Vec(v))
    }
}

impl<'a, T> IntoIterator for &'a Buffer<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// A clone is a `Vec`, whatever the original's storage.
impl<T: Clone> Clone for Buffer<T> {
    fn clone(&self) -> Self {
        Buffer(Storage::Vec(self.to_vec()))
    }
}

/// Equal elements, whatever the storage.
impl<T: PartialEq> PartialEq for Buffer<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: fmt::Debug> fmt::Debug for Buffer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Owned element storage, row-major.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    F32(Buffer<f32>),
    I64(Buffer<i64>),
}

impl TensorData {
    pub fn dtype(&self) -> DType {
        match self {
            TensorData::F32(_) => DType::F32,
            TensorData::I64(_) => DType::I64,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            TensorData::F32(v) => v.len(),
            TensorData::I64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An owned, row-major tensor. The invariant `shape.iter().product() == data.len()` holds for
/// tensors built with [`Tensor::new`], [`Tensor::f32`] or [`Tensor::i64`] and for every tensor
/// an engine returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: TensorData,
}

impl Tensor {
    /// Checks that `data` holds exactly `product(shape)` elements.
    pub fn new(shape: Vec<usize>, data: TensorData) -> Result<Tensor, EngineError> {
        check_len(&shape, data.len())?;
        Ok(Tensor { shape, data })
    }

    pub fn f32(shape: Vec<usize>, data: Vec<f32>) -> Result<Tensor, EngineError> {
        Tensor::new(shape, TensorData::F32(data.into()))
    }

    pub fn i64(shape: Vec<usize>, data: Vec<i64>) -> Result<Tensor, EngineError> {
        Tensor::new(shape, TensorData::I64(data.into()))
    }

    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn as_f32(&self) -> Option<&[f32]> {
        match &self.data {
            TensorData::F32(v) => Some(v),
            TensorData::I64(_) => None,
        }
    }

    pub fn as_i64(&self) -> Option<&[i64]> {
        match &self.data {
            TensorData::I64(v) => Some(v),
            TensorData::F32(_) => None,
        }
    }

    /// The elements as a `Vec` (a copy only of engine memory, see [`Buffer::into_vec`]).
    pub fn into_f32(self) -> Option<Vec<f32>> {
        match self.data {
            TensorData::F32(v) => Some(v.into_vec()),
            TensorData::I64(_) => None,
        }
    }

    /// Borrows this tensor as a run input, without copying.
    pub fn view(&self) -> TensorRef<'_> {
        let data = match &self.data {
            TensorData::F32(v) => TensorDataRef::F32(v),
            TensorData::I64(v) => TensorDataRef::I64(v),
        };
        TensorRef {
            shape: &self.shape,
            data,
        }
    }
}

/// Borrowed element storage, row-major.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TensorDataRef<'a> {
    F32(&'a [f32]),
    I64(&'a [i64]),
}

impl TensorDataRef<'_> {
    pub fn dtype(&self) -> DType {
        match self {
            TensorDataRef::F32(_) => DType::F32,
            TensorDataRef::I64(_) => DType::I64,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            TensorDataRef::F32(v) => v.len(),
            TensorDataRef::I64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A borrowed tensor: what [`crate::Model::run`] takes, so inputs are not copied on the way in
/// (ONNX Runtime reads the caller's buffer directly; tract needs one copy into its own tensor).
/// Fields are private so the length invariant always holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TensorRef<'a> {
    shape: &'a [usize],
    data: TensorDataRef<'a>,
}

impl<'a> TensorRef<'a> {
    /// Checks that `data` holds exactly `product(shape)` elements.
    pub fn new(shape: &'a [usize], data: TensorDataRef<'a>) -> Result<Self, EngineError> {
        check_len(shape, data.len())?;
        Ok(TensorRef { shape, data })
    }

    pub fn f32(shape: &'a [usize], data: &'a [f32]) -> Result<Self, EngineError> {
        TensorRef::new(shape, TensorDataRef::F32(data))
    }

    pub fn i64(shape: &'a [usize], data: &'a [i64]) -> Result<Self, EngineError> {
        TensorRef::new(shape, TensorDataRef::I64(data))
    }

    pub fn shape(&self) -> &'a [usize] {
        self.shape
    }

    pub fn data(&self) -> TensorDataRef<'a> {
        self.data
    }

    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }

    /// Copies into an owned tensor.
    pub fn to_owned(&self) -> Tensor {
        let data = match self.data {
            TensorDataRef::F32(v) => TensorData::F32(v.to_vec().into()),
            TensorDataRef::I64(v) => TensorData::I64(v.to_vec().into()),
        };
        Tensor {
            shape: self.shape.to_vec(),
            data,
        }
    }
}

impl<'a> From<&'a Tensor> for TensorRef<'a> {
    fn from(t: &'a Tensor) -> Self {
        t.view()
    }
}

fn check_len(shape: &[usize], received: usize) -> Result<(), EngineError> {
    let expected = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .unwrap_or(usize::MAX);
    if expected == received {
        Ok(())
    } else {
        Err(EngineError::BadTensor {
            shape: shape.to_vec(),
            expected,
            received,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_must_match_shape() {
        assert!(Tensor::f32(vec![2, 3], vec![0.0; 6]).is_ok());
        let err = Tensor::f32(vec![2, 3], vec![0.0; 5]).unwrap_err();
        assert!(err.to_string().contains("needs 6 elements, got 5"), "{err}");
        assert!(TensorRef::i64(&[0, 4], &[]).is_ok());
        assert!(
            TensorRef::i64(&[], &[7]).is_ok(),
            "a scalar has one element"
        );
        assert!(
            TensorRef::f32(&[usize::MAX, 2], &[]).is_err(),
            "overflow is not a panic"
        );
    }

    #[test]
    fn vec_buffers_read_write_and_compare_as_slices() {
        let mut b: Buffer<f32> = vec![1.0, 2.0].into();
        assert!(!b.is_engine_memory());
        b[1] = 3.0;
        assert_eq!(&*b, &[1.0, 3.0]);
        assert_eq!(b.clone(), b);
        assert_eq!(format!("{b:?}"), "[1.0, 3.0]");
        assert_eq!(b.iter().sum::<f32>(), 4.0);
        assert_eq!(b.into_vec(), vec![1.0, 3.0]);
    }

    #[test]
    fn accessors_and_views() {
        let t = Tensor::i64(vec![2], vec![1, 2]).unwrap();
        assert_eq!(t.as_i64(), Some(&[1i64, 2][..]));
        assert_eq!(t.as_f32(), None);
        assert_eq!(t.dtype(), DType::I64);
        let v = t.view();
        assert_eq!(v.shape(), &[2]);
        assert_eq!(v.to_owned(), t);
    }
}
