//! `loadpart check-codec`: top-1 agreement between the whole model and split execution whose
//! cut tensors went through the codec.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use loadpart_bench::outln;
use loadpart_bench::progress::Progress;
use loadpart_engine::LoadOptions;
use loadpart_exec::{
    AgreementOptions, Compression, EncodeOptions, FullOffload, Granularity, InputKind, Precision,
    codec_agreement_with, sample_cuts,
};

use crate::model_args::ModelArgs;
use planned::PlannedAt;

mod floors;
mod planned;
use crate::source::prepare_for_checks;

/// Element precision on the wire.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum PrecisionArg {
    /// Affine uint8 (4x smaller; error <= scale / 2).
    U8,
    /// Half precision (2x smaller).
    F16,
    /// Lossless f32 (agreement must be 100%).
    F32,
}

/// Which uint8 values share a scale.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum GranularityArg {
    /// Per sample and channel for feature maps with >= 40 elements per channel, per sample
    /// otherwise (the default encoding).
    Auto,
    /// One scale per sample.
    Row,
    /// One scale per sample and channel (5 header bytes each).
    Channel,
}

/// What the random inputs look like.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum InputArg {
    /// Image-like, roughly zero-mean: per-channel offsets, random low-frequency waves, noise.
    Smooth,
    /// Independent uniform [0, 1) pixels (small models often map all of them to one class).
    Uniform,
}

/// Compressor applied after quantization.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum CompressionArg {
    Zstd,
    Lz4,
    None,
}

/// Check what the codec costs in accuracy: run N seeded random inputs through the whole model
/// and, for K cuts drawn at random, through head -> encode -> decode -> tail, and report how
/// often the top-1 class (argmax of the first output per sample) agrees, with the largest
/// output error.
///
/// Weights are randomised by default (seeded): model-zoo "light" models fill every weight with
/// one constant, which makes their outputs the same for any input. The report says whether the
/// reference top-1 depends on the input at all, and compares the centered top-1 as well (each
/// output minus the whole model's mean output over the inputs), which still depends on the
/// input where a random network gives every input the same class. Exits 1 when either
/// agreement is below --min-agreement.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Random inputs per cut (run 8 at a time). 200 gives agreement to about +-0.5%.
    #[arg(long, default_value_t = 200)]
    inputs: usize,
    /// Kind of random input.
    #[arg(long, value_enum, default_value = "smooth")]
    input_kind: InputArg,
    /// Cuts drawn at random among those that send something (never full local).
    #[arg(long, default_value_t = 5)]
    cuts: usize,
    /// Also allow the full-offload cut (the raw input is encoded) in the draw.
    #[arg(long)]
    full_offload: bool,
    /// Element precision on the wire.
    #[arg(long, value_enum, default_value = "u8")]
    precision: PrecisionArg,
    /// Which uint8 values share a scale and zero point.
    #[arg(long, value_enum, default_value = "auto")]
    granularity: GranularityArg,
    /// Compressor (does not change values; zstd level 1 is the default).
    #[arg(long, value_enum, default_value = "zstd")]
    compression: CompressionArg,
    /// zstd level (-7..=22): higher levels shrink more and encode slower.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    zstd_level: i32,
    /// Bits per uint8 code (2..=8): fewer bits, a coarser grid that compresses further.
    #[arg(long, default_value_t = 8)]
    bits: u8,
    /// Encode each cut tensor as the planner would at this uplink bandwidth (e.g. 5mbit): the
    /// codec costs of every activation are measured here first (at the widths of
    /// --codec-bits), then each tensor gets the encoding that makes it fastest to deliver, as
    /// in `loadpart infer` (--precision, --granularity, --compression and --zstd-level are the
    /// default encoding it starts from; --bits is ignored).
    #[arg(long, value_parser = crate::bandwidth::parse_bandwidth)]
    planned_at: Option<f64>,
    /// With --planned-at: the code widths the planner may choose (see `loadpart profile
    /// --codec-bits`).
    #[arg(long, value_delimiter = ',', default_value = "8")]
    codec_bits: Vec<u8>,
    /// With --planned-at: per-tensor code-width floors (from --choose-bits ... --floors-out).
    #[arg(long)]
    codec_floors: Option<std::path::PathBuf>,
    /// Find per cut the fewest bits per code (of these widths, e.g. 8,7,6,5,4) that keep
    /// --min-agreement, plain and centered, and each sent tensor's floor (the largest among
    /// the cuts that send it); write them with --floors-out for `profile`/`infer
    /// --codec-floors`. Check the floors on other inputs with --planned-at and --input-seed.
    #[arg(long, value_delimiter = ',')]
    choose_bits: Vec<u8>,
    /// With --choose-bits: where to write the floors (JSON).
    #[arg(long)]
    floors_out: Option<std::path::PathBuf>,
    /// Seed of the random inputs (default: --seed), e.g. to check floors chosen on one input
    /// set against another with the same weights and cuts.
    #[arg(long)]
    input_seed: Option<u64>,
    /// With --planned-at: how many times slower than this machine the device is (its encoding
    /// time counts against the transfer time it saves). Experiments emulate phones at 4.
    #[arg(long, default_value_t = 4.0)]
    device_slowdown: f64,
    /// Send feature maps as their codes, not as row differences of them (delta coding shrinks
    /// CNN cuts 8-28% further under zstd, median; it is the default).
    #[arg(long)]
    no_delta: bool,
    /// Keep the model's own weights instead of seeded random ones.
    #[arg(long)]
    keep_weights: bool,
    /// Seed for weights, inputs and the cut draw.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Exit 1 when overall agreement (percent), plain or centered, is below this.
    #[arg(long, default_value_t = 99.0)]
    min_agreement: f64,
    /// Threads per run (0 = engine default).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Machine-readable output: agreement_pct, input_dependent, cuts[], ...
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    if args.inputs == 0 || args.cuts == 0 {
        bail!("--inputs and --cuts must be at least 1");
    }
    let model = args.model.load()?;
    let engine = args.model.engine()?;
    let prepared = prepare_for_checks(&model, args.keep_weights, args.seed)?;
    let codec = EncodeOptions {
        precision: match args.precision {
            PrecisionArg::U8 => match args.granularity {
                GranularityArg::Auto => Precision::U8Auto,
                GranularityArg::Row => Precision::U8(Granularity::PerRow),
                GranularityArg::Channel => Precision::U8(Granularity::PerChannel),
            },
            PrecisionArg::F16 => Precision::F16,
            PrecisionArg::F32 => Precision::F32,
        },
        compression: match args.compression {
            CompressionArg::Zstd => Compression::Zstd {
                level: args.zstd_level,
            },
            CompressionArg::Lz4 => Compression::Lz4,
            CompressionArg::None => Compression::None,
        },
        min_ratio: 1.0,
        bits: args.bits,
        delta: !args.no_delta,
    };
    codec.validate()?;
    let cuts = sample_cuts(
        &prepared,
        args.cuts,
        args.seed,
        if args.full_offload {
            FullOffload::Include
        } else {
            FullOffload::Exclude
        },
    );
    if cuts.is_empty() {
        bail!("{} has no cut that sends a tensor", args.model.model);
    }
    let load = LoadOptions {
        intra_threads: args.threads,
        ..Default::default()
    };
    let bar = Progress::new(!args.json && std::io::stderr().is_terminal());
    let floors = args
        .codec_floors
        .as_deref()
        .map(loadpart_exec::CodecFloors::load)
        .transpose()?;
    let per_tensor = match args.planned_at {
        Some(bytes_per_s) => {
            let plan = PlannedAt {
                bytes_per_s,
                codec_bits: &args.codec_bits,
                codec_floors: floors.as_ref(),
                device_slowdown: args.device_slowdown,
                threads: args.threads,
            };
            plan.encodings(engine.as_ref(), &prepared, &cuts, codec, &bar)?
        }
        None => Default::default(),
    };
    let opts = AgreementOptions {
        inputs: args.inputs,
        codec,
        per_tensor,
        seed: args.input_seed.unwrap_or(args.seed),
        input_kind: match args.input_kind {
            InputArg::Smooth => InputKind::Smooth,
            InputArg::Uniform => InputKind::Uniform,
        },
        load,
    };
    if !args.choose_bits.is_empty() {
        let search = floors::Search {
            widths: &args.choose_bits,
            min_agreement: args.min_agreement,
        };
        let found = search.run(engine.as_ref(), &prepared, &cuts, &opts, &bar)?;
        if let Some(path) = &args.floors_out {
            std::fs::write(path, serde_json::to_string_pretty(&found)?)
                .with_context(|| format!("writing {}", path.display()))?;
            outln!("wrote {} ({} tensors)", path.display(), found.tensors.len());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let report = codec_agreement_with(engine.as_ref(), &prepared, &cuts, &opts, &mut |d, t| {
        bar.update("checking batches", d, t)
    })?;
    bar.finish();
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        outln!(
            "{}: engine {}, {:?} + {:?}{}, {:?} inputs, {} inputs x {} cuts: top-1 agreement {:.2}% ({} of {})",
            args.model.model,
            report.engine,
            report.codec.precision,
            report.codec.compression,
            if report.codec.delta { " + delta" } else { "" },
            report.input_kind,
            report.inputs,
            report.cuts.len(),
            report.agreement_pct,
            report.agree,
            report.compared
        );
        if let Some(b) = args.planned_at {
            outln!(
                "  encoded as planned at {:.1} Mbit/s for a device {}x slower: {}",
                b * 8e-6,
                args.device_slowdown,
                planned::summary(&report.per_tensor, &codec)
            );
        }
        outln!(
            "  reference: {} distinct top-1 classes, most common {:.1}%, median top-1 margin {:.3}{}",
            report.reference_classes,
            report.majority_class_pct,
            report.median_margin,
            if report.input_dependent {
                ""
            } else {
                "; NOT input-dependent (same class for every input)"
            }
        );
        if let (Some(p), Some(k)) = (
            report.centered_agreement_pct,
            report.centered_reference_classes,
        ) {
            outln!(
                "  centered (output minus its mean over the inputs): top-1 agreement {p:.2}%, \
                 {k} distinct reference classes"
            );
        }
        outln!(
            "  {:>7} {:>7} {:>7} {:>10} {:>10} {:>6}  cut",
            "agree%",
            "ctr%",
            "ratio",
            "max abs",
            "max rel",
            "worst"
        );
        for c in &report.cuts {
            let worst = c
                .worst_disagreement_margin
                .map(|m| format!("{m:.3}"))
                .unwrap_or_else(|| "-".into());
            let centered = c
                .centered_agreement_pct
                .map(|p| format!("{p:.2}"))
                .unwrap_or_else(|| "-".into());
            outln!(
                "  {:>7.2} {:>7} {:>7.2} {:>10.3e} {:>10.3e} {:>6}  {}",
                c.agreement_pct,
                centered,
                c.ratio,
                c.max_abs_err,
                c.max_rel_err,
                worst,
                c.cut
            );
        }
    }
    let worst = report
        .centered_agreement_pct
        .map_or(report.agreement_pct, |c| c.min(report.agreement_pct));
    Ok(if worst >= args.min_agreement {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
