//! `ptychostudio`: the window (no subcommand) or the command line.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = ptychostudio::cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // wgpu's back ends log every driver they probe and fail to open at ERROR; our own
        // message says what matters ("no GPU adapter … use --device cpu"). RUST_LOG shows them.
        tracing_subscriber::EnvFilter::new(if cli.quiet() {
            "warn,wgpu_hal=off,wgpu_core=error,naga=warn"
        } else {
            "info,wgpu=warn,wgpu_hal=off,wgpu_core=warn,naga=warn"
        })
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
    match ptychostudio::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
