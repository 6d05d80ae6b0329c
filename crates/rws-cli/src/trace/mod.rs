//! `rws trace`: a frame-tracing proxy and capture reader.

pub mod capture;
