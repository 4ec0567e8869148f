//! CloudWatch alarms and the dashboard.

use serde::Serialize;
use serde_json::Value;

use super::KindFacts;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmSpec {
    pub description: String,
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: std::collections::BTreeMap<String, String>,
    pub statistic: String,
    pub comparison: String,
    pub threshold: f64,
    pub period: u32,
    pub evaluation_periods: u32,
    pub treat_missing_data: String,
    pub actions: Vec<String>,
}

impl AlarmSpec {
    pub const FACTS: KindFacts = KindFacts {
        name: "alarm",
        noun: "CloudWatch alarm",
        taggable: true,
        terraform_type: "aws_cloudwatch_metric_alarm",
        revisions: false,
        replaced_on: &[],
    };
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DashboardSpec {
    pub body: Value,
}

impl DashboardSpec {
    /// Not taggable: found by its name.
    pub const FACTS: KindFacts = KindFacts {
        name: "dashboard",
        noun: "CloudWatch dashboard",
        taggable: false,
        terraform_type: "aws_cloudwatch_dashboard",
        revisions: false,
        replaced_on: &[],
    };
}
