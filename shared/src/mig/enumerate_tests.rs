//! Unit tests of the enumeration.
