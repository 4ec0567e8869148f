//! Application Auto Scaling on the service's task count: target, policies, scheduled actions.

use serde::Serialize;

use super::KindFacts;

/// Application Auto Scaling target on the service's DesiredCount.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScalableTargetSpec {
    /// `service/CLUSTER/SERVICE`
    pub resource_id: String,
    pub min: u32,
    pub max: u32,
}

impl ScalableTargetSpec {
    /// Not taggable: found through the service it scales.
    pub const FACTS: KindFacts = KindFacts {
        name: "scalable_target",
        noun: "scalable target",
        taggable: false,
        terraform_type: "aws_appautoscaling_target",
        revisions: false,
        replaced_on: &[],
    };
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScalingPolicySpec {
    pub resource_id: String,
    /// A predefined metric (ECSServiceAverageCPUUtilization, ...) or
    /// `NAMESPACE/METRIC` of the agent's own metrics.
    pub metric: String,
    pub target: f64,
    pub scale_in_cooldown: u32,
    pub scale_out_cooldown: u32,
}

impl ScalingPolicySpec {
    /// Not taggable: found through the service it scales.
    pub const FACTS: KindFacts = KindFacts {
        name: "scaling_policy",
        noun: "scaling policy",
        taggable: false,
        terraform_type: "aws_appautoscaling_policy",
        revisions: false,
        replaced_on: &[],
    };
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduledActionSpec {
    pub resource_id: String,
    pub schedule: String,
    pub timezone: Option<String>,
    pub min: Option<u32>,
    pub max: Option<u32>,
}

impl ScheduledActionSpec {
    /// Not taggable: found through the service it scales.
    pub const FACTS: KindFacts = KindFacts {
        name: "scheduled_action",
        noun: "scheduled action",
        taggable: false,
        terraform_type: "aws_appautoscaling_scheduled_action",
        revisions: false,
        replaced_on: &[],
    };
}
