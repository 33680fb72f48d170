//! The probe a run starts from: the scan's, or the one ePIE refines on it when the data ask
//! for it ([`crate::epie::probe_choice`], [`TrainConfig::probe_from_epie`]).

use ndarray::Array2;
use num_complex::Complex32;

use super::bundle::ProbeCheckRecord;
use super::config::TrainConfig;
use super::control::TrainControl;
use super::error::TrainError;
use crate::data::Dataset;

/// ePIE's check of the scan's probe ([`crate::epie::probe_choice`]): the probe to train with
/// instead of the scan's (`None`: the scan's), and the record the model keeps. Every process
/// runs the same deterministic sweeps on the whole scan; rank 0's probe is broadcast, so all
/// start from identical values.
pub(super) fn checked_probe(
    train_data: &Dataset,
    config: &TrainConfig,
    control: &TrainControl,
) -> Result<(Option<Array2<Complex32>>, ProbeCheckRecord), TrainError> {
    let sweeps = config.probe_from_epie;
    control.events.log(format!(
        "checking the scan's probe: {sweeps} sweeps of ePIE with it held and refined"
    ));
    let check = crate::epie::probe_choice::compare_probes(train_data, sweeps)?;
    let use_refined = config.probe_from_epie_always || check.prefers_refined();
    control.events.log(if config.probe_from_epie_always {
        format!(
            "{} (refined probe used whatever the check says)",
            check.summary()
        )
    } else {
        check.summary()
    });
    let mut use_refined = use_refined;
    if control.collective.size() > 1 {
        // Rank 0 decides for all, so that every rank takes part in the probe's broadcast.
        let mut decision = [f64::from(u8::from(use_refined))];
        control.collective.broadcast(&mut decision);
        use_refined = decision[0] > 0.5;
    }
    let record = ProbeCheckRecord {
        sweeps: check.sweeps,
        error_held: check.error_held,
        error_refined: check.error_refined,
        refined_used: use_refined,
    };
    if !use_refined {
        return Ok((None, record));
    }
    let mut probe = check.refined;
    if control.collective.size() > 1 {
        let mut values: Vec<f64> = probe
            .iter()
            .flat_map(|p| [f64::from(p.re), f64::from(p.im)])
            .collect();
        control.collective.broadcast(&mut values);
        for (p, v) in probe.iter_mut().zip(values.chunks_exact(2)) {
            *p = Complex32::new(v[0] as f32, v[1] as f32);
        }
    }
    Ok((Some(probe), record))
}
