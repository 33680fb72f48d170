//! The four panes. Each draws from the settings and the session and pushes [`Command`]s; none
//! changes the session itself.

pub mod dataset;
pub mod hdf5_form;
pub mod probe;
pub mod reconstruction;
pub mod training;

use super::command::Command;
use super::session::Session;
use super::state::AppState;

/// What every pane draws from and pushes to.
pub struct PaneCtx<'a> {
    /// Settings (panes edit them directly: they are plain values).
    pub state: &'a mut AppState,
    /// The session, read-only.
    pub session: &'a Session,
    /// Requests for `logic`.
    pub commands: &'a mut Vec<Command>,
    /// The device line for the training pane.
    pub device_note: String,
}
