//! The config files users already have: they parse, and validation names every
//! real problem at the right line, and nothing else.

mod common;

use agentctl_core::config::{load, CredentialsNeeded, Env, NetworkConfig, SecurityGroupConfig};
use agentctl_core::diagnostics::{Report, SourceFile};
use common::*;

fn load_example(file: &str) -> (String, Report) {
    let text = example(file);
    let report = match load(SourceFile::new(file, text.clone()), &Env::default(), CredentialsNeeded::Yes) {
        Ok(loaded) => panic!("{file} must not validate as is; warnings: {}", describe(&loaded.report)),
        Err(report) => report,
    };
    (text, report)
}

/// Every error of `report` matches exactly one expectation (line, message
/// fragment), and every expectation matches exactly one error.
fn assert_errors_exactly(report: &Report, expected: &[(usize, &str)]) {
    let errs = errors(report);
    for (line, fragment) in expected {
        let hits: Vec<_> = errs.iter().filter(|d| d.message.contains(fragment) && d.line == Some(*line)).collect();
        assert_eq!(
            hits.len(),
            1,
            "expected one error at line {line} containing {fragment:?}; got:\n{}",
            describe(report)
        );
    }
    for d in &errs {
        assert!(
            expected.iter().any(|(line, fragment)| d.line == Some(*line) && d.message.contains(fragment)),
            "unexpected error {:?} at line {:?}; all:\n{}",
            d.message,
            d.line,
            describe(report)
        );
    }
    assert_eq!(errs.len(), expected.len(), "{}", describe(report));
}

#[test]
fn reference_example_parses_and_names_every_problem() {
    let (text, report) = load_example("reference-example.tfvars");
    assert!(report.diagnostics.iter().all(|d| !d.message.contains("not valid HCL")), "{}", describe(&report));
    assert!(warnings(&report).is_empty(), "{}", describe(&report));
    // Sanity-check the line numbers the expectations below rely on.
    assert_eq!(line_of(&text, "vpc_id ="), 35);
    assert_eq!(line_of(&text, "assign_public_ip ="), 59);
    assert_errors_exactly(
        &report,
        &[
            (11, "`account_id` = \"your-matillion-account-id\" is a placeholder"),
            (14, "`agent_id` = \"your-agent-id\" is a placeholder"),
            (29, "`client_id` is a placeholder"),
            (32, "`client_secret` is a placeholder"),
            (35, "\"vpc-xxxxxxxxx\" is a placeholder"),
            (38, "\"subnet-xxxxxxxxx\" is a placeholder"),
            (38, "\"subnet-yyyyyyyyy\" is a placeholder"),
            (41, "\"sg-xxxxxxxxx\" is a placeholder"),
            (35, "`vpc_id` is set but `use_existing_vpc` is false"),
            (38, "`subnet_ids` is set but `use_existing_subnet` is false"),
            (41, "`security_group_ids` is set but `use_existing_security_group` is false"),
            (59, "`assign_public_ip` = false with the VPC agentctl creates"),
        ],
    );
    // Each placeholder in the subnet list points at its own element.
    let subnet_cols: Vec<_> = matching(&report, "is a placeholder")
        .into_iter()
        .filter(|d| d.message.contains("subnet-"))
        .map(|d| d.column.unwrap())
        .collect();
    assert_eq!(subnet_cols.len(), 2);
    assert_ne!(subnet_cols[0], subnet_cols[1]);
}

#[test]
fn seed_quickstart_parses_and_names_both_traps() {
    let (text, report) = load_example("seed-quickstart.tfvars");
    assert!(report.diagnostics.iter().all(|d| !d.message.contains("not valid HCL")), "{}", describe(&report));
    assert!(warnings(&report).is_empty(), "{}", describe(&report));
    assert_eq!(line_of(&text, "matillion_region"), 8);
    assert_errors_exactly(
        &report,
        &[
            (8, "`matillion_region` = \"us-east-1\" is an AWS region name, not a Matillion region code"),
            (6, "`account_id` = \"your-matillion-account-id\" is a placeholder"),
            (7, "`agent_id` = \"your-unique-agent-id\" is a placeholder"),
            (9, "`client_id` is a placeholder"),
            (10, "`client_secret` is a placeholder"),
            (13, "\"vpc-12345678\" is a placeholder"),
            (14, "\"subnet-12345678\" is a placeholder"),
            (14, "\"subnet-87654321\" is a placeholder"),
            (15, "\"sg-12345678\" is a placeholder"),
            (13, "`vpc_id` is set but `use_existing_vpc` is false"),
            (14, "`subnet_ids` is set but `use_existing_subnet` is false"),
            (15, "`security_group_ids` is set but `use_existing_security_group` is false"),
        ],
    );
    // The Matillion-region error says what to write instead.
    let trap = &matching(&report, "matillion_region")[0];
    let help = trap.help.unwrap();
    assert!(help.contains("`us1`"), "{help}");
    assert!(help.contains("`region`"), "{help}");
    assert_eq!(trap.column, Some(21), "points at the value, not the name");
    // The VPC trap explains both ways out.
    let vpc = &matching(&report, "`vpc_id` is set")[0];
    assert!(vpc.message.contains("a new VPC created"), "{}", vpc.message);
    let help = vpc.help.unwrap();
    assert!(help.contains("use_existing_vpc = true"), "{help}");
    assert!(help.contains("remove `vpc_id`"), "{help}");
}

/// The reference example with its placeholders filled in and the existing-network
/// flags it forgot: loads, and keeps every value it sets.
#[test]
fn reference_example_loads_once_filled_in() {
    let text = example("reference-example.tfvars")
        .replace("your-matillion-account-id", ACCOUNT_ID)
        .replace("your-agent-id", AGENT_ID)
        .replace("your-client-id", CLIENT_ID)
        .replace("your-client-secret", CLIENT_SECRET)
        .replace("vpc-xxxxxxxxx", "vpc-0a1b2c3d4e5f60718")
        .replace("subnet-xxxxxxxxx", "subnet-0a1b2c3d")
        .replace("subnet-yyyyyyyyy", "subnet-0e1f2a3b")
        .replace("sg-xxxxxxxxx", "sg-0123456789abcdef0")
        + "use_existing_vpc = true\nuse_existing_subnet = true\nuse_existing_security_group = true\n";
    let loaded = load_text(&text, &Env::default()).unwrap_or_else(|r| panic!("{}", describe(&r)));
    let c = &loaded.config;
    assert_eq!(c.name, "data-insights");
    assert_eq!(c.region, "us-east-1");
    assert_eq!(c.account_id, ACCOUNT_ID);
    assert_eq!(c.matillion_region, "eu1");
    assert_eq!((c.agent_cpu, c.agent_memory, c.desired_count), (1024, 4096, 2));
    assert_eq!(c.ephemeral_storage_size, None);
    assert!(!c.assign_public_ip);
    assert!(c.create_bucket);
    assert_eq!(
        c.network,
        NetworkConfig::Existing {
            vpc_id: "vpc-0a1b2c3d4e5f60718".into(),
            subnet_ids: vec!["subnet-0a1b2c3d".into(), "subnet-0e1f2a3b".into()],
            security_group: SecurityGroupConfig::Existing(vec!["sg-0123456789abcdef0".into()]),
        }
    );
    assert_eq!(c.credentials.as_ref().unwrap().client_secret.expose(), CLIENT_SECRET);
    // Only the two "credential in the file" warnings remain.
    let w = warnings(&loaded.report);
    assert_eq!(w.len(), 2, "{}", describe(&loaded.report));
    assert_eq!(w[0].line, Some(29));
    assert_eq!(w[1].line, Some(32));
}

#[test]
fn seed_quickstart_loads_once_fixed() {
    let text = example("seed-quickstart.tfvars")
        .replace("matillion_region  = \"us-east-1\"", "matillion_region  = \"us1\"")
        .replace("your-matillion-account-id", ACCOUNT_ID)
        .replace("your-unique-agent-id", AGENT_ID)
        .replace("vpc-12345678", "vpc-0123abcd")
        .replace("subnet-12345678", "subnet-0a0b0c0d")
        .replace("subnet-87654321", "subnet-1a1b1c1d")
        .replace("sg-12345678", "sg-0f0e0d0c")
        + "use_existing_vpc = true\nuse_existing_subnet = true\nuse_existing_security_group = true\n";
    // The credentials stay placeholders in the file; the environment wins.
    let loaded = load_ok(&text);
    let c = &loaded.config;
    assert_eq!(c.name, "matillion-agent");
    assert_eq!(c.matillion_region, "us1");
    assert_eq!(c.ephemeral_storage_size, Some(30));
    assert_eq!(c.credentials.as_ref().unwrap().client_id.expose(), CLIENT_ID);
    assert_eq!(c.credentials.as_ref().unwrap().client_secret.expose(), CLIENT_SECRET);
    assert!(c.assign_public_ip, "default is true");
    assert!(loaded.report.diagnostics.is_empty(), "{}", describe(&loaded.report));
}
