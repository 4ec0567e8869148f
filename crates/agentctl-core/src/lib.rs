//! The pure core of agentctl: configuration, validation, the stack model, plan and
//! rendering. Nothing here talks to AWS, so all of it is tested in milliseconds.

pub mod cidr;
pub mod config;
pub mod cost;
pub mod diagnostics;
pub mod doctor;
pub mod export;
pub mod fargate;
pub mod iam_policy;
pub mod image;
pub mod list;
pub mod model;
pub mod names;
pub mod plan;
pub mod policy;
pub mod protection;
pub mod regions;
pub mod rollout;
pub mod schedule;
pub mod secret;
pub mod text;
pub mod usage;
