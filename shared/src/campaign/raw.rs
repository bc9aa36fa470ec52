//! The campaign file as written: serde structs that keep every value's span.
//!
//! These types only say which keys exist and what TOML type each has (serde reports unknown keys with
//! the allowed ones, and wrong types, at their position). Ranges, names and cross-references are
//! checked by the validation layer, which needs the spans kept here to point at the offending value.
//! Integers are read as `i64` so that out-of-range numbers get a message that says the allowed range
//! instead of serde's type error.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use serde_spanned::Spanned;

/// A list whose elements keep their own spans, as a whole spanned too.
pub(crate) type SpannedList<T> = Spanned<Vec<Spanned<T>>>;

/// `[campaign]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCampaign {
    pub name: Spanned<String>,
    pub repetitions: Option<Spanned<i64>>,
    pub order: Option<Spanned<String>>,
    pub seed: Option<Spanned<u64>>,
    pub power_budget_w: Option<Spanned<f64>>,
    pub catalog: Option<SpannedList<String>>,
}

/// `[targets]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTargets {
    pub nodes: Option<SpannedList<String>>,
    pub gpu_models: Option<SpannedList<String>>,
    pub scope: Option<Spanned<String>>,
}

/// `[timing]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTiming {
    pub idle_baseline_s: Option<Spanned<i64>>,
    pub warmup_s: Option<Spanned<i64>>,
    pub measure_s: Option<Spanned<i64>>,
    pub cooldown_max_s: Option<Spanned<i64>>,
    pub cooldown_temp_delta_c: Option<Spanned<f64>>,
    pub sample_ms: Option<Spanned<i64>>,
}

/// `[workloads.NAME]`, inline or in a catalog file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWorkload {
    pub image: Option<Spanned<String>>,
    pub command: Option<SpannedList<String>>,
    pub env: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    pub metric: Option<Spanned<RawMetric>>,
    pub ready: Option<Spanned<RawReady>>,
    pub shm_size_mb: Option<Spanned<i64>>,
    pub ipc: Option<Spanned<String>>,
    pub ulimits: Option<BTreeMap<Spanned<String>, Spanned<i64>>>,
    pub sim: Option<Spanned<RawSim>>,
}

/// `metric = { regex, unit, higher_is_better }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMetric {
    pub regex: Spanned<String>,
    pub unit: Spanned<String>,
    pub higher_is_better: Option<bool>,
}

/// `ready = { log_regex, timeout_s }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReady {
    pub log_regex: Option<Spanned<String>>,
    pub timeout_s: Option<Spanned<i64>>,
}

/// `sim = { intensity, fom }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSim {
    pub intensity: Option<Spanned<f64>>,
    pub fom: Option<Spanned<f64>>,
}

/// One `[[sweep]]`: the keys of every sharing mode; which ones may appear depends on `sharing`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSweep {
    pub name: Spanned<String>,
    pub sharing: Spanned<String>,
    pub runtime: Option<Spanned<String>>,
    pub scope: Option<Spanned<String>>,
    pub workloads: SpannedList<String>,
    pub mix: Option<Spanned<bool>>,
    pub concurrency: Option<SpannedList<i64>>,
    pub active_thread_percentage: Option<SpannedList<i64>>,
    pub layouts: Option<SpannedList<String>>,
    pub fill: Option<Spanned<String>>,
    pub neighbours: Option<Spanned<RawNeighbours>>,
    pub gpu_instance: Option<Spanned<String>>,
    pub compute_instances: Option<SpannedList<String>>,
    pub protagonist: Option<SpannedList<String>>,
    pub levels: Option<SpannedList<i64>>,
    pub design: Option<Spanned<String>>,
}

/// `neighbours`: a workload name (with `layouts`) or a table (with `protagonist`).
#[derive(Debug)]
pub(crate) enum RawNeighbours {
    /// `neighbours = "burn"`: the other instances of each layout run this workload.
    Workload(String),
    /// `neighbours = { profile, workload, max }`.
    Table(RawNeighbourTable),
}

/// `neighbours = { profile = "smallest", workload = "burn", max = 3 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNeighbourTable {
    pub profile: Option<Spanned<String>>,
    pub workload: Spanned<String>,
    pub max: Option<Spanned<i64>>,
}

impl<'de> Deserialize<'de> for RawNeighbours {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NeighboursVisitor;

        impl<'de> Visitor<'de> for NeighboursVisitor {
            type Value = RawNeighbours;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a workload name or a table { profile, workload, max }")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(RawNeighbours::Workload(v.to_owned()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                RawNeighbourTable::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawNeighbours::Table)
            }
        }

        deserializer.deserialize_any(NeighboursVisitor)
    }
}

/// A catalog file: only `[workloads.NAME]` tables.
pub(crate) const CATALOG_KEYS: &[&str] = &["workloads"];

/// Top-level tables of a campaign file.
pub(crate) const CAMPAIGN_KEYS: &[&str] = &["campaign", "targets", "timing", "workloads", "sweep"];
