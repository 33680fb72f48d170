//! MPI as the [`Collective`] of a data-parallel run (the `mpi` feature, rsmpi over the system's
//! MPI library): started when the program was launched by `mpiexec`, `mpirun` or `srun`, one
//! process per rank. All MPI calls come from the thread that initialised it (the command line
//! trains on its main thread).

use std::sync::Arc;

use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives, Root};

use super::collective::Collective;
pub use super::collective::launched_by_mpi;

/// MPI, initialised for this process; finalised when dropped (at the end of `main`).
pub struct MpiSession {
    _universe: Universe,
    rank: usize,
    size: usize,
}

impl std::fmt::Debug for MpiSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpiSession")
            .field("rank", &self.rank)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl MpiSession {
    /// Initialises MPI (calls funnelled through this thread). `None` when it was already
    /// initialised or the library refuses.
    pub fn start() -> Option<Self> {
        let (universe, _) = mpi::initialize_with_threading(mpi::Threading::Funneled)?;
        let world = universe.world();
        Some(Self {
            rank: usize::try_from(world.rank()).unwrap_or(0),
            size: usize::try_from(world.size()).unwrap_or(1),
            _universe: universe,
        })
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The number of ranks.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The collectives over all ranks, for a run.
    pub fn collective(&self) -> Arc<dyn Collective> {
        Arc::new(MpiWorld {
            rank: self.rank,
            size: self.size,
        })
    }

    /// Ends every rank of the job with `code` (MPI_Abort): a rank that fails must not leave the
    /// others waiting in a collective.
    pub fn abort(&self, code: i32) -> ! {
        SimpleCommunicator::world().abort(code)
    }
}

/// `MPI_COMM_WORLD`'s collectives.
#[derive(Debug, Clone, Copy)]
struct MpiWorld {
    rank: usize,
    size: usize,
}

impl Collective for MpiWorld {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn broadcast(&self, buffer: &mut [f64]) {
        let world = SimpleCommunicator::world();
        world.process_at_rank(0).broadcast_into(buffer);
    }

    fn sum(&self, buffer: &mut [f64]) {
        let world = SimpleCommunicator::world();
        let mut total = vec![0.0; buffer.len()];
        world.all_reduce_into(&*buffer, &mut total[..], SystemOperation::sum());
        buffer.copy_from_slice(&total);
    }
}
