//! The crate's one error type.
//!
//! Every failure of encoding or decoding is a [`CodecError`] variant. Messages quote the limit
//! and the value received so that a rejected request can be diagnosed from the log line alone,
//! and [`CodecError::kind`] gives a stable snake_case label for failure metrics.

use crate::Codec;

/// Everything that can go wrong while encoding, parsing, validating or decoding a tensor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The input held NaN or an infinity; they have no quantized representation and always
    /// mean a bug upstream.
    #[error("element {index} is {value}: NaN and infinity cannot be encoded")]
    NonFinite { index: usize, value: f32 },

    /// A value does not fit the target type (f16: |x| <= 65504).
    #[error("element {index} is {value}: outside the {dtype} range of +/-{max}")]
    OutOfRange {
        index: usize,
        value: f32,
        dtype: &'static str,
        max: f32,
    },

    /// A quantization group spans a range so wide that its dequantized grid would overflow f32.
    #[error("group {group} spans [{min}, {max}]: too wide for uint8 quantization in f32")]
    RangeTooWide { group: usize, min: f32, max: f32 },

    /// The shape's element count and the data length disagree.
    #[error("shape {shape:?} holds {expected} elements but {actual} were given")]
    ShapeMismatch {
        shape: Vec<u64>,
        expected: u64,
        actual: u64,
    },

    /// The product of the dimensions overflowed u64.
    #[error("shape {shape:?}: element count overflows u64")]
    ShapeOverflow { shape: Vec<u64> },

    /// More dimensions than [`crate::MAX_RANK`].
    #[error("rank {rank} exceeds the maximum of {max}")]
    RankTooHigh { rank: usize, max: usize },

    /// The tensor has more elements than the decoder's limit allows (for an empty tensor: the
    /// product of its nonzero dims).
    #[error("tensor has {elements} elements; the limit is {max}")]
    TooManyElements { elements: u64, max: u64 },

    /// A byte count (named by `what`) exceeds the decoder's limit.
    #[error("{what} is {bytes} bytes; the limit is {max}")]
    TooManyBytes {
        what: &'static str,
        bytes: u64,
        max: u64,
    },

    /// The blob does not start with the header magic.
    #[error("bad magic {found:02x?}: expected {expected:02x?}")]
    BadMagic { found: Vec<u8>, expected: [u8; 4] },

    /// The header's version is not one this build can read.
    #[error("wire version {found} is not supported (this build reads version {supported})")]
    UnknownVersion { found: i64, supported: u8 },

    /// Unknown element type code or name.
    #[error("unknown dtype {0:?}")]
    UnknownDtype(String),

    /// Unknown compression codec code or name.
    #[error("unknown codec {0:?}")]
    UnknownCodec(String),

    /// Unknown quantization granularity code or name.
    #[error("unknown quantization granularity {0:?}")]
    UnknownGranularity(String),

    /// The input ended before a field was complete.
    #[error("truncated {what}: needs {needed} bytes, {available} available")]
    Truncated {
        what: &'static str,
        needed: u64,
        available: u64,
    },

    /// The header says the payload has `declared` bytes but `actual` were received.
    #[error("payload is {actual} bytes but the header declares {declared}")]
    PayloadLength { declared: u64, actual: u64 },

    /// The header's uncompressed length disagrees with its shape and dtype.
    #[error("raw length {declared} bytes does not match shape x dtype = {expected} bytes")]
    RawLength { declared: u64, expected: u64 },

    /// The number of quantization parameters disagrees with the shape and granularity.
    #[error("{what}: {actual} quantization parameters, the shape needs {expected}")]
    ParamCount {
        what: &'static str,
        expected: u64,
        actual: u64,
    },

    /// A scale that is not finite and positive, or whose grid overflows f32.
    #[error("group {group}: scale {scale} with zero point {zero_point} is invalid")]
    InvalidScale {
        group: usize,
        scale: f32,
        zero_point: u8,
    },

    /// Header fields contradict each other (e.g. uncompressed but sizes differ).
    #[error("inconsistent header: {0}")]
    Inconsistent(&'static str),

    /// The checksum over header and payload does not match: the tensor was corrupted.
    #[error("checksum mismatch: header says {declared:#010x}, computed {computed:#010x}")]
    Checksum { declared: u32, computed: u32 },

    /// The compressed payload could not be decompressed (corrupt, or larger than declared).
    #[error("{codec:?} decompression failed: {reason}")]
    Decompress { codec: Codec, reason: String },

    /// Decompression produced a different number of bytes than the header declares.
    #[error("{codec:?} decompressed to {actual} bytes, the header declares {declared}")]
    DecompressedLength {
        codec: Codec,
        declared: u64,
        actual: u64,
    },

    /// Compression failed (not "did not pay": that falls back to raw).
    #[error("{codec:?} compression failed")]
    Compress {
        codec: Codec,
        #[source]
        source: std::io::Error,
    },

    /// The caller's output buffer does not have the tensor's element count.
    #[error("output buffer holds {actual} f32, the tensor has {expected} elements")]
    OutputLength { expected: u64, actual: u64 },

    /// A tensor pushed into a batch has different non-batch dimensions.
    #[error("tensor shape {actual:?} does not fit a batch of rows shaped {expected:?}")]
    BatchShape {
        expected: Vec<usize>,
        actual: Vec<u64>,
    },

    /// A tensor pushed into a batch would exceed its row capacity.
    #[error("batch holds {rows} of {capacity} rows; {adding} more do not fit")]
    BatchFull {
        rows: usize,
        adding: u64,
        capacity: usize,
    },

    /// A required protocol parameter is absent.
    #[error("missing tensor parameter {0:?}")]
    MissingParam(&'static str),

    /// A parameter with the codec's prefix that this version does not define.
    #[error("unknown tensor parameter {0:?}")]
    UnknownParam(String),

    /// A protocol parameter appears twice.
    #[error("duplicate tensor parameter {0:?}")]
    DuplicateParam(String),

    /// A protocol parameter has the wrong type or an unparsable value.
    #[error("tensor parameter {name:?}: {reason}")]
    BadParam { name: &'static str, reason: String },

    /// An encoder option is out of range.
    #[error("invalid option: {0}")]
    InvalidOption(String),
}

impl loadpart_errors::Classify for CodecError {
    fn kind(&self) -> loadpart_errors::ErrorKind {
        use loadpart_errors::ErrorKind::*;
        match self {
            CodecError::Compress { .. }
            | CodecError::OutputLength { .. }
            | CodecError::BatchFull { .. } => Internal,
            CodecError::NonFinite { .. }
            | CodecError::OutOfRange { .. }
            | CodecError::RangeTooWide { .. }
            | CodecError::ShapeMismatch { .. }
            | CodecError::ShapeOverflow { .. }
            | CodecError::RankTooHigh { .. }
            | CodecError::TooManyElements { .. }
            | CodecError::TooManyBytes { .. }
            | CodecError::BadMagic { .. }
            | CodecError::UnknownVersion { .. }
            | CodecError::UnknownDtype(_)
            | CodecError::UnknownCodec(_)
            | CodecError::UnknownGranularity(_)
            | CodecError::Truncated { .. }
            | CodecError::PayloadLength { .. }
            | CodecError::RawLength { .. }
            | CodecError::ParamCount { .. }
            | CodecError::InvalidScale { .. }
            | CodecError::Inconsistent(_)
            | CodecError::Checksum { .. }
            | CodecError::Decompress { .. }
            | CodecError::DecompressedLength { .. }
            | CodecError::BatchShape { .. }
            | CodecError::MissingParam(_)
            | CodecError::UnknownParam(_)
            | CodecError::DuplicateParam(_)
            | CodecError::BadParam { .. }
            | CodecError::InvalidOption(_) => Caller,
        }
    }

    fn label(&self) -> &'static str {
        match self {
            CodecError::NonFinite { .. } => "non_finite",
            CodecError::OutOfRange { .. } => "out_of_range",
            CodecError::RangeTooWide { .. } => "range_too_wide",
            CodecError::ShapeMismatch { .. } => "shape_mismatch",
            CodecError::ShapeOverflow { .. } => "shape_overflow",
            CodecError::RankTooHigh { .. } => "rank_too_high",
            CodecError::TooManyElements { .. } => "too_many_elements",
            CodecError::TooManyBytes { .. } => "too_many_bytes",
            CodecError::BadMagic { .. } => "bad_magic",
            CodecError::UnknownVersion { .. } => "unknown_version",
            CodecError::UnknownDtype(_) => "unknown_dtype",
            CodecError::UnknownCodec(_) => "unknown_codec",
            CodecError::UnknownGranularity(_) => "unknown_granularity",
            CodecError::Truncated { .. } => "truncated",
            CodecError::PayloadLength { .. } => "payload_length",
            CodecError::RawLength { .. } => "raw_length",
            CodecError::ParamCount { .. } => "param_count",
            CodecError::InvalidScale { .. } => "invalid_scale",
            CodecError::Inconsistent(_) => "inconsistent_header",
            CodecError::Checksum { .. } => "checksum",
            CodecError::Decompress { .. } => "decompress",
            CodecError::DecompressedLength { .. } => "decompressed_length",
            CodecError::Compress { .. } => "compress",
            CodecError::OutputLength { .. } => "output_length",
            CodecError::BatchShape { .. } => "batch_shape",
            CodecError::BatchFull { .. } => "batch_full",
            CodecError::MissingParam(_) => "missing_param",
            CodecError::UnknownParam(_) => "unknown_param",
            CodecError::DuplicateParam(_) => "duplicate_param",
            CodecError::BadParam { .. } => "bad_param",
            CodecError::InvalidOption(_) => "invalid_option",
        }
    }
}
