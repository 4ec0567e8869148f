//! The AWS side of agentctl: one place builds the SDK config, one adapter per
//! service maps SDK types to the core model, the executor walks the plan as a
//! dependency graph, and a lock keeps two runs apart.

mod adapters;
pub mod apply;
pub mod doctor;
mod error;
pub mod list;
pub mod live;
pub mod lock;
pub mod logs;
pub mod ops;
pub mod outputs;
pub mod progress;
pub mod protection;
pub mod registry;
pub mod rollout;
mod sdk;
pub mod usage;
pub mod wait;

pub use adapters::iam::decode_policy;
pub use error::{ApiError, Error, Meaning};
pub use sdk::{Aws, AwsSettings, Clients};
