//! The processes a run is spread over (data-parallel training): who this process is among them,
//! and the two collective operations training needs, a broadcast from the first process and a
//! sum across all of them. One process alone is [`SingleProcess`]; MPI provides another
//! (`super::mpi_world`, the `mpi` feature). Knows nothing of Burn.

use std::fmt::Debug;

/// The processes of one training run and the collectives between them. Every process must call
/// the collectives in the same order with buffers of the same length.
pub trait Collective: Debug + Send + Sync {
    /// This process's index, `0..size()`; process 0 logs and saves.
    fn rank(&self) -> usize;
    /// The number of processes.
    fn size(&self) -> usize;
    /// Overwrites `buffer` on every process with process 0's.
    fn broadcast(&self, buffer: &mut [f64]);
    /// Replaces `buffer` on every process with its element-wise sum over all processes.
    fn sum(&self, buffer: &mut [f64]);
}

/// A run in one process: the collectives do nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct SingleProcess;

impl Collective for SingleProcess {
    fn rank(&self) -> usize {
        0
    }

    fn size(&self) -> usize {
        1
    }

    fn broadcast(&self, _buffer: &mut [f64]) {}

    fn sum(&self, _buffer: &mut [f64]) {}
}

/// The variables MPI launchers set in every process they start: MPICH's Hydra and Slurm's PMI
/// (`PMI_RANK`, `PMI_SIZE`), PMIx (`PMIX_RANK`) and Open MPI (`OMPI_COMM_WORLD_SIZE`).
const LAUNCHER_VARIABLES: [&str; 4] = ["PMI_SIZE", "PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE"];

/// Whether an MPI launcher (`mpiexec`, `mpirun`, `srun`) started this process.
pub fn launched_by_mpi() -> bool {
    LAUNCHER_VARIABLES
        .iter()
        .any(|name| std::env::var_os(name).is_some())
}

/// How many processes the launcher started, where it says (`PMI_SIZE`, `OMPI_COMM_WORLD_SIZE`).
pub fn launcher_size() -> Option<usize> {
    ["PMI_SIZE", "OMPI_COMM_WORLD_SIZE"]
        .iter()
        .find_map(|name| std::env::var(name).ok()?.parse().ok())
}

/// This process's rank as the launcher numbered it (`PMI_RANK`, `OMPI_COMM_WORLD_RANK`,
/// PMIx's `PMIX_RANK`), where it says: known before MPI starts, so that
/// logging can be set up for rank 0 alone.
pub fn launcher_rank() -> Option<usize> {
    ["PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK"]
        .iter()
        .find_map(|name| std::env::var(name).ok()?.parse().ok())
}

/// How many processes the launcher started on this machine (`MPI_LOCALNRANKS` from Hydra,
/// `OMPI_COMM_WORLD_LOCAL_SIZE`, `SLURM_NTASKS_PER_NODE`), where it says.
pub fn launcher_local_size() -> Option<usize> {
    [
        "MPI_LOCALNRANKS",
        "OMPI_COMM_WORLD_LOCAL_SIZE",
        "SLURM_NTASKS_PER_NODE",
    ]
    .iter()
    .find_map(|name| std::env::var(name).ok()?.parse().ok())
}

/// This process's index among the launcher's processes on this machine (`MPI_LOCALRANKID` from
/// Hydra, `OMPI_COMM_WORLD_LOCAL_RANK`, `SLURM_LOCALID`), where it says.
pub fn launcher_local_rank() -> Option<usize> {
    [
        "MPI_LOCALRANKID",
        "OMPI_COMM_WORLD_LOCAL_RANK",
        "SLURM_LOCALID",
    ]
    .iter()
    .find_map(|name| std::env::var(name).ok()?.parse().ok())
}

/// The share of `rows` (one global batch) this process trains on: every `size`-th row from its
/// rank, so the shares of all processes make up the batch, and differ in length by at most one.
pub fn share(rows: &[usize], rank: usize, size: usize) -> Vec<usize> {
    rows.iter()
        .skip(rank)
        .step_by(size.max(1))
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shares_make_up_the_batch() {
        let rows: Vec<usize> = (10..18).collect();
        let shares: Vec<Vec<usize>> = (0..3).map(|r| share(&rows, r, 3)).collect();
        assert_eq!(shares[0], vec![10, 13, 16]);
        assert_eq!(shares[1], vec![11, 14, 17]);
        assert_eq!(shares[2], vec![12, 15]);
        let mut all: Vec<usize> = shares.concat();
        all.sort_unstable();
        assert_eq!(all, rows);
        assert_eq!(share(&rows[..1], 2, 3), Vec::<usize>::new());
        assert_eq!(share(&rows, 0, 1), rows);
    }
}
