//! One of the deployment's ECS services as day-2 commands and rollout waits
//! address it, read off the stack so it names exactly what apply builds.

use super::{addr, Address, Spec, Stack};
use crate::rollout::DiagnosisContext;

/// Which of the deployment's ECS services a command works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServiceRole {
    #[default]
    Agent,
    ScriptRunner,
}

impl ServiceRole {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceRole::Agent => "agent",
            ServiceRole::ScriptRunner => "script-runner",
        }
    }

    pub fn address(self) -> Address {
        match self {
            ServiceRole::Agent => addr::SERVICE,
            ServiceRole::ScriptRunner => addr::SCRIPT_RUNNER_SERVICE,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsServiceView {
    pub role: ServiceRole,
    pub cluster: String,
    pub service: String,
    /// Task definition family.
    pub family: String,
    pub log_group: String,
    /// Its essential container: `redeploy --image` gives it the new image.
    pub container: String,
    pub image: String,
    pub memory_mib: u32,
    pub desired_count: u32,
    pub execution_role: String,
    /// ARN, without its random suffix, of the secret its tasks read at start.
    pub secret_arn: String,
    /// Its tasks run the guard, which logs their running pipelines.
    pub guarded: bool,
}

impl EcsServiceView {
    /// What rollout diagnosis needs to name the fix.
    pub fn diagnosis_context(&self) -> DiagnosisContext {
        DiagnosisContext {
            image: self.image.clone(),
            execution_role: self.execution_role.clone(),
            secret_arn: self.secret_arn.clone(),
            memory_mib: self.memory_mib,
        }
    }
}

impl Stack {
    /// The service `role` names, when the stack has it (the script runner only
    /// when it is enabled).
    pub fn ecs_service(&self, role: ServiceRole) -> Option<EcsServiceView> {
        let service = self.get(role.address())?;
        let Spec::EcsService(svc) = &service.spec else { return None };
        let td = self.resources.iter().find(|r| svc.task_definition == r.addr.reference("arn"))?;
        let Spec::TaskDefinition(td_spec) = &td.spec else { return None };
        let container = td_spec.containers.iter().find(|c| c.essential)?;
        // `${secret.credentials.arn}:client_id::` names the secret resource.
        let secret = container.secrets.iter().find_map(|s| {
            let (address, _) = s.value_from.strip_prefix("${")?.split_once(".arn}")?;
            self.resources.iter().find(|r| r.addr.to_string() == address)
        });
        // `arn:PARTITION:iam::ACCOUNT:role/NAME`.
        let role_arn = &td_spec.execution_role_arn;
        let mut arn_parts = role_arn.split(':');
        let (partition, account) = (arn_parts.nth(1).unwrap_or("aws"), arn_parts.nth(2).unwrap_or_default());
        Some(EcsServiceView {
            role,
            cluster: svc.cluster.clone(),
            service: service.name.clone(),
            family: td_spec.family.clone(),
            log_group: container.log_options.get("awslogs-group").cloned().unwrap_or_default(),
            container: container.name.clone(),
            image: container.image.clone(),
            memory_mib: td_spec.memory,
            guarded: td_spec.containers.iter().any(|c| c.name == super::GUARD_CONTAINER),
            desired_count: svc.desired_count,
            execution_role: role_arn.rsplit('/').next().unwrap_or_default().to_owned(),
            secret_arn: secret.map_or_else(String::new, |s| {
                format!("arn:{partition}:secretsmanager:{}:{account}:secret:{}", self.region, s.name)
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load, CredentialsNeeded, Env};
    use crate::diagnostics::SourceFile;
    use crate::model::{build, Context};

    fn stack(extra: &str) -> Stack {
        let text = format!(
            "name = \"etl\"\nregion = \"eu-west-1\"\naccount_id = \"6b1f3c9e-2d4a-4c8b-9f1e-0a7d5c3b2e1f\"\nagent_id = \"0c9d8e7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f\"\n{extra}"
        );
        let loaded = load(SourceFile::new("t.tfvars", text), &Env::default(), CredentialsNeeded::No).unwrap();
        build(&loaded.config, &Context { aws_account_id: Some("123456789012".into()), ..Context::default() })
    }

    #[test]
    fn each_service_is_named_from_what_apply_builds() {
        let s = stack("enable_script_runner = true\nscript_runner_size = \"medium\"\n");
        let agent = s.ecs_service(ServiceRole::Agent).unwrap();
        assert_eq!(
            (agent.cluster.as_str(), agent.service.as_str(), agent.family.as_str(), agent.container.as_str()),
            ("etl", "etl-agent", "etl-agent", "agent")
        );
        assert_eq!(agent.log_group, "/ecs/etl-agent");
        assert_eq!(agent.secret_arn, "arn:aws:secretsmanager:eu-west-1:123456789012:secret:etl-agent-credentials");
        assert_eq!(agent.execution_role, "etl-execution-role");
        assert!(agent.guarded);
        let runner = s.ecs_service(ServiceRole::ScriptRunner).unwrap();
        assert_eq!(
            (runner.service.as_str(), runner.family.as_str(), runner.container.as_str(), runner.log_group.as_str()),
            ("etl-script-runner", "etl-script-runner", "script-runner", "/ecs/etl-script-runner")
        );
        assert_eq!(runner.image, "public.ecr.aws/matillion/maia-script-runner:current");
        assert_eq!((runner.memory_mib, runner.desired_count), (8192, 1));
        assert!(!runner.guarded, "the script runner runs no pipelines");
        assert_eq!(runner.secret_arn, "arn:aws:secretsmanager:eu-west-1:123456789012:secret:etl-runner-keypair");
        // Off: no script runner to address.
        assert_eq!(stack("").ecs_service(ServiceRole::ScriptRunner), None);
    }
}
