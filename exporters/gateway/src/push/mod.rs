//! The aggregating push endpoint (`--accept-pushes`): ephemeral runners push the increments of
//! one run to `/push/job/<job>{/<label>/<value>}`, the gateway adds them to the group's totals,
//! saves them, and serves the totals on `/metrics` with the grouping labels.
//!
//! - [`path`]: the grouping from the path;
//! - [`body`]: the body's increments, checked;
//! - [`store`]: the totals, and [`store::Store::apply`], which checks a whole push against
//!   them before changing anything;
//! - [`state_file`]: saving and loading the totals;
//! - [`pushes`]: the shared state the HTTP workers use, saved before a push is answered.

pub mod body;
pub mod outcome;
pub mod path;
pub mod pushes;
pub mod state_file;
pub mod store;

pub use outcome::{PushResult, Refusal};
pub use pushes::{PushAnswer, PushConfig, Pushes};
pub use store::{Store, StoreLimits};
