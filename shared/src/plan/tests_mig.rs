//! MIG planner tests.
