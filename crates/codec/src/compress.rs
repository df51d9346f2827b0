//! Payload compression with reusable contexts, and decompression capped at the declared size.
//!
//! The compressor always gets a buffer of the codec's worst-case bound, so a compressed output
//! is never truncated or empty; whether it is kept (it must beat `min_ratio`) is the caller's
//! decision. The decompressor writes into a slice of exactly the declared raw length: a frame
//! that would produce more is an error before it can allocate or write anything more
//! (decompression bombs stop at the declared size, which the caller bounded by its limits).

use crate::{Codec, CodecError, Compression};

/// Compression contexts, kept across calls (a zstd context costs an allocation to set up).
#[derive(Default)]
pub(crate) struct Compressor {
    zstd: Option<(i32, zstd::bulk::Compressor<'static>)>,
}

impl Compressor {
    /// Compresses `input` into `out` (cleared first) with `choice`; returns the codec used, or
    /// `Codec::None` with `out` empty when `choice` is `Compression::None`.
    pub(crate) fn compress(
        &mut self,
        choice: Compression,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Codec, CodecError> {
        out.clear();
        match choice {
            Compression::None => Ok(Codec::None),
            Compression::Zstd { level } => {
                let io_err = |source| CodecError::Compress {
                    codec: Codec::Zstd,
                    source,
                };
                if self.zstd.as_ref().map(|(l, _)| *l) != Some(level) {
                    let c = zstd::bulk::Compressor::new(level).map_err(io_err)?;
                    self.zstd = Some((level, c));
                }
                let (_, c) = self.zstd.as_mut().expect("set above");
                out.reserve(zstd::zstd_safe::compress_bound(input.len()));
                c.compress_to_buffer(input, out).map_err(io_err)?;
                Ok(Codec::Zstd)
            }
            Compression::Lz4 => {
                out.resize(lz4_flex::block::get_maximum_output_size(input.len()), 0);
                let n = lz4_flex::block::compress_into(input, out).map_err(|e| {
                    CodecError::Compress {
                        codec: Codec::Lz4,
                        source: std::io::Error::other(e),
                    }
                })?;
                out.truncate(n);
                Ok(Codec::Lz4)
            }
        }
    }
}

/// Decompression contexts, kept across calls.
#[derive(Default)]
pub(crate) struct Decompressor {
    zstd: Option<zstd::bulk::Decompressor<'static>>,
}

impl Decompressor {
    /// Decompresses `input` into all of `out`, whose length is the declared raw size.
    /// Producing fewer or more bytes is an error; nothing beyond `out` is ever written.
    pub(crate) fn decompress_into(
        &mut self,
        codec: Codec,
        input: &[u8],
        out: &mut [u8],
    ) -> Result<(), CodecError> {
        let declared = out.len() as u64;
        let fail = |reason: String| CodecError::Decompress { codec, reason };
        let n = match codec {
            Codec::None => {
                if input.len() != out.len() {
                    return Err(CodecError::DecompressedLength {
                        codec,
                        declared,
                        actual: input.len() as u64,
                    });
                }
                out.copy_from_slice(input);
                input.len()
            }
            Codec::Zstd | Codec::ZstdDelta => {
                // Our encoder records the content size; a frame that says otherwise is rejected
                // before decoding starts.
                match zstd::zstd_safe::get_frame_content_size(input) {
                    Ok(Some(size)) if size == declared => {}
                    Ok(Some(size)) => {
                        return Err(CodecError::DecompressedLength {
                            codec,
                            declared,
                            actual: size,
                        });
                    }
                    Ok(None) => return Err(fail("frame has no content size".into())),
                    Err(_) => return Err(fail("invalid frame header".into())),
                }
                if self.zstd.is_none() {
                    let d = zstd::bulk::Decompressor::new().map_err(|e| fail(e.to_string()))?;
                    self.zstd = Some(d);
                }
                let d = self.zstd.as_mut().expect("set above");
                d.decompress_to_buffer(input, out)
                    .map_err(|e| fail(e.to_string()))?
            }
            Codec::Lz4 => {
                lz4_flex::block::decompress_into(input, out).map_err(|e| fail(e.to_string()))?
            }
        };
        if n as u64 != declared {
            return Err(CodecError::DecompressedLength {
                codec,
                declared,
                actual: n as u64,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(choice: Compression, codec: Codec, input: &[u8]) {
        let mut c = Compressor::default();
        let mut buf = Vec::new();
        assert_eq!(c.compress(choice, input, &mut buf).unwrap(), codec);
        assert!(!buf.is_empty() || input.is_empty() || codec == Codec::None);
        let mut out = vec![0u8; input.len()];
        Decompressor::default()
            .decompress_into(codec, &buf, &mut out)
            .unwrap();
        assert_eq!(out, input);
    }

    #[test]
    fn incompressible_input_still_compresses_to_something() {
        // xorshift bytes: incompressible, output larger than input, never empty or truncated.
        let mut s = 0x9E3779B97F4A7C15u64;
        let input: Vec<u8> = (0..10_000)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                s as u8
            })
            .collect();
        round_trip(Compression::Zstd { level: 1 }, Codec::Zstd, &input);
        round_trip(Compression::Lz4, Codec::Lz4, &input);
        round_trip(Compression::Zstd { level: 1 }, Codec::Zstd, &[]);
        round_trip(Compression::Lz4, Codec::Lz4, &[]);
    }

    #[test]
    fn bomb_is_capped_at_declared_size() {
        let input = vec![0u8; 1 << 20];
        let mut c = Compressor::default();
        for (choice, codec) in [
            (Compression::Zstd { level: 1 }, Codec::Zstd),
            (Compression::Lz4, Codec::Lz4),
        ] {
            let mut buf = Vec::new();
            c.compress(choice, &input, &mut buf).unwrap();
            let mut small = vec![0u8; 1000];
            let err = Decompressor::default()
                .decompress_into(codec, &buf, &mut small)
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    CodecError::Decompress { .. } | CodecError::DecompressedLength { .. }
                ),
                "{err}"
            );
        }
    }
}
