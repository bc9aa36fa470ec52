//! Telemetry sinks (sink helper).
