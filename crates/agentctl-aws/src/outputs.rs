//! `agentctl outputs`: where everything of the deployment lives.

use std::collections::BTreeMap;

use agentctl_core::model::{addr, Stack};
use serde::Serialize;

use crate::error::Error;
use crate::Aws;

#[derive(Debug, Serialize, Default)]
pub struct Outputs {
    pub deployment: String,
    pub region: String,
    pub account_id: String,
    pub cluster: Option<String>,
    pub service: Option<String>,
    pub task_definition: Option<String>,
    pub secret_arn: Option<String>,
    pub execution_role_arn: Option<String>,
    pub task_role_arn: Option<String>,
    pub bucket: Option<String>,
    pub log_group: Option<String>,
    pub vpc_id: Option<String>,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    /// With the script runner: its service, and where the agent reaches it
    /// (the reference module's `script_runner_endpoint`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script_runner_service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script_runner_endpoint: Option<String>,
}

pub async fn read(aws: &Aws, stack: &Stack) -> Result<Outputs, Error> {
    let live = crate::live::read(aws, stack, &[]).await?;
    let get = |a, key: &str| live.resources.get(&a).and_then(|l| l.outputs.get(key).cloned());
    let id = |a| live.resources.get(&a).map(|l| l.id.clone());
    let mut subnet_ids: Vec<String> = [addr::SUBNET_A, addr::SUBNET_B].into_iter().filter_map(id).collect();
    subnet_ids.extend(stack.existing.subnet_ids.iter().cloned());
    let mut security_group_ids: Vec<String> = id(addr::SECURITY_GROUP).into_iter().collect();
    security_group_ids.extend(stack.existing.security_group_ids.iter().cloned());
    Ok(Outputs {
        deployment: stack.deployment.clone(),
        region: aws.region.clone(),
        account_id: aws.account_id.clone(),
        cluster: get(addr::CLUSTER, "arn"),
        service: get(addr::SERVICE, "arn"),
        task_definition: get(addr::TASK_DEFINITION, "arn"),
        secret_arn: get(addr::SECRET, "arn"),
        execution_role_arn: get(addr::EXECUTION_ROLE, "arn"),
        task_role_arn: get(addr::TASK_ROLE, "arn"),
        bucket: get(addr::BUCKET, "name"),
        log_group: get(addr::LOG_GROUP, "name"),
        vpc_id: id(addr::VPC).or_else(|| stack.existing.vpc_id.clone()),
        subnet_ids,
        security_group_ids,
        script_runner_service: get(addr::SCRIPT_RUNNER_SERVICE, "arn"),
        script_runner_endpoint: live.resources.contains_key(&addr::SCRIPT_RUNNER_SERVICE).then(|| {
            let (_, port) = agentctl_core::model::SCRIPT_RUNNER_PORT;
            format!("{}:{port}", agentctl_core::model::SCRIPT_RUNNER_DNS_NAME)
        }),
    })
}

impl Outputs {
    pub fn text(&self) -> String {
        let mut rows: BTreeMap<&str, String> = BTreeMap::new();
        let none = || "(not created)".to_owned();
        rows.insert("cluster", self.cluster.clone().unwrap_or_else(none));
        rows.insert("service", self.service.clone().unwrap_or_else(none));
        rows.insert("task_definition", self.task_definition.clone().unwrap_or_else(none));
        rows.insert("secret_arn", self.secret_arn.clone().unwrap_or_else(none));
        rows.insert("execution_role_arn", self.execution_role_arn.clone().unwrap_or_else(none));
        rows.insert("task_role_arn", self.task_role_arn.clone().unwrap_or_else(none));
        rows.insert("bucket", self.bucket.clone().unwrap_or_else(none));
        rows.insert("log_group", self.log_group.clone().unwrap_or_else(none));
        rows.insert("vpc_id", self.vpc_id.clone().unwrap_or_else(none));
        rows.insert("subnet_ids", if self.subnet_ids.is_empty() { none() } else { self.subnet_ids.join(", ") });
        rows.insert(
            "security_group_ids",
            if self.security_group_ids.is_empty() { none() } else { self.security_group_ids.join(", ") },
        );
        for (key, value) in [
            ("script_runner_service", &self.script_runner_service),
            ("script_runner_endpoint", &self.script_runner_endpoint),
        ] {
            if let Some(v) = value {
                rows.insert(key, v.clone());
            }
        }
        let mut table = agentctl_core::text::Table::new().indent(2);
        for (k, v) in rows {
            table.row([k.to_owned(), v]);
        }
        format!(
            "Deployment \"{}\" in {} (account {})\n{}",
            self.deployment,
            self.region,
            self.account_id,
            table.render()
        )
    }
}
