//! The network and optimiser a run starts from: seeded Glorot weights, or a resumed model and
//! its Adam state after checking that it fits the run.

use burn::module::Module;
use burn::optim::AdamConfig;
use burn::prelude::*;

use super::bundle::ModelBundle;
use super::config::TrainConfig;
use super::error::TrainError;
use crate::model::PinnNet;

/// Checks that a resumed model fits the configuration and the data.
pub(crate) fn check_resume(config: &TrainConfig, bundle: &ModelBundle) -> Result<(), TrainError> {
    let old = &bundle.manifest.config;
    if config.same_architecture(old) {
        Ok(())
    } else {
        Err(TrainError::Mismatch(format!(
            "cannot start from that model: it was trained with {}; this run asks for {}",
            old.architecture_label(),
            config.architecture_label()
        )))
    }
}

/// The seeded Glorot initial weights, drawn on the CPU whatever device trains, so one seed gives
/// the same starting network on every backend. Serialised by a lock because the CPU backend's
/// seed is process-wide.
fn initial_weights(config: &TrainConfig) -> burn::store::ModuleRecord {
    static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = INIT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let cpu = Device::flex();
    cpu.seed(config.seed);
    config.network().init(&cpu).into_record()
}

/// A fresh Adam with the run's β₁, β₂ and ε (the learning rate is given per step).
pub(crate) fn adam(config: &TrainConfig) -> burn::optim::ModuleOptimizer {
    AdamConfig::new()
        .with_beta_1(config.adam.beta_1)
        .with_beta_2(config.adam.beta_2)
        .with_epsilon(config.adam.epsilon)
        .init()
}

/// The model (on `device` with autodiff) and the Adam optimiser a run starts from: fresh,
/// `resume`'s network and optimiser state, or `init`'s network with a fresh optimiser.
pub(crate) fn start_network(
    config: &TrainConfig,
    resume: Option<&ModelBundle>,
    init: Option<&ModelBundle>,
    device: &Device,
) -> Result<(PinnNet, burn::optim::ModuleOptimizer), TrainError> {
    let autodiff = device.clone().autodiff();
    let mut optimizer = adam(config);
    let record = match (resume, init) {
        (None, None) => initial_weights(config),
        (None, Some(bundle)) => bundle.network.clone().into_record(),
        (Some(bundle), _) => {
            if let Some(bytes) = &bundle.optimizer {
                optimizer = optimizer
                    .from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes.clone()))
                    .map_err(|e| TrainError::Optimizer(e.to_string()))?;
            }
            bundle.network.clone().into_record()
        }
    };
    let network = config
        .network()
        .init(&autodiff)
        .try_load_record(record)
        .map_err(|e| TrainError::Optimizer(e.to_string()))?;
    Ok((network, optimizer))
}
