//! The wire protocol (wire helper).
