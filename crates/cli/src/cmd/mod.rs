//! One module per subcommand: arguments (clap) and `run`.
pub mod bench;
pub mod check_codec;
pub mod check_split;
pub mod gen_model;
pub mod infer;
pub mod inspect;
pub mod plan;
pub mod profile;
pub mod serve;
pub mod split;
