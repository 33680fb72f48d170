//! `ptychostudio`: the window (no subcommand) or the command line.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc, which keeps freed memory for reuse; see the dependency's note in Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 3's `mimalloc.h` (the crate exports no name for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
/// That option's documented default in mimalloc 3, in milliseconds.
const MI_DEFAULT_PURGE_DELAY_MS: std::ffi::c_long = 1000;

/// Tells mimalloc never to return freed pages to the kernel (purge delay −1): a training step
/// frees and reallocates hundreds of megabytes, and every returned page comes back as a page
/// fault and a zeroing. Left alone when the option does not hold its default (the user set
/// `MIMALLOC_PURGE_DELAY`, or the index names another option in this mimalloc).
#[allow(unsafe_code)]
fn keep_freed_memory() {
    // SAFETY: both calls read or store one integer in mimalloc's option table; mimalloc
    // documents them as callable at any time, from any thread.
    unsafe {
        if libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) == MI_DEFAULT_PURGE_DELAY_MS {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
        }
    }
}

fn main() -> ExitCode {
    keep_freed_memory();
    let cli = ptychostudio::cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // wgpu's back ends log every driver they probe and fail to open at ERROR; our own
        // message says what matters ("no GPU adapter … use --device cpu"). RUST_LOG shows them.
        // Under an MPI launcher, rank 0 logs; the others say only what goes wrong.
        let other_rank = ptychostudio::train::collective::launcher_rank().is_some_and(|r| r > 0);
        tracing_subscriber::EnvFilter::new(if cli.quiet() || other_rank {
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
