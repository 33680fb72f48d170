//! Diagnoses and measurements run by hand (every test here is `#[ignore]`d: they need the real
//! data, a trained model or minutes of CPU). One test binary, so CI links them once:
//! - `amplitude`: does the star's data constrain the amplitude? (docs/measured-scans.md)
//! - `registration`: the network's position registration with a trained model
//!   (docs/positions.md)
//! - `coarse_positions`: ePIE's position correction coarse-to-fine, from the truth, or on
//!   jitter alone (docs/positions.md)
//! - `grow_positions`: placing positions one at a time, each registered against its neighbours
//!   (docs/positions.md; negative)
//! - `position_tuning`: ePIE's position-correction settings on `lines-512-positions`
//!   (docs/positions.md)
//!
//! `cargo test --test diagnosis NAME -- --ignored --nocapture`.

mod amplitude;
mod case;
mod coarse_positions;
mod grow_positions;
mod position_tuning;
mod registration;
