//! VPC, internet gateway, subnets, route table, security group and flow log: the network agentctl creates when it does not use an existing one.

use serde::Serialize;

use super::KindFacts;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VpcSpec {
    pub cidr_block: String,
    pub enable_dns_support: bool,
    pub enable_dns_hostnames: bool,
}

impl VpcSpec {
    pub const FACTS: KindFacts = KindFacts {
        name: "vpc",
        noun: "VPC",
        taggable: true,
        terraform_type: "aws_vpc",
        revisions: false,
        replaced_on: &["cidr_block"],
    };
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InternetGatewaySpec {
    pub vpc_id: String,
}

impl InternetGatewaySpec {
    pub const FACTS: KindFacts = KindFacts {
        name: "internet_gateway",
        noun: "internet gateway",
        taggable: true,
        terraform_type: "aws_internet_gateway",
        revisions: false,
        replaced_on: &["vpc_id"],
    };
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubnetSpec {
    pub vpc_id: String,
    pub cidr_block: String,
    pub availability_zone: String,
}

impl SubnetSpec {
    pub const FACTS: KindFacts = KindFacts {
        name: "subnet",
        noun: "subnet",
        taggable: true,
        terraform_type: "aws_subnet",
        revisions: false,
        replaced_on: &["vpc_id", "cidr_block", "availability_zone"],
    };
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Route {
    pub destination: String,
    pub gateway_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteTableSpec {
    pub vpc_id: String,
    pub routes: Vec<Route>,
    /// Sorted, so order never shows as a change.
    pub subnet_ids: Vec<String>,
}

impl RouteTableSpec {
    pub const FACTS: KindFacts = KindFacts {
        name: "route_table",
        noun: "route table",
        taggable: true,
        terraform_type: "aws_route_table",
        revisions: false,
        replaced_on: &["vpc_id"],
    };
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct EgressRule {
    /// "-1" is every protocol.
    pub protocol: String,
    /// "all", "443" or "1024-2048".
    pub ports: String,
    pub cidr: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecurityGroupSpec {
    pub vpc_id: String,
    pub description: String,
    /// No ingress: the agent serves nothing; it only calls out.
    pub ingress: Vec<EgressRule>,
    pub egress: Vec<EgressRule>,
}

impl SecurityGroupSpec {
    pub const FACTS: KindFacts = KindFacts {
        name: "security_group",
        noun: "security group",
        taggable: true,
        terraform_type: "aws_security_group",
        revisions: false,
        replaced_on: &["vpc_id", "description"],
    };
}

/// VPC flow logs to a CloudWatch log group. AWS changes none of it in place.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowLogSpec {
    pub vpc_id: String,
    /// ACCEPT, REJECT or ALL.
    pub traffic_type: String,
    pub log_group_name: String,
    pub deliver_logs_role_arn: String,
    /// Seconds: 60 or 600.
    pub max_aggregation_interval: u32,
}

impl FlowLogSpec {
    /// AWS changes no attribute of a flow log in place.
    pub const FACTS: KindFacts = KindFacts {
        name: "flow_log",
        noun: "VPC flow log",
        taggable: true,
        terraform_type: "aws_flow_log",
        revisions: false,
        replaced_on: super::EVERY_ATTRIBUTE,
    };
}
