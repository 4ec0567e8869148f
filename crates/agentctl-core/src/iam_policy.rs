//! The smallest IAM policy that lets a person or CI role run agentctl for one
//! deployment: apply, plan, destroy, outputs, unlock and the day-2 commands
//! (status, tasks, logs, scale, redeploy, rollback, doctor).
//!
//! Every action below is one agentctl calls (see the adapters in agentctl-aws);
//! every resource is scoped to the deployment's deterministic names where the
//! service supports resource-level permissions. Where it does not, the statement
//! says why it stays on `*`. Network resources have no names, so they are scoped
//! by agentctl's ownership tag (`agentctl:deployment = NAME`): new ones must be
//! created with it (`aws:RequestTag`), existing ones may only be changed or
//! deleted when they carry it (`aws:ResourceTag`).
//!
//! Not needed, so not granted: `sts:GetCallerIdentity` (AWS answers it for every
//! caller, whatever its policies), any `ecr:*` (the execution role pulls the
//! image, not the operator), `kms:*` unless `kms_key_arn` is set (then only what
//! Secrets Manager needs on that key).
//!
//! What the policy cannot prevent: whoever may run `apply` may write the inline
//! policies of the deployment's two roles (`iam:PutRolePolicy`), so could give
//! the agent's tasks more rights than agentctl would. Attach a permissions
//! boundary to those roles if that matters in your account.

use serde_json::{json, Value};

use crate::model::{addr, SecretSpec, Spec, Stack, OWNERSHIP_TAG};
use crate::names;
use crate::regions::partition;

/// The service that may receive the deployment's roles (`iam:PassRole`).
pub const PASSED_TO_SERVICE: &str = "ecs-tasks.amazonaws.com";
/// The service that receives the flow logs role.
pub const FLOW_LOGS_SERVICE: &str = "vpc-flow-logs.amazonaws.com";

struct Arns {
    part: &'static str,
    region: String,
    account: String,
    name: String,
}

impl Arns {
    fn ec2(&self, kind: &str, id: &str) -> String {
        format!("arn:{}:ec2:{}:{}:{kind}/{id}", self.part, self.region, self.account)
    }
    /// Every EC2 resource of the account and region: only under a tag condition,
    /// which is what scopes the statement (and keeps the policy short).
    fn ec2_tagged(&self) -> String {
        format!("arn:{}:ec2:{}:{}:*", self.part, self.region, self.account)
    }
    fn ecs(&self, rest: &str) -> String {
        format!("arn:{}:ecs:{}:{}:{rest}", self.part, self.region, self.account)
    }
    fn role(&self, role: &str) -> String {
        format!("arn:{}:iam::{}:role/{role}", self.part, self.account)
    }
    fn logs(&self, rest: &str) -> String {
        format!("arn:{}:logs:{}:{}:log-group:{rest}", self.part, self.region, self.account)
    }
    fn cluster(&self) -> String {
        self.ecs(&format!("cluster/{}", names::cluster(&self.name)))
    }
}

fn statement(sid: &str, actions: &[&str], resources: Vec<String>, condition: Option<Value>) -> Value {
    let mut s = json!({
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions,
        "Resource": if resources.len() == 1 { json!(resources[0]) } else { json!(resources) },
    });
    if let Some(c) = condition {
        s["Condition"] = c;
    }
    s
}

fn request_tag(name: &str) -> Value {
    json!({ "StringEquals": { format!("aws:RequestTag/{OWNERSHIP_TAG}"): name } })
}

fn resource_tag(name: &str) -> Value {
    json!({ "StringEquals": { format!("aws:ResourceTag/{OWNERSHIP_TAG}"): name } })
}

/// The operator policy for `stack`, in AWS account `account` (which may be the
/// placeholder `<aws-account-id>` offline).
pub fn operator_policy(stack: &Stack, account: &str) -> Value {
    let a = Arns {
        part: partition(&stack.region),
        region: stack.region.clone(),
        account: account.to_owned(),
        name: stack.deployment.clone(),
    };
    let name = stack.deployment.as_str();
    let secret_name = stack.get(addr::SECRET).map_or_else(|| names::secret(name), |r| r.name.clone());
    let keypair_secret_name =
        stack.get(addr::RUNNER_KEYPAIR_SECRET).map_or_else(|| names::runner_keypair_secret(name), |r| r.name.clone());
    let mut st: Vec<Value> = Vec::new();

    // --- EC2 ---------------------------------------------------------------------
    // Describe* calls have no resource-level permissions in EC2: they stay on `*`
    // (read-only; the names and ids of network resources in the region).
    st.push(statement(
        "Ec2Read",
        &[
            "ec2:DescribeAvailabilityZones",
            "ec2:DescribeVpcs",
            "ec2:DescribeVpcAttribute",
            "ec2:DescribeSubnets",
            "ec2:DescribeRouteTables",
            "ec2:DescribeInternetGateways",
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeNatGateways",
            "ec2:DescribeVpcEndpoints",
            "ec2:DescribeDhcpOptions",
            "ec2:DescribeFlowLogs",
        ],
        vec!["*".into()],
        None,
    ));
    let creates_vpc = stack.get(addr::VPC).is_some();
    let creates_subnets = stack.get(addr::SUBNET_A).is_some();
    let creates_sg = stack.get(addr::SECURITY_GROUP).is_some();
    let mut create_actions: Vec<&str> = Vec::new();
    let mut new_kinds: Vec<&str> = Vec::new();
    if creates_vpc {
        create_actions.extend(["ec2:CreateInternetGateway", "ec2:CreateRouteTable"]);
        new_kinds.extend(["internet-gateway", "route-table"]);
    }
    if creates_subnets {
        create_actions.push("ec2:CreateSubnet");
        new_kinds.push("subnet");
    }
    if creates_sg {
        create_actions.push("ec2:CreateSecurityGroup");
        new_kinds.push("security-group");
    }
    if stack.get(addr::FLOW_LOG).is_some() {
        create_actions.push("ec2:CreateFlowLogs");
        new_kinds.push("vpc-flow-log");
    }
    if creates_vpc {
        // Its own statement: `vpc/*` must not appear where CreateSubnet and
        // CreateSecurityGroup are allowed with a request-tag condition, or they
        // could create in any VPC (the request's tags are the new resource's).
        st.push(statement("Ec2CreateTaggedVpc", &["ec2:CreateVpc"], vec![a.ec2("vpc", "*")], Some(request_tag(name))));
    }
    if !create_actions.is_empty() {
        st.push(statement(
            "Ec2CreateTaggedNetwork",
            &create_actions,
            new_kinds.iter().map(|k| a.ec2(k, "*")).collect(),
            Some(request_tag(name)),
        ));
        // Subnets, route tables and security groups are created inside a VPC,
        // which EC2 authorizes too: the deployment's own VPC, or the existing one.
        let parent: Vec<&str> = create_actions.iter().copied().filter(|c| *c != "ec2:CreateInternetGateway").collect();
        match &stack.existing.vpc_id {
            Some(vpc) if !parent.is_empty() => {
                st.push(statement("Ec2CreateInExistingVpc", &parent, vec![a.ec2("vpc", vpc)], None))
            }
            None if !parent.is_empty() => {
                st.push(statement("Ec2CreateInOwnVpc", &parent, vec![a.ec2("vpc", "*")], Some(resource_tag(name))))
            }
            _ => {}
        }
        // Tags given in a create call need ec2:CreateTags for that call.
        let mut creating: Vec<&str> = create_actions.iter().map(|c| c.trim_start_matches("ec2:")).collect();
        if creates_vpc {
            creating.insert(0, "CreateVpc");
        }
        st.push(statement(
            "Ec2TagOnCreate",
            &["ec2:CreateTags"],
            vec![a.ec2_tagged()],
            Some(json!({
                "StringEquals": {
                    "ec2:CreateAction": creating,
                    format!("aws:RequestTag/{OWNERSHIP_TAG}"): name,
                }
            })),
        ));
    }
    // Changes and deletions only of network resources carrying this deployment's
    // tag: kept whatever the config says now, so destroy can remove what an
    // earlier config created.
    st.push(statement(
        "Ec2ManageOwnedNetwork",
        &[
            "ec2:ModifyVpcAttribute",
            "ec2:AttachInternetGateway",
            "ec2:DetachInternetGateway",
            "ec2:CreateRoute",
            "ec2:ReplaceRoute",
            "ec2:DeleteRoute",
            "ec2:AssociateRouteTable",
            "ec2:DisassociateRouteTable",
            "ec2:AuthorizeSecurityGroupEgress",
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:RevokeSecurityGroupEgress",
            "ec2:RevokeSecurityGroupIngress",
            "ec2:DeleteVpc",
            "ec2:DeleteInternetGateway",
            "ec2:DeleteSubnet",
            "ec2:DeleteRouteTable",
            "ec2:DeleteSecurityGroup",
            "ec2:DeleteFlowLogs",
        ],
        vec![a.ec2_tagged()],
        Some(resource_tag(name)),
    ));
    // Tag drift repair on owned resources, never touching the ownership tag itself.
    st.push(statement(
        "Ec2RetagOwnedNetwork",
        &["ec2:CreateTags", "ec2:DeleteTags"],
        vec![a.ec2_tagged()],
        Some(json!({
            "StringEquals": { format!("aws:ResourceTag/{OWNERSHIP_TAG}"): name },
            "ForAllValues:StringNotEquals": { "aws:TagKeys": [OWNERSHIP_TAG] },
        })),
    ));

    // --- ECS ---------------------------------------------------------------------
    // The script runner's service and family are granted whatever the config
    // says now, so destroy removes one an earlier config created.
    let cluster = a.cluster();
    let service_arn = |service: &str| a.ecs(&format!("service/{}/{service}", names::cluster(name)));
    let services = vec![service_arn(&names::service(name)), service_arn(&names::script_runner(name))];
    let families =
        [names::task_family(name), names::script_runner(name)].map(|f| a.ecs(&format!("task-definition/{f}:*")));
    // CreateCluster and RegisterTaskDefinition are not scoped by resource ARN in
    // ECS's authorization reference: `*`, but only with this deployment's tag.
    st.push(statement(
        "EcsCreateTagged",
        &["ecs:CreateCluster", "ecs:RegisterTaskDefinition"],
        vec!["*".into()],
        Some(request_tag(name)),
    ));
    // The deployment's cluster, services, task families and tasks in one list:
    // IAM matches each action against resources of its own type only (a cluster
    // action never against a service ARN), so this grants exactly what one
    // statement per type would, in fewer characters. Tags too: ECS checks
    // ecs:TagResource for the tags given when creating.
    st.push(statement(
        "EcsDeploymentResources",
        &[
            "ecs:DescribeClusters",
            "ecs:UpdateClusterSettings",
            "ecs:DeleteCluster",
            "ecs:CreateService",
            "ecs:UpdateService",
            "ecs:DeleteService",
            "ecs:DescribeServices",
            "ecs:DescribeTasks",
            "ecs:TagResource",
            "ecs:UntagResource",
            // status and tasks show it, unprotect turns it off.
            "ecs:GetTaskProtection",
            "ecs:UpdateTaskProtection",
        ],
        [cluster.clone()]
            .into_iter()
            .chain(services)
            .chain(families)
            .chain([a.ecs(&format!("task/{}/*", names::cluster(name)))])
            .collect(),
        None,
    ));
    // Task definitions are read, listed and deregistered by family, which ECS does
    // not authorize per resource: `*`. Deregistering marks a revision INACTIVE;
    // running tasks and services keep running.
    st.push(statement(
        "EcsTaskDefinitions",
        &["ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions", "ecs:DeregisterTaskDefinition"],
        vec!["*".into()],
        None,
    ));
    st.push(statement(
        "EcsListTasks",
        &["ecs:ListTasks"],
        vec!["*".into()],
        Some(json!({ "ArnEquals": { "ecs:cluster": cluster } })),
    ));

    // --- IAM ---------------------------------------------------------------------
    let roles = vec![
        a.role(&names::execution_role(name)),
        a.role(&names::task_role(name)),
        a.role(&names::script_runner_role(name)),
    ];
    let flow_role = a.role(&names::flow_log_role(name));
    st.push(statement(
        "IamDeploymentRoles",
        &[
            "iam:GetRole",
            "iam:CreateRole",
            "iam:UpdateRole",
            "iam:UpdateAssumeRolePolicy",
            "iam:DeleteRole",
            "iam:TagRole",
            "iam:UntagRole",
            "iam:ListRolePolicies",
            "iam:GetRolePolicy",
            "iam:PutRolePolicy",
            "iam:DeleteRolePolicy",
            "iam:ListAttachedRolePolicies",
            "iam:DetachRolePolicy",
            // doctor: whether the task role allows what the agent needs.
            "iam:SimulatePrincipalPolicy",
        ],
        roles.iter().chain([&flow_role]).cloned().collect(),
        None,
    ));
    // The managed policies the config lists, on the task role only: the
    // condition names each, so no other policy can be attached with this grant.
    let managed = &stack.access.managed_policy_arns;
    if !managed.is_empty() {
        st.push(statement(
            "IamAttachTaskRolePolicies",
            &["iam:AttachRolePolicy"],
            vec![a.role(&names::task_role(name))],
            Some(json!({ "ArnEquals": { "iam:PolicyARN": managed } })),
        ));
    }
    // Registering a task definition passes its roles, to ECS tasks only.
    st.push(statement(
        "IamPassRolesToEcsTasks",
        &["iam:PassRole"],
        roles,
        Some(json!({ "StringEquals": { "iam:PassedToService": PASSED_TO_SERVICE } })),
    ));
    if stack.get(addr::FLOW_LOG).is_some() {
        st.push(statement(
            "IamPassRoleToFlowLogs",
            &["iam:PassRole"],
            vec![flow_role],
            Some(json!({ "StringEquals": { "iam:PassedToService": FLOW_LOGS_SERVICE } })),
        ));
    }
    // ECS creates its service-linked role on the first cluster of an account, and
    // Application Auto Scaling on the first scalable target; the condition names
    // the two services (service-linked role paths are AWS's).
    st.push(statement(
        "IamServiceLinkedRoles",
        &["iam:CreateServiceLinkedRole"],
        vec![a.role("aws-service-role/*")],
        Some(json!({
            "StringEquals": { "iam:AWSServiceName": ["ecs.amazonaws.com", "ecs.application-autoscaling.amazonaws.com"] }
        })),
    ));

    // --- Secrets Manager -----------------------------------------------------------
    // Secrets Manager appends `-` and six random characters to the name in the
    // ARN; `??????` matches exactly those (`*` would also match
    // `NAME-agent-credentials-old-AbCdEf`, another secret).
    st.push(statement(
        "SecretsAgentCredentials",
        &[
            "secretsmanager:CreateSecret",
            "secretsmanager:DescribeSecret",
            "secretsmanager:GetSecretValue",
            "secretsmanager:PutSecretValue",
            "secretsmanager:UpdateSecret",
            "secretsmanager:RestoreSecret",
            "secretsmanager:DeleteSecret",
            "secretsmanager:TagResource",
            "secretsmanager:UntagResource",
        ],
        [secret_name, keypair_secret_name]
            .iter()
            .map(|n| format!("arn:{}:secretsmanager:{}:{}:secret:{n}-??????", a.part, a.region, a.account))
            .collect(),
        None,
    ));
    // A secret left under an earlier `secret_name`: found by the ownership tag,
    // deleted only when it carries it.
    st.push(statement(
        "SecretsRenamedCleanup",
        &["secretsmanager:DescribeSecret", "secretsmanager:DeleteSecret"],
        vec![format!("arn:{}:secretsmanager:{}:{}:secret:*", a.part, a.region, a.account)],
        Some(resource_tag(name)),
    ));
    // A secret under a customer managed key: Secrets Manager encrypts and decrypts
    // its value with the caller's rights on the key.
    if let Some(Spec::Secret(SecretSpec { kms_key_id: Some(key), .. })) = stack.get(addr::SECRET).map(|r| &r.spec) {
        st.push(statement(
            "KmsSecretKey",
            &["kms:Decrypt", "kms:GenerateDataKey"],
            vec![key.clone()],
            Some(json!({ "StringEquals": { "kms:ViaService": format!("secretsmanager.{}.amazonaws.com", a.region) } })),
        ));
    }

    // --- CloudWatch Logs -----------------------------------------------------------
    // DescribeLogGroups is authorized on the account's log groups as a whole (it
    // lists by prefix): names and settings only, no log data.
    st.push(statement("LogsDescribeGroups", &["logs:DescribeLogGroups"], vec![a.logs("*")], None));
    let groups = [names::log_group(name), names::flow_log_group(name), names::script_runner_log_group(name)];
    st.push(statement(
        "LogsAgentLogGroup",
        &[
            "logs:CreateLogGroup",
            "logs:DeleteLogGroup",
            "logs:PutRetentionPolicy",
            "logs:DeleteRetentionPolicy",
            "logs:AssociateKmsKey",
            "logs:DisassociateKmsKey",
            "logs:TagResource",
            "logs:UntagResource",
            "logs:ListTagsForResource",
            "logs:FilterLogEvents",
            "logs:GetLogEvents",
        ],
        // Logs checks some actions against `log-group:NAME`, others against
        // `log-group:NAME:*` (which also matches its streams, for GetLogEvents).
        groups.iter().flat_map(|g| [a.logs(g), a.logs(&format!("{g}:*"))]).collect(),
        None,
    ));

    // --- Cloud Map: the script runner's Service Connect namespace -----------------
    // Listing namespaces and reading an operation's progress have no
    // resource-level permission, and a namespace is found by its name before its
    // id (and so its ARN) is known: names, tags and progress only.
    st.push(statement(
        "CloudMapRead",
        &[
            "servicediscovery:ListNamespaces",
            "servicediscovery:GetOperation",
            "servicediscovery:GetNamespace",
            "servicediscovery:ListTagsForResource",
        ],
        vec!["*".into()],
        None,
    ));
    let namespaces = format!("arn:{}:servicediscovery:{}:{}:namespace/*", a.part, a.region, a.account);
    // CreateHttpNamespace has no resource; the tags given with it need TagResource.
    st.push(statement(
        "CloudMapCreateTaggedNamespace",
        &["servicediscovery:CreateHttpNamespace", "servicediscovery:TagResource"],
        vec!["*".into()],
        Some(request_tag(name)),
    ));
    st.push(statement(
        "CloudMapManageOwnedNamespace",
        &[
            "servicediscovery:UpdateHttpNamespace",
            "servicediscovery:DeleteNamespace",
            "servicediscovery:TagResource",
            "servicediscovery:UntagResource",
        ],
        vec![namespaces],
        Some(json!({
            "StringEquals": { format!("aws:ResourceTag/{OWNERSHIP_TAG}"): name },
            "ForAllValues:StringNotEquals": { "aws:TagKeys": [OWNERSHIP_TAG] },
        })),
    ));

    // --- S3 --------------------------------------------------------------------------
    // Granted whether or not the config creates the bucket: destroy removes one an
    // earlier config created. The name is deterministic (name, account, region).
    let bucket = format!("arn:{}:s3:::{}", a.part, names::bucket(name, account, &stack.region));
    st.push(statement(
        "S3StagingBucket",
        &[
            "s3:CreateBucket",
            "s3:DeleteBucket",
            "s3:GetBucketTagging",
            "s3:PutBucketTagging",
            "s3:GetBucketPublicAccessBlock",
            "s3:PutBucketPublicAccessBlock",
            "s3:GetEncryptionConfiguration",
            "s3:PutEncryptionConfiguration",
            "s3:GetBucketOwnershipControls",
            "s3:PutBucketOwnershipControls",
            "s3:GetBucketPolicy",
            "s3:PutBucketPolicy",
            "s3:GetBucketVersioning",
            "s3:PutBucketVersioning",
            "s3:GetLifecycleConfiguration",
            "s3:PutLifecycleConfiguration",
            "s3:GetBucketLogging",
            "s3:PutBucketLogging",
            "s3:ListBucketVersions",
            "s3:DeleteObject",
            "s3:DeleteObjectVersion",
        ],
        // Objects only for `destroy --empty-bucket` (DeleteObject, DeleteObjectVersion).
        vec![bucket.clone(), format!("{bucket}/*")],
        None,
    ));

    // --- SSM: the deployment lock ---------------------------------------------------
    st.push(statement(
        "SsmDeploymentLock",
        &["ssm:PutParameter", "ssm:GetParameter", "ssm:DeleteParameter", "ssm:AddTagsToResource"],
        vec![format!("arn:{}:ssm:{}:{}:parameter{}", a.part, a.region, a.account, names::lock_parameter(name))],
        None,
    ));

    // --- doctor ---------------------------------------------------------------------
    st.push(statement(
        "DoctorFargateQuota",
        &["servicequotas:GetServiceQuota"],
        vec![format!(
            "arn:{}:servicequotas:{}:{}:fargate/{}",
            a.part,
            a.region,
            a.account,
            crate::doctor::FARGATE_ON_DEMAND_VCPU_QUOTA_CODE
        )],
        None,
    ));
    // Reading a private ECR image's manifest (its platforms): a registry token
    // (no resource-level permission) and the repository's manifests and config.
    let image = stack
        .resources
        .iter()
        .find_map(|r| match &r.spec {
            Spec::TaskDefinition(td) => td.containers.first().map(|c| c.image.clone()),
            _ => None,
        })
        .and_then(|i| crate::image::ImageRef::parse(&i).ok());
    if let Some((acct, reg, repo)) = image.as_ref().and_then(|i| i.private_ecr()) {
        st.push(statement("DoctorEcrToken", &["ecr:GetAuthorizationToken"], vec!["*".into()], None));
        st.push(statement(
            "DoctorReadImage",
            &["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            vec![format!("arn:{}:ecr:{reg}:{acct}:repository/{repo}", a.part)],
            None,
        ));
    }
    // What the agent may reach: the named secrets, staging buckets and managed
    // policies exist, and IAM's simulator says the task role allows the agent's needs.
    let exact_secrets: Vec<String> = stack
        .access
        .secret_names
        .iter()
        .filter(|n| !n.ends_with('*'))
        .map(|n| format!("arn:{}:secretsmanager:{}:{}:secret:{n}-??????", a.part, a.region, a.account))
        .collect();
    if !exact_secrets.is_empty() {
        st.push(statement("DoctorAgentSecrets", &["secretsmanager:DescribeSecret"], exact_secrets, None));
    }
    if !stack.access.staging_buckets.is_empty() {
        st.push(statement(
            "DoctorStagingBuckets",
            &["s3:GetBucketLocation"],
            stack.access.staging_buckets.iter().map(|b| format!("arn:{}:s3:::{b}", a.part)).collect(),
            None,
        ));
    }
    if !stack.access.managed_policy_arns.is_empty() {
        st.push(statement(
            "DoctorTaskRolePolicies",
            &["iam:GetPolicy"],
            stack.access.managed_policy_arns.clone(),
            None,
        ));
    }
    // Finding a stack built by the reference Terraform module (migration check):
    // list calls, names only, which these services do not scope by resource.
    st.push(statement(
        "DoctorFindReferenceStack",
        &["ecs:ListClusters", "ecs:ListServices", "secretsmanager:ListSecrets", "iam:ListRoles"],
        vec!["*".into()],
        None,
    ));

    // --- Application Auto Scaling and CloudWatch alarms and dashboards --------------
    // A separate group (Sids `Autoscaling*`, `Alarms*`) for autoscaling, schedules,
    // alarms and dashboards.
    //
    // Scalable targets, policies and scheduled actions are identified by the ECS
    // service they scale (`service/CLUSTER/SERVICE`), not by an ARN derivable from
    // the name, so they stay on `*`; registering an ECS service as a scalable target
    // also needs ecs:DescribeServices and ecs:UpdateService on it, which the ECS
    // statements grant for this deployment's service only.
    st.push(statement(
        "AutoscalingEcsService",
        &[
            "application-autoscaling:RegisterScalableTarget",
            "application-autoscaling:DeregisterScalableTarget",
            "application-autoscaling:DescribeScalableTargets",
            "application-autoscaling:PutScalingPolicy",
            "application-autoscaling:DeleteScalingPolicy",
            "application-autoscaling:DescribeScalingPolicies",
            "application-autoscaling:PutScheduledAction",
            "application-autoscaling:DeleteScheduledAction",
            "application-autoscaling:DescribeScheduledActions",
        ],
        vec!["*".into()],
        None,
    ));
    // Alarm and dashboard names start with `NAME-` (dashboards are global: no
    // region in the ARN). The prefix also matches a deployment named `NAME-x`;
    // list the exact names here once they are settled.
    st.push(statement(
        "AlarmsAndDashboards",
        &[
            "cloudwatch:PutMetricAlarm",
            "cloudwatch:DeleteAlarms",
            "cloudwatch:DescribeAlarms",
            "cloudwatch:PutDashboard",
            "cloudwatch:DeleteDashboards",
            "cloudwatch:GetDashboard",
            "cloudwatch:ListTagsForResource",
            "cloudwatch:TagResource",
            "cloudwatch:UntagResource",
        ],
        vec![
            format!("arn:{}:cloudwatch:{}:{}:alarm:{name}-*", a.part, a.region, a.account),
            format!("arn:{}:cloudwatch::{}:dashboard/{name}", a.part, a.account),
            format!("arn:{}:cloudwatch::{}:dashboard/{name}-*", a.part, a.account),
        ],
        None,
    ));

    json!({ "Version": "2012-10-17", "Statement": st })
}

pub use crate::policy::{policy_size as size, MANAGED_POLICY_LIMIT, ROLE_INLINE_LIMIT};

/// `policy` as documents that each fit a customer managed policy, its
/// statements in order: for when the whole is too large for a role's inline
/// policies (a long `name` makes every ARN longer). A role takes 10 managed
/// policies (20 with a raised quota).
pub fn managed_policy_parts(policy: &Value) -> Vec<Value> {
    let doc = |statements: Vec<Value>| json!({ "Version": "2012-10-17", "Statement": statements });
    let mut parts: Vec<Vec<Value>> = vec![vec![]];
    for st in policy["Statement"].as_array().into_iter().flatten() {
        let current = parts.last_mut().expect("one part at least");
        current.push(st.clone());
        if current.len() > 1 && size(&doc(current.clone())) > MANAGED_POLICY_LIMIT {
            let moved = current.pop().expect("just pushed");
            parts.push(vec![moved]);
        }
    }
    parts.into_iter().map(doc).collect()
}

/// Every action the policy grants, sorted and without duplicates.
pub fn actions(policy: &Value) -> Vec<String> {
    let mut out: Vec<String> = policy["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| match &s["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(list) => list.iter().filter_map(|a| a.as_str().map(str::to_owned)).collect(),
            _ => vec![],
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{self, CredentialsNeeded, Env};
    use crate::diagnostics::SourceFile;
    use crate::model::{self, Context};

    fn stack(extra: &str) -> Stack {
        stack_named("acme", extra)
    }

    fn stack_named(name: &str, extra: &str) -> Stack {
        let text = format!(
            "name = \"{name}\"\nregion = \"eu-west-1\"\naccount_id = \"4f1c2a9e-7d3b-4c8e-9a61-2b5d8e0f3c17\"\n\
             agent_id = \"a7e3c9d1-0b2f-4e6a-8c5d-9f1b3e7a2d40\"\n{extra}\n"
        );
        // iam-policy never reads the agent's credentials.
        let loaded = match config::load(SourceFile::new("t.tfvars", text), &Env::default(), CredentialsNeeded::No) {
            Ok(l) => l,
            Err(r) => panic!("invalid config: {:?}", r.diagnostics),
        };
        model::build(&loaded.config, &Context { aws_account_id: Some("111122223333".into()), ..Context::default() })
    }

    fn statements(p: &Value) -> &Vec<Value> {
        p["Statement"].as_array().unwrap()
    }

    fn sid<'a>(p: &'a Value, sid: &str) -> &'a Value {
        statements(p).iter().find(|s| s["Sid"] == sid).unwrap_or_else(|| panic!("no statement {sid}"))
    }

    fn resources(s: &Value) -> Vec<String> {
        match &s["Resource"] {
            Value::String(r) => vec![r.clone()],
            Value::Array(l) => l.iter().map(|r| r.as_str().unwrap().to_owned()).collect(),
            _ => vec![],
        }
    }

    #[test]
    fn doctor_may_read_a_private_ecr_image_and_nothing_else_of_ecr() {
        let public = operator_policy(&stack(""), "111122223333");
        assert!(!public.to_string().contains("ecr:"), "{public:#}");
        let private = operator_policy(
            &stack("image_url = \"111122223333.dkr.ecr.eu-west-1.amazonaws.com/mirror/etl-agent:current\""),
            "111122223333",
        );
        assert_eq!(
            resources(sid(&private, "DoctorReadImage")),
            vec!["arn:aws:ecr:eu-west-1:111122223333:repository/mirror/etl-agent"]
        );
        assert_eq!(sid(&private, "DoctorEcrToken")["Action"], json!(["ecr:GetAuthorizationToken"]));
    }

    #[test]
    fn iam_policy_scopes_named_resources_by_arn() {
        let s = stack("");
        let p = operator_policy(&s, "111122223333");
        assert_eq!(p["Version"], "2012-10-17");
        assert_eq!(
            resources(sid(&p, "IamDeploymentRoles")),
            vec![
                "arn:aws:iam::111122223333:role/acme-execution-role",
                "arn:aws:iam::111122223333:role/acme-task-role",
                // Granted without the script runner and flow logs too: destroy
                // removes what an earlier config made.
                "arn:aws:iam::111122223333:role/acme-script-runner-role",
                "arn:aws:iam::111122223333:role/acme-flow-logs-role"
            ]
        );
        assert_eq!(
            resources(sid(&p, "SecretsAgentCredentials")),
            vec![
                "arn:aws:secretsmanager:eu-west-1:111122223333:secret:acme-agent-credentials-??????",
                "arn:aws:secretsmanager:eu-west-1:111122223333:secret:acme-runner-keypair-??????"
            ]
        );
        assert_eq!(
            resources(sid(&p, "SsmDeploymentLock")),
            vec!["arn:aws:ssm:eu-west-1:111122223333:parameter/agentctl/acme/lock"]
        );
        assert_eq!(
            resources(sid(&p, "S3StagingBucket")),
            vec![
                "arn:aws:s3:::acme-staging-111122223333-eu-west-1",
                "arn:aws:s3:::acme-staging-111122223333-eu-west-1/*"
            ]
        );
        assert_eq!(
            resources(sid(&p, "EcsDeploymentResources")),
            vec![
                "arn:aws:ecs:eu-west-1:111122223333:cluster/acme",
                "arn:aws:ecs:eu-west-1:111122223333:service/acme/acme-agent",
                "arn:aws:ecs:eu-west-1:111122223333:service/acme/acme-script-runner",
                "arn:aws:ecs:eu-west-1:111122223333:task-definition/acme-agent:*",
                "arn:aws:ecs:eu-west-1:111122223333:task-definition/acme-script-runner:*",
                "arn:aws:ecs:eu-west-1:111122223333:task/acme/*"
            ]
        );
        assert!(resources(sid(&p, "LogsAgentLogGroup"))
            .contains(&"arn:aws:logs:eu-west-1:111122223333:log-group:/ecs/acme-agent".to_owned()));
    }

    #[test]
    fn iam_policy_passes_roles_only_to_ecs_tasks() {
        let p = operator_policy(&stack(""), "111122223333");
        let pass: Vec<&Value> = statements(&p)
            .iter()
            .filter(|s| actions(&json!({"Statement": [s]})).contains(&"iam:PassRole".into()))
            .collect();
        assert_eq!(pass.len(), 1, "one PassRole statement");
        assert_eq!(pass[0]["Condition"]["StringEquals"]["iam:PassedToService"], "ecs-tasks.amazonaws.com");
        // The execution and task roles, and the script runner's task role.
        assert_eq!(resources(pass[0]).len(), 3);
    }

    #[test]
    fn iam_policy_star_only_where_aws_has_no_resource_level_permissions() {
        let p = operator_policy(&stack(""), "111122223333");
        for s in statements(&p) {
            if resources(s).iter().any(|r| r == "*") {
                let sid = s["Sid"].as_str().unwrap();
                let allowed_star = [
                    "Ec2Read",
                    "EcsCreateTagged",
                    "EcsTaskDefinitions",
                    "EcsListTasks",
                    "DoctorFindReferenceStack",
                    "AutoscalingEcsService",
                    "CloudMapRead",
                    "CloudMapCreateTaggedNamespace",
                ];
                assert!(allowed_star.contains(&sid), "{sid} uses `*`");
                // Writes on `*` only with the ownership tag (or ECS's cluster condition).
                if sid == "EcsCreateTagged" || sid == "CloudMapCreateTaggedNamespace" {
                    assert_eq!(s["Condition"]["StringEquals"]["aws:RequestTag/agentctl:deployment"], "acme");
                }
            }
        }
        let read = sid(&p, "Ec2Read");
        assert!(actions(&json!({"Statement": [read]})).iter().all(|a| a.starts_with("ec2:Describe")));
    }

    #[test]
    fn iam_policy_network_is_tag_scoped_and_follows_the_config() {
        let p = operator_policy(&stack(""), "111122223333");
        assert_eq!(
            sid(&p, "Ec2CreateTaggedVpc")["Condition"]["StringEquals"]["aws:RequestTag/agentctl:deployment"],
            "acme"
        );
        assert_eq!(
            sid(&p, "Ec2ManageOwnedNetwork")["Condition"]["StringEquals"]["aws:ResourceTag/agentctl:deployment"],
            "acme"
        );
        // The VPC for new subnets is the deployment's own, by tag.
        let own = sid(&p, "Ec2CreateInOwnVpc");
        assert_eq!(resources(own), vec!["arn:aws:ec2:eu-west-1:111122223333:vpc/*"]);
        assert_eq!(own["Condition"]["StringEquals"]["aws:ResourceTag/agentctl:deployment"], "acme");
        // CreateSubnet never meets `vpc/*` under a request-tag condition.
        let tagged = sid(&p, "Ec2CreateTaggedNetwork");
        assert!(!resources(tagged).iter().any(|r| r.contains(":vpc/")), "{tagged:#}");

        // Existing VPC, new subnets and group: the one VPC by id, no CreateVpc.
        let p = operator_policy(
            &stack("use_existing_vpc = true\nvpc_id = \"vpc-0a1b2c3d4e5f60718\"\ncidr_block = \"10.0.0.0/16\""),
            "111122223333",
        );
        assert!(!actions(&p).contains(&"ec2:CreateVpc".to_owned()));
        assert!(!actions(&p).contains(&"ec2:CreateInternetGateway".to_owned()));
        let existing = sid(&p, "Ec2CreateInExistingVpc");
        assert_eq!(resources(existing), vec!["arn:aws:ec2:eu-west-1:111122223333:vpc/vpc-0a1b2c3d4e5f60718"]);
        assert!(existing.get("Condition").is_none());

        // Existing everything: no EC2 create action at all.
        let p = operator_policy(
            &stack(
                "use_existing_vpc = true\nvpc_id = \"vpc-0a1b2c3d4e5f60718\"\nuse_existing_subnet = true\n\
                 subnet_ids = [\"subnet-0a1b2c3d4e5f60718\", \"subnet-0a1b2c3d4e5f60719\"]\n\
                 use_existing_security_group = true\nsecurity_group_ids = [\"sg-0a1b2c3d4e5f60718\"]",
            ),
            "111122223333",
        );
        let creates: Vec<String> =
            actions(&p).into_iter().filter(|a| a.starts_with("ec2:Create") && a != "ec2:CreateTags").collect();
        assert!(creates.is_empty() || creates == ["ec2:CreateRoute"], "{creates:?}");
    }

    #[test]
    fn iam_policy_covers_every_action_agentctl_calls() {
        let p = operator_policy(&stack(""), "111122223333");
        let granted = actions(&p);
        for a in [
            "ec2:CreateVpc",
            "ec2:CreateSubnet",
            "ec2:CreateSecurityGroup",
            "ec2:CreateTags",
            "ecs:CreateService",
            "ecs:RegisterTaskDefinition",
            "ecs:TagResource",
            "iam:CreateRole",
            "iam:PutRolePolicy",
            "iam:PassRole",
            "secretsmanager:CreateSecret",
            "secretsmanager:GetSecretValue",
            "logs:CreateLogGroup",
            "logs:FilterLogEvents",
            "s3:CreateBucket",
            "ssm:PutParameter",
            "ssm:AddTagsToResource",
            "servicequotas:GetServiceQuota",
            "application-autoscaling:RegisterScalableTarget",
            "cloudwatch:PutMetricAlarm",
        ] {
            assert!(granted.contains(&a.to_owned()), "{a} missing");
        }
        // Nothing account-wide that agentctl never needs.
        for a in &granted {
            assert!(!a.ends_with(":*") && !a.contains("ecr:") && !a.contains("kms:"), "{a}");
        }
    }

    #[test]
    fn the_service_connect_namespace_is_created_tagged_and_changed_only_when_ours() {
        let p = operator_policy(&stack("enable_script_runner = true"), "111122223333");
        let create = sid(&p, "CloudMapCreateTaggedNamespace");
        assert_eq!(create["Condition"]["StringEquals"]["aws:RequestTag/agentctl:deployment"], "acme");
        let own = sid(&p, "CloudMapManageOwnedNamespace");
        assert_eq!(resources(own), vec!["arn:aws:servicediscovery:eu-west-1:111122223333:namespace/*"]);
        assert_eq!(own["Condition"]["StringEquals"]["aws:ResourceTag/agentctl:deployment"], "acme");
        assert_eq!(own["Condition"]["ForAllValues:StringNotEquals"]["aws:TagKeys"], json!(["agentctl:deployment"]));
        // Reading is all Cloud Map grants on every namespace.
        let read = actions(&json!({"Statement": [sid(&p, "CloudMapRead")]}));
        assert!(read.iter().all(|a| a.contains(":List") || a.contains(":Get")), "{read:?}");
        // The runner's log group, role and keys are the deployment's own names.
        let logs = resources(sid(&p, "LogsAgentLogGroup"));
        assert!(logs.contains(&"arn:aws:logs:eu-west-1:111122223333:log-group:/ecs/acme-script-runner:*".to_owned()));
    }

    #[test]
    fn iam_policy_fits_inline_for_usual_names_and_in_managed_parts_for_the_longest() {
        // Too big for one managed policy (6,144); a role's inline policy holds it.
        let p = operator_policy(&stack_named("data-insights", ""), "111122223333");
        assert!(size(&p) > MANAGED_POLICY_LIMIT && size(&p) < ROLE_INLINE_LIMIT, "{} characters", size(&p));
        // The longest name makes every ARN longer: managed policies hold it.
        let name = "a".repeat(names::max_prefix_len("eu-west-1", true, true));
        let p = operator_policy(&stack_named(&name, "enable_script_runner = true"), "111122223333");
        assert!(p.to_string().contains(&format!("role/{name}-execution-role")));
        let parts = managed_policy_parts(&p);
        assert!(parts.len() >= 2 && parts.len() <= 10, "{} parts", parts.len());
        for part in &parts {
            assert!(size(part) <= MANAGED_POLICY_LIMIT, "{} characters", size(part));
            assert_eq!(part["Version"], "2012-10-17");
        }
        // Every statement once, in order.
        let rejoined: Vec<&Value> = parts.iter().flat_map(statements).collect();
        assert_eq!(rejoined, statements(&p).iter().collect::<Vec<_>>());
    }

    #[test]
    fn iam_policy_offline_uses_the_account_placeholder() {
        let s = stack("");
        let p = operator_policy(&s, names::ACCOUNT_PLACEHOLDER);
        let text = p.to_string();
        assert!(text.contains("arn:aws:iam::<aws-account-id>:role/acme-execution-role"), "{text}");
        assert!(!text.contains("111122223333"));
    }
}
