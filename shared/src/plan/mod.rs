//! The planner (campaign helper).
