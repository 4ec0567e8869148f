//! What the running agent may reach: the task role's policies for each setting,
//! proven by evaluating them (IAM's rules, `agentctl_core::policy::evaluate`)
//! for the calls a real agent makes, and the validation of those settings.

mod common;

use std::collections::BTreeMap;

use agentctl_core::config::SecretsAccess;
use agentctl_core::model::{addr, build, iam, Context, Spec, Stack};
use agentctl_core::policy::{evaluate, Decision, Request};
use common::*;
use serde_json::Value;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "eu-west-1";

fn stack_of(vars: &[(&str, &str)]) -> Stack {
    let loaded = load_ok(&tfvars(&[&[("name", "\"acme\"")], vars].concat()));
    build(&loaded.config, &Context { aws_account_id: Some(ACCOUNT.into()), ..Context::default() })
}

/// The task role's inline policies (managed ones are AWS's to evaluate).
fn task_policies(stack: &Stack) -> Vec<Value> {
    match &stack.get(addr::TASK_ROLE).unwrap().spec {
        Spec::IamRole(role) => role.policies.values().cloned().collect(),
        other => panic!("{other:?}"),
    }
}

fn decide(stack: &Stack, action: &str, resource: &str, context: &[(&str, &str)]) -> Decision {
    let context: BTreeMap<String, String> = context.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let policies = task_policies(stack);
    evaluate(policies.iter(), &Request { action, resource, context: &context })
}

fn secret(region: &str, name: &str) -> String {
    format!("arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{name}-AbC123")
}

const IN_REGION: &[(&str, &str)] = &[("aws:RequestedRegion", REGION)];

fn allowed(stack: &Stack, action: &str, resource: &str) -> bool {
    decide(stack, action, resource, IN_REGION) == Decision::Allowed
}

#[test]
fn by_default_the_agent_reads_and_creates_secrets_of_its_region() {
    let s = stack_of(&[]);
    assert_eq!(decide(&s, "secretsmanager:ListSecrets", "*", IN_REGION), Decision::Allowed);
    // A secret a user names in a secret definition: agentctl did not create it.
    assert!(allowed(&s, "secretsmanager:GetSecretValue", &secret(REGION, "warehouse-password")));
    assert!(allowed(&s, "secretsmanager:DescribeSecret", &secret(REGION, "warehouse-password")));
    // OAuth and cloud credentials defined in Matillion: the agent stores them.
    for action in ["CreateSecret", "PutSecretValue", "UpdateSecret", "TagResource"] {
        assert!(allowed(&s, &format!("secretsmanager:{action}"), &secret(REGION, "oauth-salesforce")), "{action}");
    }
    // Deleting is not part of the baseline.
    assert_eq!(
        decide(&s, "secretsmanager:DeleteSecret", &secret(REGION, "oauth-salesforce"), IN_REGION),
        Decision::ImplicitDeny
    );
}

#[test]
fn the_agent_never_changes_its_own_credentials_secret() {
    for access in ["manage", "read", "none"] {
        for names in ["[]", "[\"acme-*\"]"] {
            let s = stack_of(&[("secrets_access", &format!("\"{access}\"")), ("secret_names", names)]);
            let own = secret(REGION, "acme-agent-credentials");
            for action in ["PutSecretValue", "UpdateSecret", "DeleteSecret", "TagResource", "PutResourcePolicy"] {
                let d = decide(&s, &format!("secretsmanager:{action}"), &own, IN_REGION);
                assert_eq!(
                    d,
                    Decision::ExplicitDeny { sid: Some("ProtectAgentCredentials".into()) },
                    "{access} {names} {action}"
                );
            }
        }
    }
    // With a secret_name of the user's choice, that secret is the protected one.
    let s = stack_of(&[("secret_name", "\"matillion-oauth-credentials\"")]);
    let d = decide(&s, "secretsmanager:PutSecretValue", &secret(REGION, "matillion-oauth-credentials"), IN_REGION);
    assert!(matches!(d, Decision::ExplicitDeny { .. }), "{d:?}");
}

#[test]
fn the_agent_never_reaches_another_regions_secrets() {
    let s = stack_of(&[]);
    for action in ["GetSecretValue", "CreateSecret", "PutSecretValue"] {
        let d = decide(
            &s,
            &format!("secretsmanager:{action}"),
            &secret("us-east-1", "db"),
            &[("aws:RequestedRegion", "us-east-1")],
        );
        assert_eq!(d, Decision::ImplicitDeny, "{action}");
    }
    let d = decide(&s, "secretsmanager:ListSecrets", "*", &[("aws:RequestedRegion", "us-east-1")]);
    assert_eq!(d, Decision::ImplicitDeny);
}

#[test]
fn read_only_and_none_narrow_the_secrets() {
    let s = stack_of(&[("secrets_access", "\"read\"")]);
    assert!(allowed(&s, "secretsmanager:GetSecretValue", &secret(REGION, "db")));
    assert!(allowed(&s, "secretsmanager:ListSecrets", "*"));
    assert!(!allowed(&s, "secretsmanager:CreateSecret", &secret(REGION, "db")));
    assert!(!allowed(&s, "secretsmanager:PutSecretValue", &secret(REGION, "db")));

    let s = stack_of(&[("secrets_access", "\"none\"")]);
    for action in ["ListSecrets", "GetSecretValue", "CreateSecret"] {
        assert!(!allowed(&s, &format!("secretsmanager:{action}"), &secret(REGION, "db")), "{action}");
    }
}

#[test]
fn secret_names_narrow_reading_and_writing_to_names_and_prefixes() {
    let s = stack_of(&[("secret_names", "[\"warehouse-password\", \"matillion/*\"]")]);
    assert!(allowed(&s, "secretsmanager:GetSecretValue", &secret(REGION, "warehouse-password")));
    assert!(allowed(&s, "secretsmanager:CreateSecret", &secret(REGION, "matillion/oauth/salesforce")));
    // A name is that secret only, not every secret that starts with it.
    assert!(!allowed(&s, "secretsmanager:GetSecretValue", &secret(REGION, "warehouse-password-old")));
    assert!(!allowed(&s, "secretsmanager:GetSecretValue", &secret(REGION, "other")));
    assert!(!allowed(&s, "secretsmanager:CreateSecret", &secret(REGION, "other")));
    // Listing stays possible: it names no secret.
    assert!(allowed(&s, "secretsmanager:ListSecrets", "*"));
}

#[test]
fn staging_buckets_are_reachable_besides_the_own_bucket() {
    let s = stack_of(&[("staging_buckets", "[\"acme-landing\"]")]);
    let own = format!("arn:aws:s3:::acme-staging-{ACCOUNT}-{REGION}");
    for bucket in [own.as_str(), "arn:aws:s3:::acme-landing"] {
        assert!(allowed(&s, "s3:ListBucket", bucket), "{bucket}");
        for action in ["GetObject", "PutObject", "DeleteObject", "AbortMultipartUpload"] {
            assert!(
                allowed(&s, &format!("s3:{action}"), &format!("{bucket}/stage/part-0001.csv")),
                "{action} {bucket}"
            );
        }
    }
    assert!(!allowed(&s, "s3:PutObject", "arn:aws:s3:::someone-elses/x"));
    assert!(!allowed(&s, "s3:DeleteBucket", "arn:aws:s3:::acme-landing"));
    assert!(allowed(&s, "s3:ListAllMyBuckets", "*"));

    // No bucket of ours: only the listed ones.
    let s = stack_of(&[("create_bucket", "false"), ("staging_buckets", "[\"acme-landing\"]")]);
    assert!(allowed(&s, "s3:PutObject", "arn:aws:s3:::acme-landing/x"));
    assert!(!allowed(&s, "s3:PutObject", &format!("arn:aws:s3:::acme-staging-{ACCOUNT}-{REGION}/x")));
}

#[test]
fn secret_keys_are_usable_through_secrets_manager_only() {
    let key = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab");
    let s = stack_of(&[("secret_kms_key_arns", &format!("[\"{key}\"]"))]);
    let via = [("aws:RequestedRegion", REGION), ("kms:ViaService", "secretsmanager.eu-west-1.amazonaws.com")];
    assert_eq!(decide(&s, "kms:Decrypt", &key, &via), Decision::Allowed);
    assert_eq!(decide(&s, "kms:GenerateDataKey", &key, &via), Decision::Allowed, "creating secrets encrypts");
    assert_eq!(decide(&s, "kms:Decrypt", &key, IN_REGION), Decision::ImplicitDeny, "directly: no");
    let s = stack_of(&[("secret_kms_key_arns", &format!("[\"{key}\"]")), ("secrets_access", "\"read\"")]);
    assert_eq!(decide(&s, "kms:GenerateDataKey", &key, &via), Decision::ImplicitDeny, "read-only never encrypts");
}

#[test]
fn managed_and_inline_policies_of_the_user_go_on_the_task_role() {
    let s = stack_of(&[
        ("task_role_policy_arns", "[\"arn:aws:iam::aws:policy/AmazonRedshiftDataFullAccess\"]"),
        (
            "task_role_policy",
            "<<EOT\n{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"glue:GetTable\", \"Resource\": \"*\"}]\n}\nEOT",
        ),
    ]);
    let Spec::IamRole(role) = &s.get(addr::TASK_ROLE).unwrap().spec else { panic!() };
    assert_eq!(role.managed_policy_arns, ["arn:aws:iam::aws:policy/AmazonRedshiftDataFullAccess"]);
    assert_eq!(role.policies.keys().collect::<Vec<_>>(), [iam::CUSTOM_TASK_POLICY, iam::TASK_POLICY]);
    assert!(allowed(&s, "glue:GetTable", "arn:aws:glue:eu-west-1:123456789012:table/db/t"));
    // The execution role gets none of it.
    let Spec::IamRole(exec) = &s.get(addr::EXECUTION_ROLE).unwrap().spec else { panic!() };
    assert!(exec.managed_policy_arns.is_empty());
    assert_eq!(exec.policies.len(), 1);
}

#[test]
fn the_summary_says_what_the_agent_may_reach_and_how_to_narrow_it() {
    let c = load_ok(&tfvars(&[])).config;
    assert_eq!(c.access.secrets, SecretsAccess::Manage);
    assert_eq!(
        iam::access_summary(&c),
        "Agent access: the agent can read and create every secret in eu-west-1 (narrow with `secret_names`, or `secrets_access = \"read\"`); objects in 1 staging bucket; never its own credentials secret."
    );
    let c = load_ok(&tfvars(&[
        ("secrets_access", "\"read\""),
        ("secret_names", "[\"a\", \"b/*\"]"),
        ("staging_buckets", "[\"acme-landing\"]"),
        ("task_role_policy_arns", "[\"arn:aws:iam::123456789012:policy/glue\"]"),
    ]))
    .config;
    assert_eq!(
        iam::access_summary(&c),
        "Agent access: the agent can read 2 secret names or prefixes (`secret_names`); objects in 2 staging buckets; 1 managed policy of yours; never its own credentials secret."
    );
}

#[test]
fn the_container_runs_as_root_with_the_writable_paths_and_export_logs() {
    let td = |vars: &[(&str, &str)]| match &stack_of(vars).get(addr::TASK_DEFINITION).unwrap().spec {
        Spec::TaskDefinition(td) => td.clone(),
        other => panic!("{other:?}"),
    };
    let env = |vars: &[(&str, &str)]| -> BTreeMap<String, String> {
        td(vars).containers[0].environment.iter().map(|kv| (kv.name.clone(), kv.value.clone())).collect()
    };
    assert_eq!(env(&[])["EXPORT_LOGS"], "true");
    assert_eq!(env(&[])["CLOUD_PROVIDER"], "AWS");
    // A bool, or the reference module's string.
    assert_eq!(env(&[("export_logs", "false")])["EXPORT_LOGS"], "false");
    assert_eq!(env(&[("export_logs", "\"false\"")])["EXPORT_LOGS"], "false");
    let t = td(&[]);
    assert_eq!(t.containers[0].user.as_deref(), Some("0"));
    assert!(t.containers[0].readonly_root_filesystem);
    for path in ["/usr/lib/pythonLibs", "/usr/local/drivers", "/usr/local/custom-certs", "/root/.cache", "/home"] {
        assert!(t.containers[0].mount_points.iter().any(|m| m.container_path == path), "{path}");
    }
}

// --- validation ---------------------------------------------------------------

/// Each bad value is one located error naming its variable.
#[test]
fn bad_access_settings_are_located_errors() {
    for (var, value, message) in [
        ("secrets_access", "\"write\"", "`secrets_access` = \"write\" is not one of \"manage\", \"read\", \"none\""),
        ("secret_names", "[\"prod/*/db\"]", "`secret_names`: \"prod/*/db\" has `*` before its end"),
        ("secret_names", "[\"*db\"]", "`secret_names`: \"*db\" has `*` before its end"),
        ("secret_names", "[\"db password\"]", "`secret_names`: \"db password\" contains ' '"),
        (
            "staging_buckets",
            "[\"arn:aws:s3:::landing\"]",
            "`staging_buckets`: \"arn:aws:s3:::landing\" is not an S3 bucket name",
        ),
        ("staging_buckets", "[\"Landing_Bucket\"]", "`staging_buckets`: \"Landing_Bucket\" is not an S3 bucket name"),
        (
            "task_role_policy_arns",
            "[\"AmazonRedshiftFullAccess\"]",
            "`task_role_policy_arns`: \"AmazonRedshiftFullAccess\" is not the ARN of a managed policy",
        ),
        ("task_role_policy_arns", "[\"arn:aws:iam::aws:role/x\"]", "is not the ARN of a managed policy"),
        (
            "task_role_policy_arns",
            "[\"arn:aws-cn:iam::aws:policy/x\"]",
            "is in partition aws-cn, but the deployment's region is in aws",
        ),
        ("task_role_policy", "\"{not json\"", "`task_role_policy` is not JSON"),
        ("task_role_policy", "\"{\\\"Statement\\\": []}\"", "`task_role_policy` is not a valid IAM policy"),
        ("secret_kms_key_arns", "[\"alias/secrets\"]", "`secret_kms_key_arns`: \"alias/secrets\" is an alias"),
        ("secret_name", "\"bad name!\"", "`secret_name` is not a valid secret name"),
    ] {
        let text = tfvars(&[(var, value)]);
        let report = load_err(&text);
        let errs = errors(&report);
        assert!(!errs.is_empty(), "{var} = {value}");
        assert!(errs.iter().all(|d| d.line == Some(line_of(&text, var))), "{var} = {value}: {}", describe(&report));
        assert!(errs.iter().any(|d| d.message.contains(message)), "{var} = {value}: {}", describe(&report));
    }
}

#[test]
fn a_policy_with_a_principal_is_not_a_task_role_policy() {
    let policy = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}]}"#;
    let text = tfvars(&[("task_role_policy", &format!("<<EOT\n{policy}\nEOT"))]);
    let report = load_err(&text);
    let d = single_error(&report);
    assert!(d.message.contains("Principal"), "{}", d.message);
}

#[test]
fn a_task_role_policy_too_large_for_iam_is_refused() {
    let resources: Vec<String> = (0..400).map(|i| format!("\"arn:aws:s3:::bucket-number-{i}/*\"")).collect();
    let policy = format!(
        r#"{{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow", "Action": "s3:GetObject", "Resource": [{}]}}]}}"#,
        resources.join(", ")
    );
    let report = load_err(&tfvars(&[("task_role_policy", &format!("<<EOT\n{policy}\nEOT"))]));
    let d = single_error(&report);
    assert!(d.message.contains("IAM allows 10240 per role"), "{}", d.message);
}

#[test]
fn both_names_of_one_size_setting_is_an_error() {
    for (old, new) in [("agent_cpu", "runner_cpu"), ("agent_memory", "runner_memory")] {
        let text = tfvars(&[(old, "2048"), (new, "2048")]);
        let report = load_err(&text);
        let d = matching(&report, "are two names of one setting");
        assert_eq!(d.len(), 1, "{}", describe(&report));
        assert_eq!(d[0].line, Some(line_of(&text, new)));
    }
}

#[test]
fn runner_cpu_and_memory_override_the_runner_size_as_in_the_reference() {
    let c = load_ok(&tfvars(&[("runner_size", "\"small\""), ("runner_cpu", "2048"), ("runner_memory", "8192")])).config;
    assert_eq!((c.agent_cpu, c.agent_memory), (2048, 8192));
    let c = load_ok(&tfvars(&[("runner_memory", "6144")])).config;
    assert_eq!((c.agent_cpu, c.agent_memory), (1024, 6144), "small's CPU with the given memory");
    let text = tfvars(&[("runner_cpu", "4096"), ("runner_memory", "4096")]);
    let d = load_err(&text);
    let d = single_error(&d);
    assert!(d.help.unwrap().contains("with runner_cpu = 4096, runner_memory must be one of"), "{:?}", d.help);
    assert_eq!(d.line, Some(line_of(&text, "runner_memory")));
}

#[test]
fn the_newest_reference_variables_are_accepted() {
    let c = load_ok(&tfvars(&[
        ("runner_size", "\"medium\""),
        ("export_logs", "\"true\""),
        ("secret_name", "\"matillion-oauth-credentials\""),
    ]))
    .config;
    assert_eq!((c.agent_cpu, c.agent_memory), (2048, 8192));
    assert!(c.export_logs);
    assert_eq!(c.secret_name, "matillion-oauth-credentials");
    let s = build(&c, &Context::default());
    assert_eq!(s.get(addr::SECRET).unwrap().name, "matillion-oauth-credentials");
    // Not set: the name agentctl has always used.
    assert_eq!(load_ok(&tfvars(&[])).config.secret_name, "data-insights-agent-credentials");
}

#[test]
fn no_staging_bucket_at_all_is_a_warning_that_says_why() {
    let text = tfvars(&[("create_bucket", "false")]);
    let loaded = load_ok(&text);
    let w = warnings(&loaded.report);
    assert_eq!(w.len(), 1, "{}", describe(&loaded.report));
    assert!(w[0].message.contains("pipelines that stage"), "{}", w[0].message);
    assert_eq!(w[0].line, Some(line_of(&text, "create_bucket")));
    let loaded = load_ok(&tfvars(&[("create_bucket", "false"), ("staging_buckets", "[\"acme-landing\"]")]));
    assert!(warnings(&loaded.report).is_empty(), "{}", describe(&loaded.report));
}
