//! Host and per-workload CPU use (placeholder).
