//! The agent's runtime contract against moto: what the task definition and the
//! task role hold after apply, evaluated (IAM's rules) for the calls the real
//! agent makes, and every narrowing applied, planned and undone.

mod support;

use std::collections::BTreeMap;

use agentctl_core::policy::{evaluate, Decision, Request};
use serde_json::Value;
use support::{owned_resources, rt, World, REGION};

const ACCOUNT: &str = "123456789012";

/// The task role as AWS holds it: inline documents and attached policy ARNs.
struct TaskRole {
    inline: BTreeMap<String, Value>,
    managed: Vec<String>,
}

impl TaskRole {
    fn read(w: &World) -> TaskRole {
        let role = format!("{}-task-role", w.name);
        rt().block_on(async {
            let iam = aws_sdk_iam::Client::new(&w.sdk().await);
            let mut inline = BTreeMap::new();
            for name in iam.list_role_policies().role_name(&role).send().await.unwrap().policy_names() {
                let doc = iam.get_role_policy().role_name(&role).policy_name(name).send().await.unwrap();
                inline.insert(name.clone(), agentctl_aws::decode_policy(doc.policy_document()));
            }
            let attached = iam.list_attached_role_policies().role_name(&role).send().await.unwrap();
            let mut managed: Vec<String> =
                attached.attached_policies().iter().map(|p| p.policy_arn().unwrap().to_owned()).collect();
            managed.sort();
            TaskRole { inline, managed }
        })
    }

    fn decide(&self, action: &str, resource: &str, region: &str) -> Decision {
        let context = BTreeMap::from([("aws:RequestedRegion".to_owned(), region.to_owned())]);
        evaluate(self.inline.values(), &Request { action, resource, context: &context })
    }

    fn allows(&self, action: &str, resource: &str) -> bool {
        self.decide(action, resource, REGION) == Decision::Allowed
    }
}

fn secret_arn(region: &str, name: &str) -> String {
    format!("arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{name}-Ab12Cd")
}

fn outputs(w: &World) -> Value {
    let out = w.run(&["outputs", "-o", "json"]);
    out.expect_code(0);
    serde_json::from_str(&out.stdout).unwrap()
}

/// A secret and a bucket of the user's, made outside agentctl.
fn user_secret_and_bucket(w: &World) -> (String, String) {
    rt().block_on(async {
        let cfg = w.sdk().await;
        let sm = aws_sdk_secretsmanager::Client::new(&cfg);
        let s = sm.create_secret().name("warehouse-password").secret_string("hunter2").send().await.unwrap();
        let s3 = aws_sdk_s3::Client::new(&cfg);
        s3.create_bucket().bucket("acme-landing-zone").send().await.unwrap();
        (s.arn().unwrap().to_owned(), "acme-landing-zone".to_owned())
    })
}

#[test]
fn a_plain_config_gives_the_agent_what_pipelines_need_and_every_narrowing_round_trips() {
    let w = World::new("rtc");
    let (user_secret, user_bucket) = user_secret_and_bucket(&w);
    w.config("");
    let applied = w.apply();
    assert!(
        applied.stdout.contains("Agent access: the agent can read and create every secret in us-east-1"),
        "{}",
        applied.stdout
    );

    // --- the container, as ECS holds it --------------------------------------
    rt().block_on(async {
        let ecs = aws_sdk_ecs::Client::new(&w.sdk().await);
        let td = ecs.describe_task_definition().task_definition("rtc-agent").send().await.unwrap();
        let td = td.task_definition().unwrap();
        let c = &td.container_definitions()[0];
        assert_eq!(c.user(), Some("0"), "root: Fargate's empty volumes are root's");
        assert_eq!(c.readonly_root_filesystem(), Some(true));
        let mut paths: Vec<&str> = c.mount_points().iter().filter_map(|m| m.container_path()).collect();
        paths.sort();
        assert_eq!(
            paths,
            [
                "/home",
                "/home/agentuser/api_profiles",
                "/root/.cache",
                "/tmp",
                "/usr/lib/pythonLibs",
                "/usr/local/custom-certs",
                "/usr/local/drivers",
                "/var/tmp"
            ]
        );
        assert_eq!(td.volumes().len(), 8, "one task-scoped volume per path");
        let env: BTreeMap<&str, &str> =
            c.environment().iter().map(|kv| (kv.name().unwrap(), kv.value().unwrap())).collect();
        assert_eq!(env["EXPORT_LOGS"], "true");
        assert_eq!(env["CLOUD_PROVIDER"], "AWS");
    });

    // --- the task role, as IAM holds it ----------------------------------------
    let o = outputs(&w);
    let own_secret = o["secret_arn"].as_str().unwrap().to_owned();
    let own_bucket = format!("arn:aws:s3:::{}", o["bucket"].as_str().unwrap());
    let role = TaskRole::read(&w);
    assert!(role.managed.is_empty(), "{:?}", role.managed);
    assert!(role.allows("secretsmanager:ListSecrets", "*"));
    assert!(role.allows("secretsmanager:GetSecretValue", &user_secret), "a secret agentctl did not create");
    assert!(role.allows("secretsmanager:CreateSecret", &secret_arn(REGION, "oauth-salesforce-prod")));
    assert!(role.allows("s3:PutObject", &format!("{own_bucket}/stage/x.csv")));
    assert_eq!(
        role.decide("secretsmanager:PutSecretValue", &own_secret, REGION),
        Decision::ExplicitDeny { sid: Some("ProtectAgentCredentials".into()) }
    );
    assert_eq!(
        role.decide("secretsmanager:DeleteSecret", &own_secret, REGION),
        Decision::ExplicitDeny { sid: Some("ProtectAgentCredentials".into()) }
    );
    assert_eq!(
        role.decide("secretsmanager:GetSecretValue", &secret_arn("eu-west-1", "warehouse-password"), "eu-west-1"),
        Decision::ImplicitDeny
    );
    assert_eq!(role.decide("secretsmanager:ListSecrets", "*", "eu-west-1"), Decision::ImplicitDeny);
    assert!(!role.allows("s3:PutObject", &format!("arn:aws:s3:::{user_bucket}/x")), "not listed yet");

    // --- narrowed: read-only, named secrets, the user's bucket, no bucket of
    // ours, a managed policy, an inline policy ----------------------------------
    let narrowed = format!(
        "secrets_access = \"read\"\nsecret_names = [\"warehouse-password\"]\nstaging_buckets = [\"{user_bucket}\"]\ncreate_bucket = false\ntask_role_policy_arns = [\"arn:aws:iam::aws:policy/AmazonSQSReadOnlyAccess\"]\ntask_role_policy = <<EOT\n{{\"Version\": \"2012-10-17\", \"Statement\": [{{\"Sid\": \"Glue\", \"Effect\": \"Allow\", \"Action\": \"glue:GetTable\", \"Resource\": \"*\"}}]}}\nEOT\n"
    );
    w.config(&narrowed);
    let applied = w.apply();
    assert!(applied.stdout.contains("Agent access: the agent can read 1 secret name or prefix"), "{}", applied.stdout);
    w.expect_no_changes();
    let role = TaskRole::read(&w);
    assert_eq!(role.managed, ["arn:aws:iam::aws:policy/AmazonSQSReadOnlyAccess"]);
    assert_eq!(role.inline.keys().collect::<Vec<_>>(), ["agent-custom", "agent-task"]);
    assert!(role.allows("secretsmanager:GetSecretValue", &user_secret));
    assert!(!role.allows("secretsmanager:GetSecretValue", &secret_arn(REGION, "other")));
    assert!(!role.allows("secretsmanager:CreateSecret", &secret_arn(REGION, "warehouse-password")));
    assert!(role.allows("s3:PutObject", &format!("arn:aws:s3:::{user_bucket}/x")));
    assert!(!role.allows("s3:PutObject", &format!("{own_bucket}/x")), "its own bucket is gone");
    assert!(role.allows("glue:GetTable", "arn:aws:glue:us-east-1:123456789012:table/db/t"));
    assert!(o["bucket"].is_string() && outputs(&w)["bucket"].is_null(), "create_bucket = false removed it");

    // A policy attached by hand is drift: shown, then removed by apply.
    rt().block_on(async {
        let iam = aws_sdk_iam::Client::new(&w.sdk().await);
        iam.attach_role_policy()
            .role_name("rtc-task-role")
            .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
            .send()
            .await
            .unwrap();
    });
    let plan = w.run(&["plan", "--detailed-exitcode"]);
    plan.expect_code(2);
    assert!(plan.stdout.contains("AdministratorAccess"), "{}", plan.stdout);
    w.apply();
    assert_eq!(TaskRole::read(&w).managed, ["arn:aws:iam::aws:policy/AmazonSQSReadOnlyAccess"]);

    // --- every setting back ------------------------------------------------------
    w.config("");
    w.apply();
    w.expect_no_changes();
    let role = TaskRole::read(&w);
    assert!(role.managed.is_empty(), "{:?}", role.managed);
    assert_eq!(role.inline.keys().collect::<Vec<_>>(), ["agent-task"]);
    assert!(role.allows("secretsmanager:CreateSecret", &secret_arn(REGION, "oauth-x")));

    w.run(&["destroy", "--yes", "--force-delete-secret"]).expect_code(0);
    assert_eq!(owned_resources(&w), Vec::<String>::new());
    // The user's secret and bucket were never ours: they stay.
    rt().block_on(async {
        let cfg = w.sdk().await;
        aws_sdk_secretsmanager::Client::new(&cfg)
            .describe_secret()
            .secret_id("warehouse-password")
            .send()
            .await
            .unwrap();
        aws_sdk_s3::Client::new(&cfg).head_bucket().bucket("acme-landing-zone").send().await.unwrap();
    });
}

#[test]
fn a_changed_secret_name_moves_the_credentials_and_leaves_no_secret_behind() {
    let w = World::new("rsn");
    w.config("secret_name = \"rsn-oauth-one\"");
    w.apply();
    w.expect_no_changes();
    w.config("secret_name = \"rsn-oauth-two\"");
    let plan = w.run(&["plan"]);
    plan.expect_code(0);
    assert!(plan.stdout.contains("rsn-oauth-two") && plan.stdout.contains("rsn-oauth-one"), "{}", plan.stdout);
    w.apply();
    w.expect_no_changes();
    let live = |w: &World| -> Vec<String> {
        rt().block_on(async {
            let sm = aws_sdk_secretsmanager::Client::new(&w.sdk().await);
            let mut names: Vec<String> = sm
                .list_secrets()
                .send()
                .await
                .unwrap()
                .secret_list()
                .iter()
                .filter(|s| s.deleted_date().is_none())
                .map(|s| s.name().unwrap().to_owned())
                .collect();
            names.sort();
            names
        })
    };
    assert_eq!(live(&w), ["rsn-oauth-two"]);
    // The task definition reads the new one.
    rt().block_on(async {
        let ecs = aws_sdk_ecs::Client::new(&w.sdk().await);
        let td = ecs.describe_task_definition().task_definition("rsn-agent").send().await.unwrap();
        let c = &td.task_definition().unwrap().container_definitions()[0];
        assert!(c.secrets().iter().all(|s| s.value_from().contains(":secret:rsn-oauth-two-")), "{:?}", c.secrets());
    });
    // Renamed again, then destroyed before any apply: destroy still finds it by its tag.
    w.config("secret_name = \"rsn-oauth-three\"");
    w.run(&["destroy", "--yes", "--force-delete-secret"]).expect_code(0);
    assert_eq!(live(&w), Vec::<String>::new());
    assert_eq!(owned_resources(&w), Vec::<String>::new());
}

#[test]
fn doctor_checks_the_named_secrets_buckets_and_policies_with_evidence() {
    let w = World::new("rdoc");
    user_secret_and_bucket(&w);
    rt().block_on(async {
        // A bucket of the user's in another region.
        let cfg = w.sdk().await;
        let s3 = aws_sdk_s3::Client::new(&cfg);
        let other = aws_sdk_s3::types::CreateBucketConfiguration::builder()
            .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest1)
            .build();
        s3.create_bucket().bucket("acme-eu-landing").create_bucket_configuration(other).send().await.unwrap();
    });
    w.config(
        "secrets_access = \"read\"\nsecret_names = [\"warehouse-password\", \"typo-pasword\", \"matillion/*\"]\n\
         staging_buckets = [\"acme-landing-zone\", \"acme-no-such-bucket\", \"acme-eu-landing\"]\n\
         task_role_policy_arns = [\"arn:aws:iam::aws:policy/AmazonSQSReadOnlyAccess\", \"arn:aws:iam::123456789012:policy/no-such-policy\"]",
    );
    let out = w.run(&["doctor", "-o", "json"]);
    out.expect_code(1);
    let list: Value = serde_json::from_str(out.stdout.lines().last().unwrap()).unwrap();
    let check = |id: &str| {
        list["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no {id} in {list:#}"))
            .clone()
    };
    let text = |c: &Value| {
        c["evidence"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect::<Vec<_>>().join("\n")
    };

    let secrets = check("access.secret_names");
    assert_eq!(secrets["status"], "warn");
    assert!(text(&secrets).contains("warehouse-password exists in us-east-1"), "{secrets:#}");
    assert!(text(&secrets).contains("typo-pasword does not exist in us-east-1"), "{secrets:#}");
    let buckets = check("access.staging_buckets");
    assert_eq!(buckets["status"], "fail");
    assert!(text(&buckets).contains("acme-landing-zone exists in us-east-1"), "{buckets:#}");
    assert!(text(&buckets).contains("acme-no-such-bucket does not exist"), "{buckets:#}");
    assert!(text(&buckets).contains("acme-eu-landing is in eu-west-1, not us-east-1"), "{buckets:#}");
    let policies = check("access.task_role_policy_arns");
    assert_eq!(policies["status"], "fail");
    assert!(text(&policies).contains("AmazonSQSReadOnlyAccess exists"), "{policies:#}");
    assert!(text(&policies).contains("no-such-policy does not exist"), "{policies:#}");
    // moto has no policy simulator: the policies apply would write are evaluated instead, and say so.
    let effective = check("access.effective");
    assert_eq!(effective["status"], "pass", "{effective:#}");
    assert!(text(&effective).contains("IAM's policy simulator not used"), "{effective:#}");
}
