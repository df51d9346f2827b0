//! After the story: the table per phase and policy, the SVG timeline, and the records file.

use anyhow::{Context, Result};

use super::args::Args;
use super::record::summary;
use super::setup::phone_name;
use super::story::Told;
use super::timeline;
use crate::loadgen::LoadGenReport;

/// Prints the summary and writes the timeline (and the records when asked).
pub fn write(args: &Args, model_name: &str, told: &Told, synthetic: &LoadGenReport) -> Result<()> {
    let records = &told.records;
    let names: Vec<&str> = told.phases.iter().map(|p| p.name).collect();
    println!();
    println!(
        "{} requests from {} devices in {:.0} s; synthetic devices sent {} ({} answered, {} refused for load, {} past deadline)",
        records.len(),
        args.devices,
        args.seconds,
        synthetic.arrivals,
        synthetic.ok,
        synthetic.rejected,
        synthetic.deadline
    );
    println!();
    print!("{}", summary(records, &names));
    let phase_spans: Vec<(f64, f64, String)> = told
        .spans
        .iter()
        .zip(&told.phases)
        .map(|(&(a, b), p)| (a, b, p.short.to_string()))
        .collect();
    let device_names: Vec<String> = (0..args.devices).map(phone_name).collect();
    timeline::write(
        &args.plot,
        records,
        &told.load_points,
        &phase_spans,
        &device_names,
        &format!(
            "loadpart demo: {} on {} devices {}x slower than the server",
            model_name, args.devices, args.device_slowdown
        ),
    )?;
    println!("\ntimeline: {}", args.plot.display());
    if let Some(path) = &args.records {
        let mut text = String::new();
        for r in records {
            text.push_str(&serde_json::to_string(r)?);
            text.push('\n');
        }
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
