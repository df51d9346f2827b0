//! Batch assembly: many requests' tensors decoded straight into one contiguous buffer.
//!
//! The server's batcher groups requests that share a cut; their tensors differ only in
//! dimension 0. [`BatchAssembler`] owns one buffer of `capacity_rows x row` f32, allocated once
//! and reused across batches, and decodes each pushed tensor directly into its next rows: no
//! per-request f32 vector, no concatenation copy.

use std::ops::Range;

use crate::{CodecError, Decoder, ValidTensor};

/// A batch buffer being filled row by row.
#[derive(Debug)]
pub struct BatchAssembler {
    row_shape: Vec<usize>,
    row_len: usize,
    capacity: usize,
    rows: usize,
    buf: Vec<f32>,
    decoder: Decoder,
}

impl BatchAssembler {
    /// A batch of up to `capacity_rows` rows shaped `row_shape` (the non-batch dims).
    /// Allocates `capacity_rows x product(row_shape)` f32 now; errors if that overflows.
    pub fn new(row_shape: &[usize], capacity_rows: usize) -> Result<Self, CodecError> {
        let shape64: Vec<u64> = std::iter::once(capacity_rows)
            .chain(row_shape.iter().copied())
            .map(|d| d as u64)
            .collect();
        let overflow = || CodecError::ShapeOverflow {
            shape: shape64.clone(),
        };
        let row_len = row_shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(overflow)?;
        let total = row_len.checked_mul(capacity_rows).ok_or_else(overflow)?;
        Ok(Self {
            row_shape: row_shape.to_vec(),
            row_len,
            capacity: capacity_rows,
            rows: 0,
            buf: vec![0.0; total],
            decoder: Decoder::new(),
        })
    }

    /// Decodes `t` (shape `[n, row_shape..]`) into the next `n` rows and returns their range.
    /// On any error the batch is unchanged (rows written by a failed decode are not counted).
    pub fn push(&mut self, t: &ValidTensor<'_>) -> Result<Range<usize>, CodecError> {
        let shape = t.shape();
        if shape.len() != self.row_shape.len() + 1 || shape[1..] != self.row_shape[..] {
            return Err(CodecError::BatchShape {
                expected: self.row_shape.clone(),
                actual: t.header().shape.clone(),
            });
        }
        let n = shape[0];
        if n > self.capacity - self.rows {
            return Err(CodecError::BatchFull {
                rows: self.rows,
                adding: n as u64,
                capacity: self.capacity,
            });
        }
        let start = self.rows;
        let range = start * self.row_len..(start + n) * self.row_len;
        self.decoder.decode_into(t, &mut self.buf[range])?;
        self.rows += n;
        Ok(start..start + n)
    }

    /// Rows filled so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Most rows this batch holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Shape of the filled batch: `[rows, row_shape..]`.
    pub fn shape(&self) -> Vec<usize> {
        std::iter::once(self.rows)
            .chain(self.row_shape.iter().copied())
            .collect()
    }

    /// The filled rows, row-major, ready to hand to the engine.
    pub fn data(&self) -> &[f32] {
        &self.buf[..self.rows * self.row_len]
    }

    /// Mutable view of the filled rows.
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.buf[..self.rows * self.row_len]
    }

    /// Empties the batch, keeping the buffer for the next one.
    pub fn clear(&mut self) {
        self.rows = 0;
    }
}
