//! The suites' shared deterministic PRNG (`sim-rng`), re-exported under its old path.

pub use sim_rng::Rng;
