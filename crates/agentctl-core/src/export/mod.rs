//! Exports of the desired stack to other tools. Offline and deterministic: the
//! same stack always gives the same bytes, and no AWS call is made.
//!
//! - [`mod@terraform`]: Terraform JSON (`*.tf.json`) for the `hashicorp/aws`
//!   provider; [`terraform()`] builds the documents, [`write_terraform`] writes them.
//! - [`checkov_exceptions`]: the checkov findings the Terraform export keeps on
//!   purpose, each with its reason.
//!
//! Build the stack with `Context::default()` for a portable export: the account
//! and the Availability Zones then come from the provider at plan time.

pub mod checkov_exceptions;
pub mod terraform;

pub use terraform::{render, terraform, terraform_files, write_terraform};
