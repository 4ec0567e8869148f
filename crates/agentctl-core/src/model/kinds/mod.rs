//! The registry of resource kinds: every kind agentctl manages, its spec (the
//! typed attributes adapters read live state into, so a diff compares like with
//! like) and its facts. One file per AWS service holds its kinds' specs and
//! facts; the AWS side implements each kind's read, create, update and delete
//! on the same spec type.
//!
//! To add a kind: write its spec and `FACTS` in its service's file here, one
//! line in [`for_each_kind!`], and its adapter in agentctl-aws; the compiler
//! then asks for everything else a kind needs (its Terraform rendering, ...).

mod cloudwatch;
mod ecs;
mod iam_role;
mod log_group;
mod network;
mod s3_bucket;
mod scaling;
mod secret;
mod service_discovery;

use serde::Serialize;
use serde_json::Value;

pub use cloudwatch::*;
pub use ecs::*;
pub use iam_role::*;
pub use log_group::*;
pub use network::*;
pub use s3_bucket::*;
pub use scaling::*;
pub use secret::*;
pub use service_discovery::*;

use super::{Attr, AttrValue};

/// Calls `$callback!` with every kind as `Variant(SpecType)`: the one list of
/// kinds, from which `Kind`, `Spec` and the AWS side's dispatch are generated.
#[macro_export]
macro_rules! for_each_kind {
    ($callback:path) => {
        $callback! {
            Vpc(VpcSpec),
            InternetGateway(InternetGatewaySpec),
            Subnet(SubnetSpec),
            RouteTable(RouteTableSpec),
            SecurityGroup(SecurityGroupSpec),
            Secret(SecretSpec),
            IamRole(RoleSpec),
            S3Bucket(BucketSpec),
            LogGroup(LogGroupSpec),
            FlowLog(FlowLogSpec),
            HttpNamespace(HttpNamespaceSpec),
            EcsCluster(ClusterSpec),
            TaskDefinition(TaskDefinitionSpec),
            EcsService(ServiceSpec),
            ScalableTarget(ScalableTargetSpec),
            ScalingPolicy(ScalingPolicySpec),
            ScheduledAction(ScheduledActionSpec),
            Alarm(AlarmSpec),
            Dashboard(DashboardSpec),
        }
    };
}

/// What agentctl knows of a kind, wherever it deals with it.
#[derive(Debug)]
pub struct KindFacts {
    /// In addresses (`vpc.main`) and JSON.
    pub name: &'static str,
    /// For people: progress lines and messages.
    pub noun: &'static str,
    /// AWS lets agentctl tag it. The others belong to a tagged resource of ours
    /// (the service, by its resource id) or have a name only ours use, and are
    /// found through it.
    pub taggable: bool,
    /// The Terraform resource type the export writes for it.
    pub terraform_type: &'static str,
    /// Versioned: a replacement is a new revision of the same name, and old
    /// revisions stay until destroy (task definitions).
    pub revisions: bool,
    /// Attributes whose change needs a new resource (or revision); every other
    /// attribute updates in place.
    pub replaced_on: &'static [&'static str],
}

/// `replaced_on` of kinds AWS changes nothing of in place.
pub const EVERY_ATTRIBUTE: &[&str] = &["*"];

/// A spec type's place in the registry.
pub trait KindSpec: Sized {
    const KIND: Kind;
    /// The spec, when `spec` is of this kind.
    fn from_spec(spec: &Spec) -> Option<&Self>;
}

macro_rules! define_kinds {
    ($($variant:ident($spec:ident)),* $(,)?) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Kind {
            $($variant),*
        }

        impl Kind {
            pub const ALL: &'static [Kind] = &[$(Kind::$variant),*];

            pub fn facts(self) -> &'static KindFacts {
                match self {
                    $(Kind::$variant => &$spec::FACTS),*
                }
            }
        }

        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(untagged)]
        pub enum Spec {
            $($variant($spec)),*
        }

        impl Spec {
            pub fn kind(&self) -> Kind {
                match self {
                    $(Spec::$variant(_) => Kind::$variant),*
                }
            }
        }

        $(
            impl KindSpec for $spec {
                const KIND: Kind = Kind::$variant;
                fn from_spec(spec: &Spec) -> Option<&Self> {
                    match spec {
                        Spec::$variant(s) => Some(s),
                        _ => None,
                    }
                }
            }

            impl From<$spec> for Spec {
                fn from(s: $spec) -> Spec {
                    Spec::$variant(s)
                }
            }
        )*
    };
}

for_each_kind!(define_kinds);

impl Kind {
    pub fn as_str(self) -> &'static str {
        self.facts().name
    }
    pub fn noun(self) -> &'static str {
        self.facts().noun
    }
    pub fn taggable(self) -> bool {
        self.facts().taggable
    }
}

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Spec {
    /// Flattened top-level attributes, sensitive ones included as `Sensitive`.
    pub fn attrs(&self) -> Vec<Attr> {
        let replaced = self.kind().facts().replaced_on;
        let fields = match serde_json::to_value(self).expect("specs serialize") {
            Value::Object(fields) => fields,
            // Every spec is a struct; anything else has no attributes to compare.
            _ => Default::default(),
        };
        let mut attrs: Vec<Attr> = fields
            .into_iter()
            .map(|(key, value)| Attr {
                forces_replacement: replaced == EVERY_ATTRIBUTE || replaced.contains(&key.as_str()),
                key,
                value: AttrValue::Plain(value),
            })
            .collect();
        // The secret's value is never serialized: it joins as sensitive.
        if let Spec::Secret(SecretSpec { value: Some(value), .. }) = self {
            attrs.push(Attr {
                key: "secret_string".into(),
                value: AttrValue::Sensitive(value.clone()),
                forces_replacement: false,
            });
        }
        attrs
    }
}
