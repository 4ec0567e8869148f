//! `agentctl iam-policy` proved with moto's IAM enforcement: every command runs
//! as a user holding only the printed policy, and without one of its actions the
//! command fails naming that action.
//!
//! What moto 5.2.1 can and cannot check (read in moto/iam/access_control.py and
//! moto/core/responses.py; measured here):
//! - Actions: checked for every call of every service agentctl uses (EC2, ECS,
//!   IAM, S3, Secrets Manager, Logs, SSM, Service Quotas), so the *action list*
//!   of the policy is tested exactly: each command works with it, and removing a
//!   representative action breaks the command that needs it.
//! - Resources: moto knows the resource of a request only for S3 (the bucket ARN)
//!   and IAM (the role ARN, once the role exists). Every other service is
//!   authorized against `*`, which no ARN pattern matches, so a statement scoped
//!   to ARNs would deny everything. The test therefore attaches the printed
//!   policy with `Resource` widened to `*` for non-S3 statements (S3 statements
//!   keep their exact bucket ARN and are enforced as printed). The ARN scoping is
//!   tested instead by comparing it with the ARNs of the resources agentctl
//!   actually created (`printed_arns_match_what_apply_creates`).
//! - Conditions: moto evaluates only `StringEquals` against values it extracts
//!   from the request, and extracts none for identity policies, so every
//!   condition (request/resource tags, iam:PassedToService, ecs:cluster) counts
//!   as met. Not checkable here.
//! - Implied permissions: moto checks only the action called, never the extra
//!   ones AWS checks (iam:PassRole for RegisterTaskDefinition, ecs:TagResource /
//!   ec2:CreateTags for tags given at creation, iam:TagRole for CreateRole with
//!   tags). Removing them does not break anything in moto; they are covered by the
//!   core's unit tests only.
//! - S3 action names: moto maps some S3 operations to other IAM names than AWS
//!   (GetPublicAccessBlock for s3:GetBucketPublicAccessBlock, ListBucket for
//!   GetBucketEncryption and GetBucketOwnershipControls, CreateBucket for
//!   PutBucketEncryption and PutBucketOwnershipControls); the moto copy of the
//!   policy adds moto's names next to AWS's.
//! - CloudWatch: moto names its actions after the signing name (`monitoring:`),
//!   not IAM's prefix (`cloudwatch:`); the moto copy adds those names too.
//! - Signatures: moto re-computes SigV4 signatures of form-encoded requests
//!   (IAM, EC2, CloudWatch) from the parsed form re-encoded with `+` for spaces,
//!   while the Rust SDK sends `%20`, so any such request with a space (a role or
//!   security group description) fails with SignatureDoesNotMatch. The test's
//!   moto loads a small shim (`SIGNATURE_SHIM`) that re-encodes the way the
//!   client did; it changes nothing in how moto authorizes.
//! - Errors: moto answers access denied with an XML body even for JSON-protocol
//!   services (ECS, Logs, SSM, Secrets Manager); agentctl reads the code and
//!   message out of it (see agentctl-aws's error.rs) so the action is named.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};
use support::{owned_resources, rt, World, REGION};

/// moto's account for every access key it does not know otherwise.
const ACCOUNT: &str = "123456789012";

#[derive(Clone)]
struct Keys {
    id: String,
    secret: String,
}

impl Keys {
    fn env(&self) -> [(&str, &str); 2] {
        [("AWS_ACCESS_KEY_ID", self.id.as_str()), ("AWS_SECRET_ACCESS_KEY", self.secret.as_str())]
    }
}

async fn sdk_as(w: &World, k: &Keys) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(&w.moto.endpoint)
        .credentials_provider(aws_sdk_iam::config::Credentials::new(&k.id, &k.secret, None, None, "test"))
        .load()
        .await
}

/// `POST /moto-api/reset-auth` with the number of requests moto still serves
/// unauthenticated: "0" turns enforcement on now, "inf" off.
fn set_auth(w: &World, body: &str) {
    let mut s = TcpStream::connect(("127.0.0.1", w.moto.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST /moto-api/reset-auth HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.0 200") || out.starts_with("HTTP/1.1 200"), "reset-auth: {out}");
}

/// An IAM user with an access key; `admin` also gets `*` on `*` (the test's own
/// hands once enforcement is on).
fn user(w: &World, name: &str, admin: bool) -> Keys {
    rt().block_on(async {
        let iam = aws_sdk_iam::Client::new(&w.sdk().await);
        iam.create_user().user_name(name).send().await.unwrap();
        if admin {
            let doc =
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
            iam.put_user_policy()
                .user_name(name)
                .policy_name("all")
                .policy_document(doc.to_string())
                .send()
                .await
                .unwrap();
        }
        let key = iam.create_access_key().user_name(name).send().await.unwrap();
        let key = key.access_key().unwrap();
        Keys { id: key.access_key_id().to_owned(), secret: key.secret_access_key().to_owned() }
    })
}

fn put_policy(w: &World, as_keys: Option<&Keys>, user: &str, doc: &Value) {
    rt().block_on(async {
        let cfg = match as_keys {
            Some(k) => sdk_as(w, k).await,
            None => w.sdk().await,
        };
        aws_sdk_iam::Client::new(&cfg)
            .put_user_policy()
            .user_name(user)
            .policy_name("agentctl")
            .policy_document(doc.to_string())
            .send()
            .await
            .unwrap();
    })
}

fn list(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_owned()).collect(),
        _ => vec![],
    }
}

/// moto's IAM names for S3 operations whose AWS names it does not use.
const MOTO_S3_NAMES: [(&str, &str); 6] = [
    ("s3:GetBucketPublicAccessBlock", "s3:GetPublicAccessBlock"),
    ("s3:PutBucketPublicAccessBlock", "s3:PutPublicAccessBlock"),
    ("s3:GetEncryptionConfiguration", "s3:ListBucket"),
    ("s3:GetBucketOwnershipControls", "s3:ListBucket"),
    ("s3:PutEncryptionConfiguration", "s3:CreateBucket"),
    ("s3:PutBucketOwnershipControls", "s3:CreateBucket"),
];

/// The printed policy as moto can evaluate it: same statements, actions and
/// conditions; `Resource` widened to `*` except for S3 (see the module comment);
/// moto's S3 action names added next to AWS's.
fn for_moto(policy: &Value) -> Value {
    let mut p = policy.clone();
    for s in p["Statement"].as_array_mut().unwrap() {
        let mut actions = list(&s["Action"]);
        if actions.iter().all(|a| a.starts_with("s3:")) {
            for (aws, moto) in MOTO_S3_NAMES {
                if actions.iter().any(|a| a == aws) && !actions.iter().any(|a| a == moto) {
                    actions.push(moto.to_owned());
                }
            }
            s["Action"] = json!(actions);
        } else {
            s["Resource"] = json!("*");
            // moto names CloudWatch actions after its signing name, `monitoring`.
            let monitoring: Vec<String> = actions
                .iter()
                .filter_map(|a| a.strip_prefix("cloudwatch:"))
                .map(|a| format!("monitoring:{a}"))
                .collect();
            actions.extend(monitoring);
            s["Action"] = json!(actions);
        }
    }
    p
}

/// The policy without `action` (in every statement; empty statements dropped).
fn without(policy: &Value, action: &str) -> Value {
    let mut p = policy.clone();
    let statements = p["Statement"].as_array_mut().unwrap();
    for s in statements.iter_mut() {
        let kept: Vec<String> = list(&s["Action"]).into_iter().filter(|a| a != action).collect();
        s["Action"] = json!(kept);
    }
    statements.retain(|s| !s["Action"].as_array().unwrap().is_empty());
    assert!(!p.to_string().contains(&format!("\"{action}\"")));
    p
}

/// Python's `sitecustomize` for the test's moto_server: see "Signatures" above.
const SIGNATURE_SHIM: &str = r#"
import urllib.parse

try:
    from moto.iam import access_control as _ac

    _orig = _ac.IAMRequestBase._create_aws_request

    def _create_aws_request(self):
        req = _orig(self)
        ct = str(self._headers.get("Content-Type", ""))
        if not self._body and isinstance(self._data, dict) and "x-www-form-urlencoded" in ct:
            pairs = []
            for k, v in self._data.items():
                for x in v if isinstance(v, list) else [v]:
                    pairs.append((k, x))
            req.data = urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote)
        return req

    _ac.IAMRequestBase._create_aws_request = _create_aws_request
except Exception:
    pass
"#;

/// A world whose moto checks signatures the way AWS does for the Rust SDK's requests.
fn world(name: &str) -> (World, tempfile::TempDir) {
    let shim = tempfile::tempdir().unwrap();
    std::fs::write(shim.path().join("sitecustomize.py"), SIGNATURE_SHIM).unwrap();
    let mut path = shim.path().display().to_string();
    if let Ok(existing) = std::env::var("PYTHONPATH") {
        path = format!("{path}:{existing}");
    }
    (World::with_moto_env(name, &[("PYTHONPATH", &path)]), shim)
}

fn printed_policy(w: &World) -> Value {
    let r = w.run(&["iam-policy", "--account", ACCOUNT]);
    r.expect_code(0);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

#[test]
fn every_command_runs_with_only_the_printed_policy_and_fails_naming_a_missing_action() {
    let (w, _shim) = world("lp");
    w.config("");
    let policy = printed_policy(&w);
    let moto_policy = for_moto(&policy);
    let admin = user(&w, "admin", true);
    let op = user(&w, "operator", false);
    put_policy(&w, None, "operator", &moto_policy);
    set_auth(&w, "0");

    // Enforcement is on: the harness's own keys belong to no IAM user.
    let denied = w.run(&["status"]);
    assert_ne!(denied.code, 0, "moto must refuse unknown keys once IAM enforcement is on:\n{}", denied.all());

    let run = |args: &[&str]| w.run_env(args, &op.env());
    let ok = |args: &[&str]| {
        let r = run(args);
        assert_eq!(
            r.code,
            0,
            "agentctl {} as the operator\n--- stdout\n{}\n--- stderr\n{}",
            args.join(" "),
            r.stdout,
            r.stderr
        );
        r
    };
    ok(&["apply", "--yes"]);
    let plan = ok(&["plan", "--detailed-exitcode"]);
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
    ok(&["outputs"]);
    ok(&["status"]);
    ok(&["tasks"]);
    ok(&["logs", "--since", "1h"]);
    ok(&["scale", "2"]);
    ok(&["redeploy"]);
    ok(&["redeploy", "--image", "public.ecr.aws/matillion/etl-agent:stable", "--no-wait"]);
    ok(&["rollback", "--no-wait"]);
    let doctor = ok(&["doctor", "-o", "json"]);
    let doctor: Value = serde_json::from_str(&doctor.stdout).unwrap();
    let migration = doctor["checks"].as_array().unwrap().iter().find(|c| c["id"] == "migration.reference_stack");
    assert_eq!(migration.unwrap()["status"], "pass", "the policy lets doctor look for a reference stack: {doctor:#}");
    ok(&["unlock", "no-such-lock"]);
    // Back to the config's image, then destroy everything.
    ok(&["apply", "--yes"]);
    ok(&["destroy", "--yes", "--force-delete-secret"]);
    set_auth(&w, "inf");
    assert_eq!(owned_resources(&w), Vec::<String>::new(), "destroy as the operator left resources");
    set_auth(&w, "0");

    // Without one action, the command that needs it fails and says which.
    let fails_saying = |action: &str, args: &[&str], says: &str| {
        put_policy(&w, Some(&admin), "operator", &without(&moto_policy, action));
        let r = run(args);
        put_policy(&w, Some(&admin), "operator", &moto_policy);
        assert_ne!(r.code, 0, "agentctl {} without {action} must fail\n{}", args.join(" "), r.all());
        assert!(
            r.stderr.contains(says),
            "agentctl {} without {action}: the error must say `{says}`\n--- stderr\n{}",
            args.join(" "),
            r.stderr
        );
        r
    };
    let fails_naming = |action: &str, args: &[&str]| fails_saying(action, args, action);
    // The lock is the first write: nothing else happens without it.
    fails_naming("ssm:PutParameter", &["apply", "--yes"]);
    fails_naming("secretsmanager:CreateSecret", &["apply", "--yes"]);
    fails_naming("ecs:CreateService", &["apply", "--yes"]);
    // A failed apply converges with the whole policy back.
    ok(&["apply", "--yes"]);
    fails_naming("ecs:UpdateService", &["scale", "2"]);
    fails_naming("logs:FilterLogEvents", &["logs", "--since", "1h"]);
    fails_naming("ec2:DescribeVpcs", &["plan"]);
    // doctor never fails for a list it may not make: it warns and names it.
    put_policy(&w, Some(&admin), "operator", &without(&moto_policy, "ecs:ListClusters"));
    let doctor = run(&["doctor", "-o", "json"]);
    put_policy(&w, Some(&admin), "operator", &moto_policy);
    let doctor: Value = serde_json::from_str(&doctor.stdout).unwrap();
    let migration = doctor["checks"].as_array().unwrap().iter().find(|c| c["id"] == "migration.reference_stack");
    let migration = migration.unwrap();
    assert_eq!(migration["status"], "warn", "{migration:#}");
    assert!(migration["evidence"].to_string().contains("ecs:ListClusters"), "{migration:#}");
    // A failed destroy removes everything else, so re-apply between the two.
    fails_naming("iam:DeleteRole", &["destroy", "--yes", "--force-delete-secret"]);
    ok(&["apply", "--yes"]);
    // moto's S3 denials say only "Access Denied" (AWS names the action for
    // same-account requests); agentctl shows what it was doing and on what.
    fails_saying(
        "s3:DeleteBucket",
        &["destroy", "--yes", "--force-delete-secret"],
        "deleting S3 bucket lp-staging-123456789012-us-east-1: AccessDenied",
    );
    ok(&["destroy", "--yes", "--force-delete-secret"]);
    set_auth(&w, "inf");
    assert_eq!(owned_resources(&w), Vec::<String>::new());
}

/// The script runner on, day-2 on it, then off and destroyed, each with only
/// the policy printed for the config at hand: the runner's names are in the
/// policy whatever the config says, so turning it off needs no other policy.
#[test]
fn the_script_runner_comes_and_goes_with_only_the_printed_policy() {
    let (w, _shim) = world("lpsr");
    let admin = user(&w, "admin", true);
    let op = user(&w, "operator", false);
    let as_operator = |config: &str| {
        w.config(config);
        let policy = for_moto(&printed_policy(&w));
        put_policy(&w, Some(&admin), "operator", &policy);
    };
    w.config("enable_script_runner = true");
    let policy = for_moto(&printed_policy(&w));
    put_policy(&w, None, "operator", &without(&policy, "servicediscovery:CreateHttpNamespace"));
    set_auth(&w, "0");
    let ok = |args: &[&str]| {
        let r = w.run_env(args, &op.env());
        assert_eq!(
            r.code,
            0,
            "agentctl {} as the operator\n--- stdout\n{}\n--- stderr\n{}",
            args.join(" "),
            r.stdout,
            r.stderr
        );
        r
    };
    // Cloud Map is enforced too: without the namespace's create, apply fails naming it.
    let denied = w.run_env(&["apply", "--yes"], &op.env());
    assert_ne!(denied.code, 0, "{}", denied.all());
    assert!(denied.stderr.contains("servicediscovery:CreateHttpNamespace"), "{}", denied.stderr);
    put_policy(&w, Some(&admin), "operator", &policy);
    ok(&["apply", "--yes"]);
    let plan = ok(&["plan", "--detailed-exitcode"]);
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
    ok(&["status", "--service", "script-runner"]);
    ok(&["tasks", "--service", "script-runner"]);
    ok(&["redeploy", "--service", "script-runner", "--no-wait"]);
    ok(&["doctor"]);
    // Off, with the policy printed for the config without the runner.
    as_operator("");
    ok(&["apply", "--yes"]);
    ok(&["destroy", "--yes", "--force-delete-secret"]);
    set_auth(&w, "inf");
    assert_eq!(owned_resources(&w), Vec::<String>::new(), "the operator left resources");
}

/// IAM would allow `action` on `arn` for a resource carrying `deployment`'s
/// ownership tag, asked by agentctl in the deployment's region.
fn covers(policy: &Value, action: &str, arn: &str, deployment: &str) -> bool {
    use agentctl_core::policy::{evaluate, Decision, Request};
    let context: std::collections::BTreeMap<String, String> = [
        ("aws:RequestedRegion", REGION),
        ("iam:PassedToService", "ecs-tasks.amazonaws.com"),
        ("aws:ResourceTag/agentctl:deployment", deployment),
        ("aws:RequestTag/agentctl:deployment", deployment),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    evaluate([policy], &Request { action, resource: arn, context: &context }) == Decision::Allowed
}

#[test]
fn printed_arns_match_what_apply_creates() {
    let w = World::new("lparn");
    w.config("");
    w.run(&["apply", "--yes"]).expect_code(0);
    let policy = printed_policy(&w);
    let out = w.run(&["outputs", "-o", "json"]);
    out.expect_code(0);
    let o: Value = serde_json::from_str(&out.stdout).unwrap();
    let s = |k: &str| o[k].as_str().unwrap_or_else(|| panic!("no {k} in {o:#}")).to_owned();
    assert_eq!(s("account_id"), ACCOUNT);
    let arn = |service: &str, rest: &str| format!("arn:aws:{service}:{REGION}:{ACCOUNT}:{rest}");
    let checks: Vec<(&str, String)> = vec![
        ("ecs:DescribeClusters", s("cluster")),
        ("ecs:DeleteCluster", s("cluster")),
        ("ecs:UpdateService", s("service")),
        ("ecs:DeleteService", s("service")),
        ("ecs:TagResource", s("task_definition")),
        ("ecs:UntagResource", s("task_definition")),
        ("iam:PutRolePolicy", s("execution_role_arn")),
        ("iam:PassRole", s("execution_role_arn")),
        ("iam:PassRole", s("task_role_arn")),
        ("secretsmanager:GetSecretValue", s("secret_arn")),
        ("secretsmanager:DeleteSecret", s("secret_arn")),
        ("logs:DeleteLogGroup", arn("logs", &format!("log-group:{}", s("log_group")))),
        ("logs:PutRetentionPolicy", arn("logs", &format!("log-group:{}:*", s("log_group")))),
        ("logs:GetLogEvents", arn("logs", &format!("log-group:{}:log-stream:agent/agent/0123", s("log_group")))),
        ("s3:PutBucketPolicy", format!("arn:aws:s3:::{}", s("bucket"))),
        ("ssm:PutParameter", arn("ssm", "parameter/agentctl/lparn/lock")),
        ("ec2:DeleteVpc", arn("ec2", &format!("vpc/{}", s("vpc_id")))),
        (
            "ec2:DeleteSecurityGroup",
            arn("ec2", &format!("security-group/{}", o["security_group_ids"][0].as_str().unwrap())),
        ),
    ];
    for (action, resource) in &checks {
        assert!(covers(&policy, action, resource, "lparn"), "the printed policy does not grant {action} on {resource}");
    }
    // And nothing of a neighbour: another deployment's names are not covered.
    for (action, resource) in &checks {
        let other = resource.replace("lparn", "lparn2");
        if other != *resource {
            assert!(!covers(&policy, action, &other, "lparn2"), "{action} also covers {other}");
        }
    }
    // The secret pattern matches Secrets Manager's suffix only, not a longer name.
    let secret = s("secret_arn");
    let longer = format!("{}-old{}", &secret[..secret.len() - 7], &secret[secret.len() - 7..]);
    assert!(!covers(&policy, "secretsmanager:GetSecretValue", &longer, "lparn"), "{longer}");
}

#[test]
fn the_hardening_switches_run_with_only_the_printed_policy() {
    // KMS key, flow logs, versioning, expiry and access logs: the policy printed
    // for this config grants what they add, and removing CreateFlowLogs stops
    // the apply naming it.
    let (w, _shim) = world("lph");
    let logs_bucket = "central-access-logs-of-lph";
    rt().block_on(async {
        let s3 = aws_sdk_s3::Client::new(&w.sdk().await);
        s3.create_bucket().bucket(logs_bucket).send().await.unwrap();
        let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": ["s3:PutObject"], "Resource": format!("arn:aws:s3:::{logs_bucket}/*")}]});
        s3.put_bucket_policy().bucket(logs_bucket).policy(policy.to_string()).send().await.unwrap();
    });
    w.config(&format!(
        "kms_key_arn = \"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab\"\n\
         vpc_flow_logs = true\nbucket_versioning = true\nbucket_expiry_days = 30\n\
         bucket_access_logs_bucket = \"{logs_bucket}\""
    ));
    let policy = printed_policy(&w);
    let text = policy.to_string();
    for action in [
        "ec2:CreateFlowLogs",
        "s3:PutBucketVersioning",
        "s3:PutLifecycleConfiguration",
        "s3:PutBucketLogging",
        "kms:Decrypt",
    ] {
        assert!(text.contains(action), "the printed policy lacks {action}");
    }
    let moto_policy = for_moto(&policy);
    let admin = user(&w, "admin", true);
    let op = user(&w, "operator", false);
    put_policy(&w, None, "operator", &without(&moto_policy, "ec2:CreateFlowLogs"));
    set_auth(&w, "0");
    let run = |args: &[&str]| w.run_env(args, &op.env());
    let refused = run(&["apply", "--yes"]);
    assert_ne!(refused.code, 0, "{}", refused.all());
    assert!(refused.stderr.contains("ec2:CreateFlowLogs"), "{}", refused.stderr);
    put_policy(&w, Some(&admin), "operator", &moto_policy);
    for args in
        [&["apply", "--yes"][..], &["plan", "--detailed-exitcode"], &["destroy", "--yes", "--force-delete-secret"]]
    {
        let r = run(args);
        assert_eq!(r.code, 0, "agentctl {} as the operator\n{}", args.join(" "), r.all());
    }
    set_auth(&w, "inf");
    assert_eq!(owned_resources(&w), Vec::<String>::new(), "destroy as the operator left resources");
}

#[test]
fn the_agents_reach_is_applied_and_checked_with_only_the_printed_policy() {
    // Managed policies on the task role, the user's secrets and bucket: apply
    // attaches, doctor looks them up, destroy detaches, all as the operator.
    let (w, _shim) = world("lpa");
    rt().block_on(async {
        let cfg = w.sdk().await;
        aws_sdk_s3::Client::new(&cfg).create_bucket().bucket("landing-of-lpa").send().await.unwrap();
        aws_sdk_secretsmanager::Client::new(&cfg)
            .create_secret()
            .name("warehouse-of-lpa")
            .secret_string("x")
            .send()
            .await
            .unwrap();
    });
    w.config(
        "secret_names = [\"warehouse-of-lpa\"]\nstaging_buckets = [\"landing-of-lpa\"]\n\
         task_role_policy_arns = [\"arn:aws:iam::aws:policy/AmazonSQSReadOnlyAccess\"]",
    );
    let policy = printed_policy(&w);
    let text = policy.to_string();
    for action in ["iam:AttachRolePolicy", "iam:GetPolicy", "s3:GetBucketLocation", "iam:SimulatePrincipalPolicy"] {
        assert!(text.contains(action), "the printed policy lacks {action}");
    }
    let moto_policy = for_moto(&policy);
    let admin = user(&w, "admin", true);
    let op = user(&w, "operator", false);
    put_policy(&w, None, "operator", &without(&moto_policy, "iam:AttachRolePolicy"));
    set_auth(&w, "0");
    let run = |args: &[&str]| w.run_env(args, &op.env());
    let refused = run(&["apply", "--yes"]);
    assert_ne!(refused.code, 0, "{}", refused.all());
    assert!(refused.stderr.contains("iam:AttachRolePolicy"), "{}", refused.stderr);
    put_policy(&w, Some(&admin), "operator", &moto_policy);
    for args in [&["apply", "--yes"][..], &["plan", "--detailed-exitcode"], &["doctor"]] {
        let r = run(args);
        assert_eq!(r.code, 0, "agentctl {} as the operator\n{}", args.join(" "), r.all());
    }
    let doctor = run(&["doctor", "-o", "json"]);
    for found in ["warehouse-of-lpa exists", "landing-of-lpa exists", "AmazonSQSReadOnlyAccess exists"] {
        assert!(doctor.stdout.contains(found), "doctor as the operator: {}", doctor.stdout);
    }
    run(&["destroy", "--yes", "--force-delete-secret"]).expect_code(0);
    set_auth(&w, "inf");
    assert_eq!(owned_resources(&w), Vec::<String>::new(), "destroy as the operator left resources");
}
