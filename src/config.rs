//! Configuration (filled in below).
