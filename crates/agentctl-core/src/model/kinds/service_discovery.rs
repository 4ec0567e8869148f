//! Cloud Map: the HTTP namespace the cluster's Service Connect lives in (with
//! the script runner). ECS registers the runner's alias in it; the agent's
//! service joins it as a client.

use serde::Serialize;

use super::KindFacts;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpNamespaceSpec {
    pub description: String,
}

impl HttpNamespaceSpec {
    pub const FACTS: KindFacts = KindFacts {
        name: "http_namespace",
        noun: "Cloud Map namespace",
        taggable: true,
        terraform_type: "aws_service_discovery_http_namespace",
        revisions: false,
        replaced_on: &[],
    };
}
