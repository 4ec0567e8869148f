//! The pure core of agentctl: configuration, validation, the stack model, plan and
//! rendering. Nothing here talks to AWS, so all of it is tested in milliseconds.

pub mod cidr;
pub mod config;
pub mod diagnostics;
pub mod fargate;
pub mod image;
pub mod model;
pub mod names;
pub mod plan;
pub mod regions;
pub mod secret;
