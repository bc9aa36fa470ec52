//! `wattsweep-agent inventory`: the node's inventory as tables (with each GPU's MIG profile table
//! laid out like `nvidia-smi mig -lgip` / `-lgipp`, so the two can be compared) or as JSON.

use std::io::Write;

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use wattsweep_shared::mig::ProfileTable;
use wattsweep_shared::model::NodeInventory;

use super::{CliError, InventoryArgs, InventoryFormat, backend};
use crate::inventory::{host_facts, node_id_from_hostname, node_inventory};

pub(super) fn run(args: &InventoryArgs) -> Result<(), CliError> {
    let gpus = backend(&args.backend)?;
    let host = host_facts()?;
    let node_id = args
        .node_id
        .clone()
        .unwrap_or_else(|| node_id_from_hostname(&host.hostname));
    let inv = node_inventory(&node_id, &host, gpus.as_ref())?;
    let mut out = std::io::stdout().lock();
    match args.format {
        InventoryFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &inv).map_err(std::io::Error::other)?;
            writeln!(out)?;
        }
        InventoryFormat::Table => write!(out, "{}", render(&inv))?,
    }
    Ok(())
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.iter().copied());
    t
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// The inventory as text tables.
pub(super) fn render(inv: &NodeInventory) -> String {
    let runtimes: Vec<&str> = inv.runtimes.iter().map(|r| r.as_str()).collect();
    let ipmi = serde_json::to_value(inv.ipmi)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let mut s = format!(
        "node {} (host {}, agent {}): {} CPUs, {} MiB memory, runtimes: {}, IPMI device: {}\n",
        inv.node_id,
        inv.hostname,
        inv.agent_version,
        inv.cpus,
        inv.memory_mib,
        runtimes.join(", "),
        ipmi
    );
    if inv.gpus.is_empty() {
        s.push_str("no GPU\n");
        return s;
    }
    let mut t = table(&[
        "GPU",
        "name",
        "model",
        "UUID",
        "memory MiB",
        "power limit W",
        "driver",
        "CUDA",
        "MIG",
        "MPS",
        "MIG table",
    ]);
    for g in &inv.gpus {
        let mig = match (g.mig_capable, g.mig_enabled) {
            (false, _) => "not capable",
            (true, false) => "disabled",
            (true, true) => "enabled",
        };
        let table_desc = match &g.profile_table {
            Some(p) => format!(
                "{} profiles ({:?})",
                p.gpu_instance_profiles.len(),
                p.source
            ),
            None if g.mig_capable => "none from the driver".to_string(),
            None => "-".to_string(),
        };
        t.add_row(vec![
            format!(
                "{}{}",
                g.index,
                if g.simulated { " (simulated)" } else { "" }
            ),
            g.name.clone(),
            g.model_id.clone().unwrap_or_else(|| "unknown".into()),
            g.uuid.clone(),
            g.memory_mib.to_string(),
            format!("{:.0}", g.power_limit_w),
            g.driver_version.clone(),
            g.cuda_version.clone(),
            mig.to_string(),
            yes(g.mps_capable).to_string(),
            table_desc,
        ]);
    }
    s.push_str(&format!("{t}\n"));
    for g in &inv.gpus {
        if let Some(p) = &g.profile_table {
            s.push_str(&format!(
                "\nGPU {}: MIG GPU-instance profiles as the driver reports them\n",
                g.index
            ));
            s.push_str(&format!("{}\n", profile_rows(p)));
        } else if g.mig_capable {
            s.push_str(&format!(
                "\nGPU {}: the driver reported no MIG profile{} (see the log above for its answer)\n",
                g.index,
                if g.mig_enabled { "" } else { " while MIG mode is disabled" }
            ));
        }
        if let Some(layout) = &g.current_layout {
            let parts: Vec<String> = layout
                .instances
                .iter()
                .map(|i| {
                    let cis: Vec<String> = i
                        .compute_instances
                        .iter()
                        .map(|c| format!("{}c@{}", c.compute_slices, c.start))
                        .collect();
                    format!("{}@{}({})", i.profile, i.start, cis.join(" + "))
                })
                .collect();
            let text = if parts.is_empty() {
                "no instance".to_string()
            } else {
                parts.join(" + ")
            };
            s.push_str(&format!("GPU {}: current MIG layout: {text}\n", g.index));
        }
    }
    s
}

/// A profile table in `nvidia-smi mig -lgip` columns plus `-lgipp` placements.
pub(super) fn profile_rows(p: &ProfileTable) -> Table {
    let mut t = table(&[
        "ID",
        "name",
        "instances",
        "memory GiB",
        "slices",
        "placements {start}:size",
        "CI profiles (id:Nc)",
    ]);
    for gi in &p.gpu_instance_profiles {
        let starts: Vec<String> = gi.placements.iter().map(u8::to_string).collect();
        let cis: Vec<String> = gi
            .compute_instance_profiles
            .iter()
            .map(|c| format!("{}:{}c x{}", c.id, c.compute_slices, c.max_count))
            .collect();
        t.add_row(vec![
            gi.id.to_string(),
            gi.name.clone(),
            gi.max_count.to_string(),
            format!("{:.2}", gi.memory_mib as f64 / 1024.0),
            gi.compute_slices.to_string(),
            format!("{{{}}}:{}", starts.join(","), gi.placement_size),
            if cis.is_empty() {
                "-".into()
            } else {
                cis.join(" ")
            },
        ]);
    }
    t
}
