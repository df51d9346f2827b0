//! One module per subcommand: arguments (clap) and `run`.
pub mod bench;
pub mod bench_compare;
pub mod bench_flood;
pub mod bench_run;
pub mod check_codec;
pub mod check_split;
pub mod demo;
pub mod gen_model;
pub mod infer;
pub mod inspect;
pub mod plan;
pub mod profile;
pub mod serve;
pub mod split;
