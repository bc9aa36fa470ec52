//! GPU model ids and how NVML names map onto them.
//!
//! A model id (`h100-80gb`) selects the built-in MIG profile table and the simulated GPU's physical
//! parameters; campaigns target GPUs by NVML-name globs (`*H100*`), so each model also carries the name
//! the driver reports.

/// A GPU model wattsweep knows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GpuModel {
    /// Model id used on the command line and in inventories.
    pub id: &'static str,
    /// Name as NVML reports it.
    pub nvml_name: &'static str,
    /// Total memory, MiB.
    pub memory_mib: u64,
    /// Default power limit (TDP), watts.
    pub tdp_w: f64,
    /// Typical idle power, watts (simulation).
    pub idle_w: f64,
}

/// Every model with a built-in profile table.
pub const MODELS: &[GpuModel] = &[
    GpuModel {
        id: "a100-40gb",
        nvml_name: "NVIDIA A100-SXM4-40GB",
        memory_mib: 40_960,
        tdp_w: 400.0,
        idle_w: 55.0,
    },
    GpuModel {
        id: "a100-80gb",
        nvml_name: "NVIDIA A100-SXM4-80GB",
        memory_mib: 81_920,
        tdp_w: 400.0,
        idle_w: 60.0,
    },
    GpuModel {
        id: "h100-80gb",
        nvml_name: "NVIDIA H100 80GB HBM3",
        memory_mib: 81_559,
        tdp_w: 700.0,
        idle_w: 70.0,
    },
    GpuModel {
        id: "h100-94gb",
        nvml_name: "NVIDIA H100 NVL",
        memory_mib: 95_830,
        tdp_w: 400.0,
        idle_w: 60.0,
    },
    GpuModel {
        id: "h200-141gb",
        nvml_name: "NVIDIA H200",
        memory_mib: 143_771,
        tdp_w: 700.0,
        idle_w: 75.0,
    },
];

/// The model with this id.
pub fn by_id(id: &str) -> Option<&'static GpuModel> {
    MODELS.iter().find(|m| m.id.eq_ignore_ascii_case(id))
}

/// Comma-separated list of known ids, for error messages.
pub fn known_ids() -> String {
    MODELS.iter().map(|m| m.id).collect::<Vec<_>>().join(", ")
}

/// Recognise a model from the NVML name and total memory (MiB) the driver reports.
///
/// Names differ between form factors (`NVIDIA A100-PCIE-40GB`, `NVIDIA H100 PCIe`), so the family is
/// read from the name and the variant from the memory size.
pub fn from_nvml(name: &str, memory_mib: u64) -> Option<&'static GpuModel> {
    let upper = name.to_ascii_uppercase();
    let gib = memory_mib as f64 / 1024.0;
    let id = if upper.contains("A100") {
        if gib > 60.0 { "a100-80gb" } else { "a100-40gb" }
    } else if upper.contains("H200") {
        "h200-141gb"
    } else if upper.contains("H100") {
        if gib > 85.0 { "h100-94gb" } else { "h100-80gb" }
    } else {
        return None;
    };
    by_id(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_real_names() {
        assert_eq!(
            from_nvml("NVIDIA H100 80GB HBM3", 81_559).map(|m| m.id),
            Some("h100-80gb")
        );
        assert_eq!(
            from_nvml("NVIDIA H100 PCIe", 81_559).map(|m| m.id),
            Some("h100-80gb")
        );
        assert_eq!(
            from_nvml("NVIDIA H100 NVL", 95_830).map(|m| m.id),
            Some("h100-94gb")
        );
        assert_eq!(
            from_nvml("NVIDIA A100-PCIE-40GB", 40_960).map(|m| m.id),
            Some("a100-40gb")
        );
        assert_eq!(
            from_nvml("NVIDIA A100-SXM4-80GB", 81_920).map(|m| m.id),
            Some("a100-80gb")
        );
        assert_eq!(
            from_nvml("NVIDIA H200", 143_771).map(|m| m.id),
            Some("h200-141gb")
        );
        assert_eq!(from_nvml("NVIDIA GeForce RTX 4090", 24_564), None);
    }

    #[test]
    fn every_model_recognises_its_own_name() {
        for m in MODELS {
            assert_eq!(
                from_nvml(m.nvml_name, m.memory_mib).map(|x| x.id),
                Some(m.id)
            );
        }
    }
}
