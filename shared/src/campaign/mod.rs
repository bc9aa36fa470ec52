//! The campaign model (campaign helper).
