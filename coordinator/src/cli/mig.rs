//! `wattsweep mig profiles|check|layouts`: the MIG engine on the command line, for planners checking a
//! layout before they put it in a campaign.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde::Serialize;
use wattsweep_shared::gpu_model;
use wattsweep_shared::mig::{
    self, GiProfile, LayoutParseError, PlacedLayout, PlacementError, ProfileTable,
};

use super::{CliError, Outcome};
use crate::output::{Format, table, write_json};

/// `wattsweep mig …`
#[derive(Debug, Subcommand)]
pub enum MigCommand {
    /// Print a GPU model's MIG profile table.
    Profiles(GpuArgs),
    /// Check a layout on a GPU model: exit 0 and the placement when valid, exit 1 and the reason when not.
    Check {
        /// The GPU.
        #[command(flatten)]
        gpu: GpuArgs,
        /// The layout, e.g. `4g.40gb + 3g.40gb` or `7g.80gb(2c x3 + 1c)`.
        layout: String,
    },
    /// Enumerate every valid placed layout (one a line), or only the maximal ones.
    Layouts {
        /// The GPU.
        #[command(flatten)]
        gpu: GpuArgs,
        /// Only these GPU-instance profile ids (comma-separated), e.g. `19,14,9,5,0`.
        #[arg(long, value_delimiter = ',', env = "WATTSWEEP_MIG_PROFILES")]
        profiles: Option<Vec<u32>>,
        /// Only layouts to which no further instance of the allowed profiles fits.
        #[arg(long, env = "WATTSWEEP_MIG_MAXIMAL")]
        maximal: bool,
    },
}

/// Which profile table to use.
#[derive(Debug, Args)]
pub struct GpuArgs {
    /// GPU model id (a100-40gb, a100-80gb, h100-80gb, h100-94gb, h200-141gb).
    #[arg(long, env = "WATTSWEEP_GPU")]
    pub gpu: String,
    /// A profile table read from the driver (JSON, as `wattsweep-agent inventory --format json` shows
    /// it); overrides the built-in table of `--gpu`.
    #[arg(long, env = "WATTSWEEP_MIG_TABLE")]
    pub table: Option<PathBuf>,
}

impl GpuArgs {
    fn load(&self) -> Result<ProfileTable, CliError> {
        if let Some(path) = &self.table {
            let text = std::fs::read_to_string(path).map_err(|source| CliError::Read {
                path: path.clone(),
                source,
            })?;
            let table: ProfileTable = serde_json::from_str(&text).map_err(|e| {
                CliError::Usage(format!(
                    "{}:{}:{}: not a MIG profile table: {e}",
                    path.display(),
                    e.line(),
                    e.column()
                ))
            })?;
            return Ok(table);
        }
        mig::builtin_table(&self.gpu).ok_or_else(|| CliError::UnknownModel {
            given: self.gpu.clone(),
            known: gpu_model::known_ids(),
        })
    }
}

/// Run a `mig` subcommand.
pub fn run(cmd: &MigCommand, format: Format, out: &mut dyn Write) -> Result<Outcome, CliError> {
    match cmd {
        MigCommand::Profiles(gpu) => profiles(&gpu.load()?, format, out),
        MigCommand::Check { gpu, layout } => check(&gpu.load()?, layout, format, out),
        MigCommand::Layouts {
            gpu,
            profiles,
            maximal,
        } => layouts(&gpu.load()?, profiles.as_deref(), *maximal, format, out),
    }
}

fn profiles(t: &ProfileTable, format: Format, out: &mut dyn Write) -> Result<Outcome, CliError> {
    if format == Format::Json {
        write_json(out, t)?;
        return Ok(Outcome::Success);
    }
    let mut tab = table(&[
        "id",
        "profile",
        "compute",
        "memory",
        "max",
        "placements",
        "compute instances",
    ]);
    for p in &t.gpu_instance_profiles {
        tab.add_row(vec![
            p.id.to_string(),
            p.name.clone(),
            format!("{}/{}", p.compute_slices, t.compute_slices),
            format!("{:.2} GiB", p.memory_mib as f64 / 1024.0),
            p.max_count.to_string(),
            placements(p),
            compute_instances(p),
        ]);
    }
    writeln!(
        out,
        "{} ({} placement slots, {} compute slices, {} table)",
        t.model,
        t.memory_slices,
        t.compute_slices,
        source_name(t)
    )?;
    writeln!(out, "{tab}")?;
    Ok(Outcome::Success)
}

fn source_name(t: &ProfileTable) -> &'static str {
    match t.source {
        mig::TableSource::BuiltIn => "built-in",
        mig::TableSource::Driver => "driver",
        mig::TableSource::Unknown => "unknown",
    }
}

/// `{0,2,4}:2`, as `nvidia-smi mig -lgipp` writes placements.
fn placements(p: &GiProfile) -> String {
    let starts: Vec<String> = p.placements.iter().map(u8::to_string).collect();
    format!("{{{}}}:{}", starts.join(","), p.placement_size)
}

fn compute_instances(p: &GiProfile) -> String {
    p.compute_instance_profiles
        .iter()
        .map(|c| format!("{}c x{}", c.compute_slices, c.max_count))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The JSON answer of `mig check`.
#[derive(Serialize)]
struct CheckReport<'a> {
    model: &'a str,
    layout: &'a str,
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    placed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    placement: Option<&'a PlacedLayout>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// Why a layout is refused: it does not parse, or it does not place.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error("{0}")]
    Parse(#[from] LayoutParseError),
    #[error("{0}")]
    Place(#[from] PlacementError),
}

fn check(
    t: &ProfileTable,
    layout: &str,
    format: Format,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let result = mig::parse_layout(layout)
        .map_err(Refusal::from)
        .and_then(|spec| mig::place(t, &spec).map_err(Refusal::from));
    let outcome = match &result {
        Ok(_) => Outcome::Success,
        Err(_) => Outcome::Invalid,
    };
    if format == Format::Json {
        let report = CheckReport {
            model: &t.model,
            layout,
            valid: result.is_ok(),
            placed: result.as_ref().ok().map(ToString::to_string),
            placement: result.as_ref().ok(),
            reason: result.as_ref().err().map(ToString::to_string),
        };
        write_json(out, &report)?;
        return Ok(outcome);
    }
    match &result {
        Ok(placed) => {
            writeln!(out, "valid on {}: {placed}", t.model)?;
            for gi in &placed.instances {
                let end = gi.start + gi.size - 1;
                writeln!(
                    out,
                    "  {} (profile {}) slots {}..={}, {} compute slices, {} compute instance(s)",
                    gi.profile,
                    gi.profile_id,
                    gi.start,
                    end,
                    gi.compute_slices,
                    gi.compute_instances.len()
                )?;
            }
        }
        Err(Refusal::Parse(e)) => {
            writeln!(out, "invalid on {}: {e}", t.model)?;
            writeln!(out, "  {layout}")?;
            writeln!(out, "  {}^", " ".repeat(e.column.saturating_sub(1)))?;
        }
        Err(Refusal::Place(e)) => writeln!(out, "invalid on {}: {e}", t.model)?,
    }
    Ok(outcome)
}

fn layouts(
    t: &ProfileTable,
    profiles: Option<&[u32]>,
    maximal: bool,
    format: Format,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    if let Some(ids) = profiles {
        let unknown: Vec<String> = ids
            .iter()
            .filter(|id| !t.gpu_instance_profiles.iter().any(|p| p.id == **id))
            .map(u32::to_string)
            .collect();
        if !unknown.is_empty() {
            let known: Vec<String> = t
                .gpu_instance_profiles
                .iter()
                .map(|p| format!("{} ({})", p.id, p.name))
                .collect();
            return Err(CliError::Usage(format!(
                "--profiles: no profile {} on {}; its profiles are {}",
                unknown.join(", "),
                t.model,
                known.join(", ")
            )));
        }
    }
    let found = if maximal {
        mig::maximal_layouts(t, profiles)
    } else {
        mig::enumerate_layouts(t, profiles)
    };
    if format == Format::Json {
        let lines: Vec<String> = found.iter().map(ToString::to_string).collect();
        write_json(out, &lines)?;
    } else {
        for l in &found {
            writeln!(out, "{l}")?;
        }
    }
    Ok(Outcome::Success)
}
