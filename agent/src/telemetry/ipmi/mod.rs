//! IPMI platform sensors (IPMI helper).
