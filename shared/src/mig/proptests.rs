//! Property tests across parser, solver and enumeration.
