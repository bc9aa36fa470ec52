//! Planner properties.
