//! The per-tensor header and its compact binary form.
//!
//! Binary layout, version 1, all integers little-endian:
//!
//! | bytes   | field                                                        |
//! |---------|--------------------------------------------------------------|
//! | 4       | magic `LPTN`                                                 |
//! | 1       | version (1)                                                  |
//! | 1       | dtype: 1 uint8, 2 float16, 3 float32                          |
//! | 1       | codec: 0 none, 1 zstd, 2 lz4, 3 zstd of row-delta uint8 codes |
//! | 1       | granularity: 0 (not uint8), 1 per row, 2 per channel         |
//! | 1       | rank r (<= 16)                                               |
//! | 8 r     | dims, u64 each                                               |
//! | 8       | raw length: payload bytes before compression                 |
//! | 8       | encoded length: payload bytes as sent                        |
//! | 4       | n, the number of quantization groups (0 unless uint8)        |
//! | 4 n     | scales, f32 each                                             |
//! | n       | zero points, u8 each                                         |
//! | 4       | CRC-32 (IEEE) of every header byte before it, then the payload |
//!
//! [`TensorHeader::parse`] checks only what it needs to read the bytes safely (magic, version,
//! codes, rank, that the declared group count fits in the input); the semantic checks live in
//! [`crate::validate`], shared with the parameter form.

use serde::{Deserialize, Serialize};

use crate::{Codec, CodecError, DecodeLimits, Dtype, Granularity, MAX_RANK, QuantParam};

/// The wire version this build writes and reads.
pub const WIRE_VERSION: u8 = 1;

/// First four bytes of a binary header.
pub const MAGIC: [u8; 4] = *b"LPTN";

/// Everything a receiver needs to decode one tensor's payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorHeader {
    /// Element type of the payload before compression.
    pub dtype: Dtype,
    /// Logical shape, dimension 0 the batch.
    pub shape: Vec<u64>,
    /// Present exactly when `dtype` is [`Dtype::U8`].
    pub quant: Option<QuantInfo>,
    /// Compression of the payload.
    pub codec: Codec,
    /// Payload bytes before compression: elements x dtype size.
    pub raw_len: u64,
    /// Payload bytes as sent.
    pub encoded_len: u64,
    /// CRC-32 of the binary header (without this field) followed by the payload.
    pub checksum: u32,
}

/// uint8 quantization parameters, one per group in row-major group order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantInfo {
    pub granularity: Granularity,
    pub params: Vec<QuantParam>,
}

impl TensorHeader {
    /// Bytes of the binary form.
    pub fn binary_len(&self) -> usize {
        4 + 5 + 8 * self.shape.len() + 16 + 4 + 5 * self.n_params() + 4
    }

    fn n_params(&self) -> usize {
        self.quant.as_ref().map_or(0, |q| q.params.len())
    }

    /// Feeds the binary form without the trailing checksum to `sink`, in order.
    fn emit(&self, sink: &mut dyn FnMut(&[u8])) {
        let gran = self.quant.as_ref().map_or(0, |q| q.granularity.code());
        sink(&MAGIC);
        sink(&[
            WIRE_VERSION,
            self.dtype.code(),
            self.codec.code(),
            gran,
            self.shape.len() as u8,
        ]);
        for d in &self.shape {
            sink(&d.to_le_bytes());
        }
        sink(&self.raw_len.to_le_bytes());
        sink(&self.encoded_len.to_le_bytes());
        sink(&(self.n_params() as u32).to_le_bytes());
        if let Some(q) = &self.quant {
            for p in &q.params {
                sink(&p.scale.to_le_bytes());
            }
            for p in &q.params {
                sink(&[p.zero_point]);
            }
        }
    }

    /// The checksum this header and `payload` should carry.
    pub fn compute_checksum(&self, payload: &[u8]) -> u32 {
        let mut h = crc32fast::Hasher::new();
        self.emit(&mut |b| h.update(b));
        h.update(payload);
        h.finalize()
    }

    /// Sets `checksum` for `payload` (the encoder calls this last). A receiver never calls it
    /// on what it received: that would make corrupted input pass (fuzzers do, on purpose).
    pub fn seal(&mut self, payload: &[u8]) {
        self.checksum = self.compute_checksum(payload);
    }

    /// Appends the binary form to `out`. Panics if rank > 255 or there are more than
    /// `u32::MAX` groups, which the encoder never produces.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        assert!(self.shape.len() <= MAX_RANK && self.n_params() <= u32::MAX as usize);
        out.reserve(self.binary_len());
        self.emit(&mut |b| out.extend_from_slice(b));
        out.extend_from_slice(&self.checksum.to_le_bytes());
    }

    /// The binary form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_to(&mut v);
        v
    }

    /// Reads a binary header from the start of `bytes`; returns it and its length in bytes.
    ///
    /// Untrusted input: allocates only after checking the rank against [`MAX_RANK`] and the
    /// group count against `limits.max_elements` and the bytes actually present.
    pub fn parse(bytes: &[u8], limits: &DecodeLimits) -> Result<(Self, usize), CodecError> {
        let mut r = Reader { bytes, pos: 0 };
        let magic = r.take(4, "magic")?;
        if magic != MAGIC {
            return Err(CodecError::BadMagic {
                found: magic.to_vec(),
                expected: MAGIC,
            });
        }
        let version = r.u8("version")?;
        if version != WIRE_VERSION {
            return Err(CodecError::UnknownVersion {
                found: i64::from(version),
                supported: WIRE_VERSION,
            });
        }
        let dtype = Dtype::from_code(r.u8("dtype")?)?;
        let codec = Codec::from_code(r.u8("codec")?)?;
        let gran = match r.u8("granularity")? {
            0 => None,
            c => Some(Granularity::from_code(c)?),
        };
        let rank = usize::from(r.u8("rank")?);
        if rank > MAX_RANK {
            return Err(CodecError::RankTooHigh {
                rank,
                max: MAX_RANK,
            });
        }
        r.need(8 * rank, "shape")?;
        let mut shape = Vec::with_capacity(rank);
        for _ in 0..rank {
            shape.push(r.u64("shape")?);
        }
        let raw_len = r.u64("raw length")?;
        let encoded_len = r.u64("encoded length")?;
        let n = u64::from(r.u32("group count")?);
        if n > limits.max_elements {
            return Err(CodecError::TooManyElements {
                elements: n,
                max: limits.max_elements,
            });
        }
        let n = n as usize;
        r.need(5 * n + 4, "quantization parameters")?;
        let quant = match gran {
            None if n == 0 => None,
            None => return Err(CodecError::Inconsistent("groups without a granularity")),
            Some(granularity) => {
                let scales = r.take(4 * n, "scales")?;
                let zps = r.take(n, "zero points")?;
                let params = scales
                    .chunks_exact(4)
                    .zip(zps)
                    .map(|(s, &zero_point)| QuantParam {
                        scale: f32::from_le_bytes([s[0], s[1], s[2], s[3]]),
                        zero_point,
                    })
                    .collect();
                Some(QuantInfo {
                    granularity,
                    params,
                })
            }
        };
        let checksum = r.u32("checksum")?;
        let header = Self {
            dtype,
            shape,
            quant,
            codec,
            raw_len,
            encoded_len,
            checksum,
        };
        Ok((header, r.pos))
    }
}

/// Bounds-checked little-endian cursor.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn need(&self, n: usize, what: &'static str) -> Result<(), CodecError> {
        let available = self.bytes.len() - self.pos;
        if n > available {
            return Err(CodecError::Truncated {
                what,
                needed: n as u64,
                available: available as u64,
            });
        }
        Ok(())
    }
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], CodecError> {
        self.need(n, what)?;
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, CodecError> {
        Ok(self.take(1, what)?[0])
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, CodecError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, CodecError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
}
