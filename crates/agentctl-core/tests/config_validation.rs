//! Every validation rule, with input it accepts and input it rejects.

mod common;

use std::collections::HashMap;

use agentctl_core::config::{Env, NetworkConfig, SecurityGroupConfig};
use agentctl_core::diagnostics::Severity;
use agentctl_core::fargate;
use common::*;

// --- parsing -------------------------------------------------------------------

#[test]
fn minimal_config_loads_with_the_reference_defaults() {
    let loaded = load_ok(&tfvars(&[]));
    assert!(loaded.report.diagnostics.is_empty(), "{}", describe(&loaded.report));
    let c = loaded.config;
    assert_eq!(c.name, "data-insights");
    assert_eq!(c.region, "eu-west-1");
    assert_eq!(c.image_url, "public.ecr.aws/matillion/etl-agent:current");
    assert_eq!(c.matillion_region, "eu1");
    assert_eq!(c.matillion_environment, "");
    assert_eq!(c.desired_count, 2);
    assert_eq!((c.agent_cpu, c.agent_memory), (1024, 4096));
    assert_eq!(c.ephemeral_storage_size, None);
    assert!(c.assign_public_ip);
    assert!(c.create_bucket);
    assert!(c.tags.is_empty());
    assert_eq!(c.log_retention_days, 30);
    assert_eq!(
        c.network,
        NetworkConfig::New { cidr_block: "10.0.0.0/16".into(), security_group: SecurityGroupConfig::Create }
    );
}

#[test]
fn unknown_variable_suggests_the_closest_name() {
    let text = tfvars(&[("desired_cont", "2")]);
    let report = load_err(&text);
    let d = single_error(&report);
    assert_eq!(d.message, "unknown variable `desired_cont`");
    assert_eq!(d.help, Some("did you mean `desired_count`?"));
    assert_eq!(d.line, Some(line_of(&text, "desired_cont")));
    assert_eq!(d.column, Some(1));
}

#[test]
fn unknown_variable_far_from_any_name_gets_no_guess() {
    let report = load_err(&tfvars(&[("zzqqxx", "1")]));
    let d = single_error(&report);
    assert_eq!(d.message, "unknown variable `zzqqxx`");
    assert!(!d.help.unwrap().contains("did you mean"), "{:?}", d.help);
}

#[test]
fn variable_set_twice_is_an_error_at_the_second() {
    // hcl-edit refuses a redefined attribute while parsing.
    let text = tfvars(&[("desired_count", "2\ndesired_count = 3")]);
    let report = load_err(&text);
    let d = single_error(&report);
    assert!(d.message.contains("not valid HCL") && d.message.contains("redefined attribute"), "{}", d.message);
    assert_eq!(d.line, Some(line_of(&text, "desired_count = 3")));
}

#[test]
fn wrong_types_are_errors_naming_expected_and_found() {
    for (var, value, expected) in [
        ("desired_count", "\"two\"", "`desired_count` must be a number, found string"),
        ("tags", "[\"a\"]", "`tags` must be a map(string), found list"),
        ("create_bucket", "\"yes\"", "`create_bucket` must be a bool, found string"),
        ("subnet_ids", "\"subnet-0a1b2c3d\"", "`subnet_ids` must be a list(string), found string"),
        ("subnet_ids", "[1]", "`subnet_ids` must be a list(string), found number"),
        ("name", "[\"a\"]", "`name` must be a string, found list"),
        ("agent_cpu", "true", "`agent_cpu` must be a number, found bool"),
    ] {
        let text = tfvars(&[(var, value)]);
        let report = load_err(&text);
        let d = single_error(&report);
        assert_eq!(d.message, expected, "{var} = {value}");
        assert_eq!(d.line, Some(line_of(&text, &format!("{var} ="))), "{var}");
        assert!(d.help.unwrap().starts_with("write it as a"), "{:?}", d.help);
    }
}

#[test]
fn values_convert_the_way_terraform_converts_them() {
    let c = load_ok(&tfvars(&[
        ("desired_count", "\"3\""),
        ("agent_cpu", "\"2048\""),
        ("agent_memory", "\"8192\""),
        ("create_bucket", "\"false\""),
        ("account_id", "123456"),
        ("tags", "{ team = \"data\", cost_center = 42, billable = true }"),
    ]))
    .config;
    assert_eq!(c.desired_count, 3);
    assert_eq!((c.agent_cpu, c.agent_memory), (2048, 8192));
    assert!(!c.create_bucket);
    assert_eq!(c.account_id, "123456");
    assert_eq!(c.tags["cost_center"], "42");
    assert_eq!(c.tags["billable"], "true");
    assert_eq!(c.tags["team"], "data");
}

#[test]
fn null_means_the_default() {
    let c = load_ok(&tfvars(&[
        ("desired_count", "null"),
        ("name", "null"),
        ("assign_public_ip", "null"),
        ("ephemeral_storage_size", "null"),
    ]))
    .config;
    assert_eq!(c.desired_count, 2);
    assert_eq!(c.name, "data-insights");
    assert!(c.assign_public_ip);
    assert_eq!(c.ephemeral_storage_size, None);
}

#[test]
fn expressions_are_not_values() {
    let text =
        tfvars(&[("name", "\"${var.prefix}-agent\""), ("desired_count", "max(1, 2)"), ("agent_cpu", "local.cpu")]);
    let report = load_err(&text);
    for (var, kind) in [("name", "string template"), ("desired_count", "function call"), ("agent_cpu", "reference")] {
        let hits = matching(&report, &format!("`{var}` is a {kind}"));
        assert_eq!(hits.len(), 1, "{var}: {}", describe(&report));
        assert_eq!(hits[0].line, Some(line_of(&text, &format!("{var} ="))));
    }
    // Each is reported once, not again as a type error.
    assert_eq!(errors(&report).len(), 3, "{}", describe(&report));

    // Inside a list or map, the element is a type error of its own.
    let text = tfvars(&[("tags", "{ team = var.team }"), ("name", "[local.name]")]);
    let report = load_err(&text);
    let errs = errors(&report);
    assert_eq!(errs.len(), 2, "{}", describe(&report));
    assert_eq!(errs[0].message, "`name` must be a string, found list");
    assert_eq!(errs[1].message, "`tags` must be a map(string), found reference");
}

#[test]
fn environment_value_that_is_not_a_literal_is_one_error_naming_its_source() {
    let mut env = env_with_creds();
    env.tf_vars.insert("desired_count".into(), "abc".into());
    let report = load_err_env(&tfvars(&[]), &env);
    let d = single_error(&report);
    assert_eq!(
        d.message,
        "`desired_count` is a reference (from environment variable TF_VAR_desired_count); a variables file holds literal values only"
    );
    assert_eq!(d.line, None);
}

#[test]
fn missing_required_variables_are_each_reported() {
    let report = load_err_env("", &Env::default());
    let errs = errors(&report);
    let names: Vec<_> = errs.iter().map(|d| d.message.split('`').nth(1).unwrap()).collect();
    assert_eq!(names, ["region", "account_id", "agent_id", "client_id", "client_secret"], "{}", describe(&report));
    for d in &errs {
        assert!(d.message.contains("is required"), "{}", d.message);
        assert_eq!(d.line, None, "a missing variable has no spot");
    }
    // Credentials point at the environment, the others at the file.
    assert!(errs[0].help.unwrap().contains("add `region = \"...\"`"));
    assert!(errs[3].help.unwrap().contains("TF_VAR_client_id"));
    assert!(errs[4].help.unwrap().contains("TF_VAR_client_secret"));
}

#[test]
fn one_missing_required_variable_is_the_only_error() {
    for var in ["region", "account_id", "agent_id"] {
        let report = load_err(&tfvars(&[(var, "")]));
        let d = single_error(&report);
        assert!(d.message.starts_with(&format!("`{var}` is required")), "{var}: {}", d.message);
    }
    for var in ["client_id", "client_secret"] {
        let mut env = env_with_creds();
        env.tf_vars.remove(var);
        let report = load_err_env(&tfvars(&[]), &env);
        let d = single_error(&report);
        assert!(d.message.starts_with(&format!("`{var}` is required")), "{var}: {}", d.message);
    }
    // `null` is as good as missing.
    let d_report = load_err(&tfvars(&[("region", "null")]));
    assert!(single_error(&d_report).message.starts_with("`region` is required"));
}

#[test]
fn blocks_are_rejected_with_their_line() {
    let text = format!("{}variable \"x\" {{\n  default = 1\n}}\n", tfvars(&[]));
    let report = load_err(&text);
    let d = single_error(&report);
    assert_eq!(d.message, "block `variable` is not allowed in a variables file");
    assert_eq!(d.line, Some(line_of(&text, "variable \"x\"")));
}

#[test]
fn hcl_syntax_errors_point_at_the_line() {
    for (bad_line, needle) in [
        ("desired_count = ", "desired_count"),
        ("name = \"agent\" \"extra\"", "extra"),
        ("tags = { a = \"b\" ", "tags"),
    ] {
        let text = format!("region = \"eu-west-1\"\n# a comment\n{bad_line}\nagent_cpu = 1024\n");
        let report = load_err(&text);
        let d = single_error(&report);
        assert!(d.message.contains("is not valid HCL"), "{}", d.message);
        assert!(d.message.starts_with("terraform.tfvars"), "names the file");
        let line = d.line.expect("a parse error has a line");
        assert!(line >= line_of(&text, needle), "{bad_line:?}: reported at line {line}");
        if !bad_line.starts_with("tags") {
            // An unclosed brace is only noticed further down; the others on the spot.
            assert_eq!(line, 3, "{bad_line:?}");
        }
    }
}

// --- Fargate task sizes ----------------------------------------------------------

#[test]
fn every_valid_cpu_memory_combination_is_accepted() {
    let mut checked = 0;
    for cpu in fargate::VALID_CPU {
        for memory in fargate::valid_memory_for_cpu(cpu).unwrap() {
            let c = load_ok(&tfvars(&[("agent_cpu", &cpu.to_string()), ("agent_memory", &memory.to_string())])).config;
            assert_eq!((c.agent_cpu, c.agent_memory), (cpu, memory));
            checked += 1;
        }
    }
    // 3 + 4 + 7 + 13 + 23 + 12 + 12, as AWS documents.
    assert_eq!(checked, 74);
}

#[test]
fn invalid_memory_for_each_cpu_is_rejected_with_the_valid_list() {
    for (cpu, memory, listed) in [
        (256, 4096, "512, 1024, 2048"),
        (512, 512, "1024, 2048, 3072, 4096"),
        (1024, 1024, "2048, 3072, 4096, 5120, 6144, 7168, 8192"),
        (1024, 2500, "2048, 3072"),
        (2048, 2048, "4096 to 16384 in steps of 1024"),
        (4096, 32768, "8192 to 30720 in steps of 1024"),
        (8192, 18432, "16384 to 61440 in steps of 4096"),
        (16384, 36864, "32768 to 122880 in steps of 8192"),
    ] {
        let text = tfvars(&[("agent_cpu", &cpu.to_string()), ("agent_memory", &memory.to_string())]);
        let report = load_err(&text);
        let d = single_error(&report);
        assert_eq!(d.message, format!("Fargate does not offer {cpu} CPU with {memory} MiB memory"));
        let help = d.help.unwrap();
        assert!(help.contains(listed), "{cpu}/{memory}: {help}");
        assert!(help.contains(&format!("agent_cpu = {cpu}")), "{help}");
        assert_eq!(d.line, Some(line_of(&text, "agent_memory")), "points at memory");
    }
}

#[test]
fn cpu_alone_with_the_default_memory_points_at_cpu() {
    let text = tfvars(&[("agent_cpu", "256")]);
    let report = load_err(&text);
    let d = single_error(&report);
    assert_eq!(d.message, "Fargate does not offer 256 CPU with 4096 MiB memory");
    assert_eq!(d.line, Some(line_of(&text, "agent_cpu")));
}

#[test]
fn memory_alone_uses_the_default_cpu() {
    assert_eq!(load_ok(&tfvars(&[("agent_memory", "8192")])).config.agent_cpu, 1024);
    let report = load_err(&tfvars(&[("agent_memory", "16384")]));
    assert_eq!(single_error(&report).message, "Fargate does not offer 1024 CPU with 16384 MiB memory");
}

#[test]
fn invalid_cpu_lists_the_valid_ones() {
    for cpu in ["3000", "0", "1000", "32768"] {
        let report = load_err(&tfvars(&[("agent_cpu", cpu), ("agent_memory", "4096")]));
        let d = single_error(&report);
        assert_eq!(d.message, format!("`agent_cpu` = {cpu} is not a Fargate CPU size"));
        assert_eq!(d.help, Some("use one of 256, 512, 1024, 2048, 4096, 8192, 16384"));
    }
    let report = load_err(&tfvars(&[("agent_cpu", "-1")]));
    assert!(single_error(&report).message.contains("out of range"));
}

#[test]
fn runner_size_sets_cpu_and_memory() {
    for (size, cpu, memory) in
        [("small", 1024, 4096), ("medium", 2048, 8192), ("large", 4096, 16384), ("xlarge", 8192, 32768)]
    {
        let loaded = load_ok(&tfvars(&[("runner_size", &format!("\"{size}\""))]));
        assert_eq!((loaded.config.agent_cpu, loaded.config.agent_memory), (cpu, memory), "{size}");
        assert!(loaded.report.diagnostics.is_empty());
        // Stating the same numbers as well is no conflict.
        let c = load_ok(&tfvars(&[
            ("runner_size", &format!("\"{size}\"")),
            ("agent_cpu", &cpu.to_string()),
            ("agent_memory", &memory.to_string()),
        ]))
        .config;
        assert_eq!((c.agent_cpu, c.agent_memory), (cpu, memory));
    }
}

#[test]
fn unknown_runner_size_lists_the_sizes() {
    let text = tfvars(&[("runner_size", "\"huge\"")]);
    let report = load_err(&text);
    let d = single_error(&report);
    assert_eq!(d.message, "`runner_size` = \"huge\" is not a runner size");
    assert_eq!(
        d.help,
        Some("use one of small (1024/4096), medium (2048/8192), large (4096/16384), xlarge (8192/32768)")
    );
    assert_eq!(d.line, Some(line_of(&text, "runner_size")));
}

#[test]
fn runner_size_conflicting_with_agent_cpu_or_memory_is_an_error() {
    for extra in [("agent_cpu", "2048"), ("agent_memory", "8192")] {
        let text = tfvars(&[("runner_size", "\"small\""), extra]);
        let report = load_err(&text);
        let d = single_error(&report);
        assert!(d.message.contains("`runner_size` = \"small\" means 1024 CPU / 4096 MiB"), "{}", d.message);
        assert_eq!(d.line, Some(line_of(&text, "runner_size")));
    }
}

#[test]
fn ephemeral_storage_bounds() {
    for (gib, ok) in [("20", false), ("21", true), ("200", true), ("201", false), ("0", false)] {
        let text = tfvars(&[("ephemeral_storage_size", gib)]);
        if ok {
            let c = load_ok(&text).config;
            assert_eq!(c.ephemeral_storage_size, Some(gib.parse().unwrap()));
        } else {
            let report = load_err(&text);
            let d = single_error(&report);
            assert_eq!(
                d.message,
                format!("`ephemeral_storage_size` = {gib} is out of range: ephemeral storage in GiB must be a whole number from 21 to 200"),
            );
            assert_eq!(d.line, Some(line_of(&text, "ephemeral_storage_size")));
        }
    }
}

#[test]
fn desired_count_range() {
    // 0 is allowed (a stopped agent) but warned about.
    let text = tfvars(&[("desired_count", "0")]);
    let loaded = load_ok(&text);
    assert_eq!(loaded.config.desired_count, 0);
    let w = warnings(&loaded.report);
    assert_eq!(w.len(), 1, "{}", describe(&loaded.report));
    assert_eq!(w[0].severity, Severity::Warning);
    assert!(w[0].message.contains("`desired_count` = 0"), "{}", w[0].message);
    assert_eq!(w[0].line, Some(line_of(&text, "desired_count")));

    assert_eq!(load_ok(&tfvars(&[("desired_count", "5000")])).config.desired_count, 5000);
    for bad in ["5001", "2.5", "-1"] {
        let report = load_err(&tfvars(&[("desired_count", bad)]));
        let d = single_error(&report);
        assert_eq!(
            d.message,
            format!("`desired_count` = {bad} is out of range: the task count must be a whole number from 0 to 5000")
        );
    }
}

// --- network ids and flags --------------------------------------------------------

fn existing_vpc(vpc_id: &str) -> String {
    tfvars(&[("use_existing_vpc", "true"), ("vpc_id", &format!("\"{vpc_id}\""))])
}

#[test]
fn well_formed_ids_are_accepted() {
    for id in ["vpc-0123abcd", "vpc-0123456789abcdef0"] {
        let c = load_ok(&existing_vpc(id)).config;
        assert_eq!(c.network.existing_vpc_id(), Some(id));
    }
    let c = load_ok(&tfvars(&[
        ("use_existing_vpc", "true"),
        ("vpc_id", "\"vpc-0123abcd\""),
        ("use_existing_subnet", "true"),
        ("subnet_ids", "[\"subnet-0a1b2c3d\", \"subnet-0123456789abcdef0\"]"),
        ("use_existing_security_group", "true"),
        ("security_group_ids", "[\"sg-0a1b2c3d\"]"),
    ]))
    .config;
    assert_eq!(
        c.network,
        NetworkConfig::Existing {
            vpc_id: "vpc-0123abcd".into(),
            subnet_ids: vec!["subnet-0a1b2c3d".into(), "subnet-0123456789abcdef0".into()],
            security_group: SecurityGroupConfig::Existing(vec!["sg-0a1b2c3d".into()]),
        }
    );
}

#[test]
fn malformed_ids_are_rejected() {
    for id in ["VPC-XYZ", "vpc-0123ABCD", "vpc-0123abc", "vpc-0123abcde", "subnet-0123abcd", "vpc0123abcd"] {
        let text = existing_vpc(id);
        let report = load_err(&text);
        let d = single_error(&report);
        assert_eq!(
            d.message,
            format!("`vpc_id`: \"{id}\" is not a VPC id (vpc- followed by 8 or 17 lowercase hex digits)")
        );
        assert_eq!(d.line, Some(line_of(&text, "vpc_id")));
    }
}

#[test]
fn placeholder_ids_are_called_placeholders() {
    for id in ["vpc-xxxxxxxxx", "vpc-12345678", "vpc-00000000", "<vpc-id>"] {
        let report = load_err(&existing_vpc(id));
        let d = single_error(&report);
        assert_eq!(d.message, format!("`vpc_id`: \"{id}\" is a placeholder from an example file, not a real VPC id"));
    }
    let text = tfvars(&[
        ("use_existing_vpc", "true"),
        ("vpc_id", "\"vpc-0123abcd\""),
        ("use_existing_subnet", "true"),
        ("subnet_ids", "[\"subnet-0a1b2c3d\", \"subnet-yyyyyyyy\"]"),
        ("use_existing_security_group", "true"),
        ("security_group_ids", "[\"sg-12345678\"]"),
    ]);
    let report = load_err(&text);
    let errs = errors(&report);
    assert_eq!(errs.len(), 2, "{}", describe(&report));
    assert!(errs[0].message.contains("\"subnet-yyyyyyyy\" is a placeholder"));
    assert!(errs[1].message.contains("\"sg-12345678\" is a placeholder"));
    // The subnet error points at the second element, not the first.
    let col = errs[0].column.unwrap();
    let line = text.lines().nth(errs[0].line.unwrap() - 1).unwrap();
    assert!(line[col - 1..].starts_with("\"subnet-yyyyyyyy\""), "{line} @ {col}");
}

#[test]
fn use_existing_flag_without_ids_is_an_error() {
    for (flags, msg) in [
        (vec![("use_existing_vpc", "true")], "`use_existing_vpc` = true but `vpc_id` is empty"),
        (
            vec![("use_existing_vpc", "true"), ("vpc_id", "\"vpc-0123abcd\""), ("use_existing_subnet", "true")],
            "`use_existing_subnet` = true but `subnet_ids` is empty",
        ),
        (
            vec![
                ("use_existing_vpc", "true"),
                ("vpc_id", "\"vpc-0123abcd\""),
                ("use_existing_security_group", "true"),
                ("security_group_ids", "[]"),
            ],
            "`use_existing_security_group` = true but `security_group_ids` is empty",
        ),
    ] {
        let text = tfvars(&flags);
        let report = load_err(&text);
        let d = single_error(&report);
        assert_eq!(d.message, msg);
        let flag = msg.split('`').nth(1).unwrap();
        assert_eq!(d.line, Some(line_of(&text, flag)));
    }
}

#[test]
fn ids_without_their_flag_are_an_error() {
    for (vars, msg) in [
        (
            vec![("vpc_id", "\"vpc-0123abcd\"")],
            "`vpc_id` is set but `use_existing_vpc` is false, so the ids would be ignored and a new VPC created",
        ),
        (
            vec![("use_existing_vpc", "true"), ("vpc_id", "\"vpc-0123abcd\""), ("subnet_ids", "[\"subnet-0a1b2c3d\"]")],
            "`subnet_ids` is set but `use_existing_subnet` is false, so the ids would be ignored and a new pair of subnets created",
        ),
        (
            vec![("use_existing_vpc", "true"), ("vpc_id", "\"vpc-0123abcd\""), ("security_group_ids", "[\"sg-0a1b2c3d\"]")],
            "`security_group_ids` is set but `use_existing_security_group` is false, so the ids would be ignored and a new security group created",
        ),
    ] {
        let text = tfvars(&vars);
        let report = load_err(&text);
        let d = single_error(&report);
        assert_eq!(d.message, msg);
        let var = msg.split('`').nth(1).unwrap();
        assert_eq!(d.line, Some(line_of(&text, &format!("{var} ="))));
    }
}

#[test]
fn existing_subnets_or_groups_need_an_existing_vpc() {
    for (flag, ids_var, ids) in [
        ("use_existing_subnet", "subnet_ids", "[\"subnet-0a1b2c3d\", \"subnet-0e1f2a3b\"]"),
        ("use_existing_security_group", "security_group_ids", "[\"sg-0a1b2c3d\"]"),
    ] {
        let text = tfvars(&[(flag, "true"), (ids_var, ids)]);
        let report = load_err(&text);
        let d = single_error(&report);
        assert_eq!(
            d.message,
            format!("`{flag}` = true needs an existing VPC: subnets and security groups belong to one")
        );
        assert!(d.help.unwrap().contains("use_existing_vpc = true"));
        assert_eq!(d.line, Some(line_of(&text, flag)));
    }
}

#[test]
fn one_existing_subnet_is_a_warning() {
    let loaded = load_ok(&tfvars(&[
        ("use_existing_vpc", "true"),
        ("vpc_id", "\"vpc-0123abcd\""),
        ("use_existing_subnet", "true"),
        ("subnet_ids", "[\"subnet-0a1b2c3d\"]"),
    ]));
    let w = warnings(&loaded.report);
    assert_eq!(w.len(), 1);
    assert!(w[0].message.contains("one Availability Zone"), "{}", w[0].message);
}

#[test]
fn assign_public_ip_false_needs_an_existing_vpc() {
    let text = tfvars(&[("assign_public_ip", "false")]);
    let report = load_err(&text);
    let d = single_error(&report);
    assert!(d.message.starts_with("`assign_public_ip` = false with the VPC agentctl creates"));
    assert_eq!(d.line, Some(line_of(&text, "assign_public_ip")));
    // In your own VPC (with your own NAT) it is fine.
    let c = load_ok(&tfvars(&[
        ("assign_public_ip", "false"),
        ("use_existing_vpc", "true"),
        ("vpc_id", "\"vpc-0123abcd\""),
    ]))
    .config;
    assert!(!c.assign_public_ip);
}

#[test]
fn cidr_block_must_fit_two_subnets() {
    for good in ["10.0.0.0/16", "172.16.0.0/20", "192.168.4.0/27"] {
        let c = load_ok(&tfvars(&[("cidr_block", &format!("\"{good}\""))])).config;
        assert_eq!(
            c.network,
            NetworkConfig::New { cidr_block: good.into(), security_group: SecurityGroupConfig::Create }
        );
    }
    for (bad, why) in [
        ("10.0.0.0/8", "has prefix /8; it must be /16 to /27"),
        ("10.0.0.0/28", "has prefix /28"),
        ("10.0.0.1/16", "has host bits set (the network address is 10.0.0.0/16)"),
        ("10.0.0.0", "is not a CIDR block"),
        ("300.0.0.0/16", "has an invalid IPv4 address"),
        ("10.0.0.0/40", "has a prefix length over 32"),
    ] {
        let text = tfvars(&[("cidr_block", &format!("\"{bad}\""))]);
        let report = load_err(&text);
        let d = single_error(&report);
        assert!(d.message.starts_with(&format!("`cidr_block` = \"{bad}\" {why}")), "{}", d.message);
        assert_eq!(d.line, Some(line_of(&text, "cidr_block")));
    }
    // Not checked when agentctl creates no subnets.
    load_ok(&tfvars(&[
        ("cidr_block", "\"10.0.0.0/8\""),
        ("use_existing_vpc", "true"),
        ("vpc_id", "\"vpc-0123abcd\""),
        ("use_existing_subnet", "true"),
        ("subnet_ids", "[\"subnet-0a1b2c3d\", \"subnet-0e1f2a3b\"]"),
    ]));
}

// --- regions -----------------------------------------------------------------------

#[test]
fn unknown_aws_region_suggests_the_closest() {
    for (typo, suggestion) in [("eu-west-9", "eu-west-1"), ("us-est-1", "us-east-1")] {
        let text = tfvars(&[("region", &format!("\"{typo}\""))]);
        let report = load_err(&text);
        let d = single_error(&report);
        assert_eq!(d.message, format!("`region` = \"{typo}\" is not an AWS region"));
        assert_eq!(d.help, Some(format!("did you mean `{suggestion}`?").as_str()));
        assert_eq!(d.line, Some(1));
    }
    let report = load_err(&tfvars(&[("region", "\"mars\"")]));
    assert!(!single_error(&report).help.unwrap().contains("did you mean"));
}

#[test]
fn every_listed_aws_region_is_accepted() {
    for region in agentctl_core::regions::AWS_REGIONS {
        let c = load_ok(&tfvars(&[("region", &format!("\"{region}\"")), ("name", "\"a\"")])).config;
        assert_eq!(c.region, *region);
    }
}

#[test]
fn matillion_region_trap_and_unknown_codes() {
    for code in ["eu1", "us1"] {
        let loaded = load_ok(&tfvars(&[("matillion_region", &format!("\"{code}\""))]));
        assert!(loaded.report.diagnostics.is_empty());
        assert_eq!(loaded.config.matillion_region, code);
    }
    for (aws_region, suggestion) in [("us-east-1", "us1"), ("eu-central-1", "eu1"), ("ca-central-1", "us1")] {
        let text = tfvars(&[("matillion_region", &format!("\"{aws_region}\""))]);
        let report = load_err(&text);
        let d = single_error(&report);
        assert_eq!(
            d.message,
            format!("`matillion_region` = \"{aws_region}\" is an AWS region name, not a Matillion region code")
        );
        assert!(d.help.unwrap().contains(&format!("probably `{suggestion}`")));
    }
    // An unknown code might be a region Matillion added since: warn, don't block.
    let text = tfvars(&[("matillion_region", "\"ap1\"")]);
    let loaded = load_ok(&text);
    assert_eq!(loaded.config.matillion_region, "ap1");
    let w = warnings(&loaded.report);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].message, "`matillion_region` = \"ap1\" is not a Matillion region code agentctl knows");
    assert_eq!(w[0].line, Some(line_of(&text, "matillion_region")));
}

// --- names -------------------------------------------------------------------------

fn name_errors(name: &str, extra: &[(&str, &str)]) -> Vec<String> {
    let quoted = format!("\"{name}\"");
    let mut vars = vec![("name", quoted.as_str()), ("region", "\"us-east-1\"")];
    vars.extend_from_slice(extra);
    let report = load_err(&tfvars(&vars));
    errors(&report).iter().map(|d| format!("{} || {}", d.message, d.help.unwrap_or(""))).collect()
}

#[test]
fn long_name_fails_the_bucket_first() {
    let name = "a".repeat(40);
    let errs = name_errors(&name, &[]);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(errs[0].starts_with(&format!("`name` = \"{name}\" gives an invalid S3 bucket: ")), "{}", errs[0]);
    assert!(errs[0].contains("is 71 characters"), "{}", errs[0]);
    assert!(errs[0].contains("at most 63"), "{}", errs[0]);
    // 63 - "-staging-" - 12-digit account - "-" - "us-east-1"
    assert!(errs[0].contains("(at most 32 characters here)"), "{}", errs[0]);
    // The longest name that fits is accepted.
    load_ok(&tfvars(&[("name", &format!("\"{}\"", "a".repeat(32))), ("region", "\"us-east-1\"")]));
    assert_eq!(name_errors(&"a".repeat(33), &[]).len(), 1);
}

#[test]
fn without_a_bucket_the_iam_role_is_the_limit() {
    let name = "a".repeat(50);
    let errs = name_errors(&name, &[("create_bucket", "false")]);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(errs[0].starts_with(&format!("`name` = \"{name}\" gives an invalid IAM execution role: ")), "{}", errs[0]);
    assert!(errs[0].contains("at most 64"), "{}", errs[0]);
    assert!(errs[0].contains("(at most 49 characters here)"), "{}", errs[0]);
    let c = load_ok(&tfvars(&[("name", &format!("\"{}\"", "a".repeat(49))), ("create_bucket", "false")])).config;
    assert_eq!(c.name.len(), 49);
    assert!(!c.create_bucket);
}

#[test]
fn uppercase_name_fails_only_the_bucket() {
    let errs = name_errors("DataAgent", &[]);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(errs[0].contains("gives an invalid S3 bucket"), "{}", errs[0]);
    assert!(errs[0].contains("contains 'D'"), "{}", errs[0]);
    assert!(errs[0].contains("lowercase letters, digits and hyphens"), "{}", errs[0]);
    // Without a bucket, uppercase is fine everywhere else.
    let c = load_ok(&tfvars(&[("name", "\"DataAgent\""), ("create_bucket", "false")])).config;
    assert_eq!(c.name, "DataAgent");
}

/// EC2 refuses security group names that start with `sg-`.
#[test]
fn name_starting_with_sg_fails_the_security_group() {
    let errs = name_errors("sg-agents", &[]);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(
        errs[0].contains("security group name \"sg-agents-agent\"") && errs[0].contains("start with \"sg-\""),
        "{}",
        errs[0]
    );
}

#[test]
fn bad_characters_fail_every_resource_that_forbids_them() {
    let errs = name_errors("my agent", &[]);
    // ECS cluster, service, task family, both roles, log group, secret, bucket; the
    // security group name allows spaces.
    assert_eq!(errs.len(), 8, "{errs:#?}");
    assert!(errs.iter().all(|e| e.contains("contains ' '")), "{errs:#?}");
    assert!(!errs.iter().any(|e| e.contains("security group")), "{errs:#?}");
    let errs = name_errors("", &[]);
    assert_eq!(errs.len(), 1);
    assert!(errs[0].starts_with("`name` is empty"));
}

// --- image, tags, retention --------------------------------------------------------

#[test]
fn image_url_shapes() {
    for good in [
        "public.ecr.aws/matillion/etl-agent:stable",
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mirror/etl-agent:2024.1",
        "registry.example.com:5000/matillion/etl-agent",
    ] {
        let c = load_ok(&tfvars(&[("image_url", &format!("\"{good}\""))])).config;
        assert_eq!(c.image_url, good);
    }
    for (bad, why) in [
        ("https://public.ecr.aws/matillion/etl-agent:current", "remove the URL scheme"),
        ("public.ecr.aws/Matillion/etl-agent:current", "repository names use lowercase"),
        ("public.ecr.aws/matillion/etl-agent :current", "it contains whitespace"),
        ("", "it is empty"),
        ("public.ecr.aws/matillion/etl-agent:", "a tag is 1 to 128"),
    ] {
        let text = tfvars(&[("image_url", &format!("\"{bad}\""))]);
        let report = load_err(&text);
        let d = single_error(&report);
        assert!(
            d.message.starts_with(&format!("`image_url` = \"{bad}\" is not a container image reference: {why}")),
            "{}",
            d.message
        );
        assert_eq!(d.line, Some(line_of(&text, "image_url")));
    }
}

#[test]
fn tags_are_checked_key_by_key() {
    let c = load_ok(&tfvars(&[("tags", "{ Team = \"data\", \"cost:center\" = \"cc-42\" }")])).config;
    assert_eq!(c.tags.len(), 2);
    assert_eq!(c.tags["cost:center"], "cc-42");

    let long_key = "k".repeat(129);
    let long_value = "v".repeat(257);
    for (tags, why) in [
        ("{ \"aws:owner\" = \"me\" }", "tag key \"aws:owner\" uses the prefix `aws:`"),
        ("{ \"AWS:owner\" = \"me\" }", "tag key \"AWS:owner\" uses the prefix `aws:`"),
        ("{ \"agentctl:deployment\" = \"other\" }", "tag key \"agentctl:deployment\" uses the prefix `agentctl:`"),
        (&format!("{{ {long_key} = \"x\" }}"), "must be 1 to 128 characters"),
        (&format!("{{ team = \"{long_value}\" }}"), "the value of tag \"team\" is 257 characters; the maximum is 256"),
        ("{ team = \"a|b\" }", "tag \"team\" has characters AWS does not accept"),
    ] {
        let text = tfvars(&[("tags", tags)]);
        let report = load_err(&text);
        let d = single_error(&report);
        assert!(d.message.contains(why), "{tags}: {}", d.message);
        assert_eq!(d.line, Some(line_of(&text, "tags")));
    }
    // Exactly at the limits is fine.
    let c = load_ok(&tfvars(&[("tags", &format!("{{ {} = \"{}\" }}", "k".repeat(128), "v".repeat(256)))])).config;
    assert_eq!(c.tags.len(), 1);
}

#[test]
fn at_most_48_user_tags() {
    let tags = |n: usize| {
        let body: Vec<String> = (0..n).map(|i| format!("t{i} = \"v\"")).collect();
        format!("{{\n  {}\n}}", body.join("\n  "))
    };
    assert_eq!(load_ok(&tfvars(&[("tags", &tags(48))])).config.tags.len(), 48);
    let report = load_err(&tfvars(&[("tags", &tags(49))]));
    let d = single_error(&report);
    assert!(d.message.starts_with("`tags` has 49 entries"), "{}", d.message);
    assert_eq!(d.help, Some("keep at most 48 tags"));
}

#[test]
fn log_retention_must_be_a_cloudwatch_value() {
    for ok in [0, 1, 7, 30, 365, 3653] {
        let c = load_ok(&tfvars(&[("log_retention_days", &ok.to_string())])).config;
        assert_eq!(c.log_retention_days, ok);
    }
    for bad in ["31", "2", "364"] {
        let text = tfvars(&[("log_retention_days", bad)]);
        let report = load_err(&text);
        let d = single_error(&report);
        assert_eq!(d.message, format!("`log_retention_days` = {bad} is not a retention CloudWatch Logs accepts"));
        assert!(d.help.unwrap().contains("1, 3, 5, 7, 14, 30, 60"));
        assert_eq!(d.line, Some(line_of(&text, "log_retention_days")));
    }
    let report = load_err(&tfvars(&[("log_retention_days", "4000")]));
    assert!(single_error(&report).message.contains("out of range"));
}

// --- credentials and the environment ------------------------------------------------

#[test]
fn credentials_in_the_file_load_with_a_warning_that_hides_them() {
    let text =
        tfvars(&[("client_id", &format!("\"{CLIENT_ID}\"")), ("client_secret", &format!("\"{CLIENT_SECRET}\""))]);
    let loaded = load_ok_env(&text, &Env::default());
    assert_eq!(loaded.config.credentials.as_ref().unwrap().client_id.expose(), CLIENT_ID);
    assert_eq!(loaded.config.credentials.as_ref().unwrap().client_secret.expose(), CLIENT_SECRET);
    assert!(!loaded.report.has_errors());
    let w = warnings(&loaded.report);
    assert_eq!(w.len(), 2, "{}", describe(&loaded.report));
    for (d, var) in w.iter().zip(["client_id", "client_secret"]) {
        assert_eq!(d.severity, Severity::Warning);
        assert_eq!(d.message, format!("`{var}` is written in the config file"));
        assert_eq!(d.line, Some(line_of(&text, var)));
        let help = d.help.unwrap();
        assert!(help.contains(&format!("TF_VAR_{var}")), "names the safer way: {help}");
        assert!(help.contains("secrets manager"), "{help}");
    }
    for d in &loaded.report.diagnostics {
        for text in [Some(d.message.as_str()), d.help.as_deref(), d.label.as_deref()].into_iter().flatten() {
            assert!(!text.contains(CLIENT_ID) && !text.contains(CLIENT_SECRET), "{text}");
        }
    }
}

#[test]
fn empty_credentials_are_errors() {
    let mut env = env_with_creds();
    env.tf_vars.insert("client_secret".into(), "  ".into());
    let report = load_err_env(&tfvars(&[]), &env);
    assert_eq!(single_error(&report).message, "`client_secret` is empty");
}

#[test]
fn tf_var_fills_a_missing_variable() {
    let mut env = env_with_creds();
    env.tf_vars.insert("region".into(), "eu-central-1".into());
    env.tf_vars.insert("desired_count".into(), "3".into());
    env.tf_vars.insert("assign_public_ip".into(), "true".into());
    env.tf_vars.insert("tags".into(), "{ team = \"data\" }".into());
    let loaded = load_ok_env(&tfvars(&[("region", "")]), &env);
    assert_eq!(loaded.config.region, "eu-central-1");
    assert_eq!(loaded.config.desired_count, 3);
    assert_eq!(loaded.config.tags["team"], "data");
    assert!(loaded.report.diagnostics.is_empty(), "{}", describe(&loaded.report));
}

#[test]
fn file_beats_tf_var_for_ordinary_variables() {
    let mut env = env_with_creds();
    env.tf_vars.insert("region".into(), "eu-central-1".into());
    env.tf_vars.insert("desired_count".into(), "7".into());
    let c = load_ok_env(&tfvars(&[("desired_count", "3")]), &env).config;
    assert_eq!(c.region, "eu-west-1");
    assert_eq!(c.desired_count, 3);
}

#[test]
fn tf_var_beats_file_for_credentials() {
    let text = tfvars(&[("client_id", "\"your-client-id\""), ("client_secret", "\"file-secret-value\"")]);
    let loaded = load_ok_env(&text, &env_with_creds());
    assert_eq!(loaded.config.credentials.as_ref().unwrap().client_id.expose(), CLIENT_ID);
    assert_eq!(loaded.config.credentials.as_ref().unwrap().client_secret.expose(), CLIENT_SECRET);
    // The file's placeholder is not used, so it is not an error.
    assert!(loaded.report.diagnostics.is_empty(), "{}", describe(&loaded.report));
}

#[test]
fn overrides_beat_the_file_and_the_environment() {
    let mut env = env_with_creds();
    env.tf_vars.insert("region".into(), "eu-central-1".into());
    env.overrides = HashMap::from([
        ("region".to_owned(), "ap-southeast-2".to_owned()),
        ("desired_count".to_owned(), "4".to_owned()),
    ]);
    let c = load_ok_env(&tfvars(&[("desired_count", "1")]), &env).config;
    assert_eq!(c.region, "ap-southeast-2");
    assert_eq!(c.desired_count, 4);
}

#[test]
fn bad_environment_values_name_their_source() {
    let mut env = env_with_creds();
    env.tf_vars.insert("region".into(), "eu-west-9".into());
    env.tf_vars.insert("desired_count".into(), "\"two\"".into());
    let report = load_err_env(&tfvars(&[("region", "")]), &env);
    let desired = matching(&report, "desired_count");
    assert_eq!(desired.len(), 1, "{}", describe(&report));
    assert!(desired[0].message.contains("(from environment variable TF_VAR_desired_count)"), "{}", desired[0].message);
    assert_eq!(desired[0].line, None, "no spot in the file");
    let region = matching(&report, "`region`");
    assert_eq!(region.len(), 1, "{}", describe(&report));
    assert_eq!(region[0].line, None);

    env.overrides.insert("desired_count".into(), "9999".into());
    let report = load_err_env(&tfvars(&[]), &env);
    let d = single_error(&report);
    assert!(d.message.contains("(from --desired-count)"), "{}", d.message);
}

// --- all at once ------------------------------------------------------------------

#[test]
fn every_problem_is_reported_in_one_run() {
    let text = fixture("three-errors.tfvars");
    let report = load_err(&text);
    let errs = errors(&report);
    assert_eq!(errs.len(), 3, "{}", describe(&report));
    assert_eq!(errs[0].message, "unknown variable `desierd_count`");
    assert_eq!(errs[0].line, Some(line_of(&text, "desierd_count")));
    assert_eq!(errs[1].message, "`region` = \"eu-west-9\" is not an AWS region");
    assert_eq!(errs[1].line, Some(line_of(&text, "region")));
    assert_eq!(errs[2].message, "Fargate does not offer 1024 CPU with 1024 MiB memory");
    assert_eq!(errs[2].line, Some(line_of(&text, "agent_memory")));
    assert!(warnings(&report).is_empty());
}

// --- hardening switches -----------------------------------------------------------

const KEY: &str = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

#[test]
fn hardening_switches_load() {
    let c = load_ok(&tfvars(&[
        ("kms_key_arn", &format!("\"{KEY}\"")),
        ("vpc_flow_logs", "true"),
        ("bucket_versioning", "true"),
        ("bucket_expiry_days", "90"),
        ("bucket_access_logs_bucket", "\"acme-logs.eu\""),
    ]))
    .config;
    assert_eq!(c.kms_key_arn.as_deref(), Some(KEY));
    assert!(c.vpc_flow_logs && c.bucket_versioning);
    assert_eq!(c.bucket_expiry_days, Some(90));
    assert_eq!(c.bucket_access_logs_bucket.as_deref(), Some("acme-logs.eu"));
    // Off by default; empty strings and 0 mean off.
    let c = load_ok(&tfvars(&[("kms_key_arn", "\"\""), ("bucket_expiry_days", "0")])).config;
    assert_eq!((c.kms_key_arn, c.vpc_flow_logs, c.bucket_versioning, c.bucket_expiry_days), (None, false, false, None));
    assert_eq!(c.bucket_access_logs_bucket, None);
}

#[test]
fn kms_key_must_be_a_key_arn_of_the_region() {
    for (value, message) in [
        ("alias/agent", "`kms_key_arn` = \"alias/agent\" is an alias; CloudWatch Logs takes only a key ARN"),
        (
            "arn:aws:kms:eu-west-1:123456789012:alias/agent",
            "`kms_key_arn` = \"arn:aws:kms:eu-west-1:123456789012:alias/agent\" is an alias; CloudWatch Logs takes only a key ARN",
        ),
        ("1234abcd-12ab-34cd-56ef-1234567890ab", "`kms_key_arn` = \"1234abcd-12ab-34cd-56ef-1234567890ab\" is not a KMS key ARN"),
        (
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd",
            "`kms_key_arn` is a key in us-east-1, but the deployment is in eu-west-1; AWS encrypts only with a key of the same region",
        ),
    ] {
        let text = tfvars(&[("kms_key_arn", &format!("\"{value}\""))]);
        let report = load_err(&text);
        let d = single_error(&report);
        assert_eq!(d.message, message);
        assert_eq!(d.line, Some(line_of(&text, "kms_key_arn")));
        assert!(d.help.is_some_and(|h| h.contains("key")), "{:?}", d.help);
    }
}

#[test]
fn flow_logs_need_the_vpc_agentctl_creates() {
    let text = tfvars(&[
        ("vpc_flow_logs", "true"),
        ("use_existing_vpc", "true"),
        ("vpc_id", "\"vpc-0a1b2c3d4e5f60718\""),
        ("use_existing_subnet", "true"),
        ("subnet_ids", "[\"subnet-0aaa1111\", \"subnet-0bbb2222\"]"),
    ]);
    let report = load_err(&text);
    let d = single_error(&report);
    assert!(d.message.starts_with("`vpc_flow_logs` turns on flow logs of the VPC agentctl creates"), "{}", d.message);
    assert_eq!(d.line, Some(line_of(&text, "vpc_flow_logs")));
}

#[test]
fn bucket_settings_need_a_bucket() {
    let text = tfvars(&[
        ("create_bucket", "false"),
        ("bucket_versioning", "true"),
        ("bucket_expiry_days", "30"),
        ("bucket_access_logs_bucket", "\"acme-logs\""),
    ]);
    let report = load_err(&text);
    let errs = errors(&report);
    assert_eq!(errs.len(), 3, "{}", describe(&report));
    for (d, var) in errs.iter().zip(["bucket_versioning", "bucket_expiry_days", "bucket_access_logs_bucket"]) {
        assert_eq!(
            d.message,
            format!("`{var}` configures the staging bucket, and `create_bucket = false` creates none")
        );
        assert_eq!(d.line, Some(line_of(&text, var)));
    }
}

#[test]
fn access_logs_bucket_is_not_the_staging_bucket() {
    let text = tfvars(&[("bucket_access_logs_bucket", "\"data-insights-staging-123456789012-eu-west-1\"")]);
    let report = load_err(&text);
    let d = single_error(&report);
    assert!(d.message.ends_with("is the staging bucket itself: each log write would log again"), "{}", d.message);
}

#[test]
fn access_logs_bucket_is_a_bucket_name() {
    for bad in ["arn:aws:s3:::logs", "s3://logs", "Logs", "ab", "-logs"] {
        let text = tfvars(&[("bucket_access_logs_bucket", &format!("\"{bad}\""))]);
        let report = load_err(&text);
        let d = single_error(&report);
        assert_eq!(d.message, format!("`bucket_access_logs_bucket` = \"{bad}\" is not an S3 bucket name"));
    }
}

#[test]
fn availability_zones_are_two_zone_names_of_the_region() {
    let c = load_ok(&tfvars(&[("availability_zones", "[\"eu-west-1b\", \"eu-west-1c\"]")])).config;
    assert_eq!(c.availability_zones, ["eu-west-1b", "eu-west-1c"]);
    for (value, message) in [
        (
            "[\"eu-west-1a\"]",
            "`availability_zones` lists 1 zone(s); agentctl creates two subnets, one in each of two different zones",
        ),
        (
            "[\"eu-west-1a\", \"eu-west-1a\"]",
            "`availability_zones` lists 2 zone(s); agentctl creates two subnets, one in each of two different zones",
        ),
        ("[\"us-east-1a\", \"eu-west-1b\"]", "`availability_zones`: \"us-east-1a\" is not a zone name of eu-west-1"),
        ("[\"euw1-az1\", \"euw1-az2\"]", "`availability_zones`: \"euw1-az1\" is not a zone name of eu-west-1"),
    ] {
        let text = tfvars(&[("availability_zones", value)]);
        let report = load_err(&text);
        let d = single_error(&report);
        assert_eq!(d.message, message, "{value}");
        assert_eq!(d.line, Some(line_of(&text, "availability_zones")), "{value}");
    }
    let text = tfvars(&[
        ("availability_zones", "[\"eu-west-1a\", \"eu-west-1b\"]"),
        ("use_existing_vpc", "true"),
        ("vpc_id", "\"vpc-0a1b2c3d4e5f60718\""),
        ("use_existing_subnet", "true"),
        ("subnet_ids", "[\"subnet-0aaa1111\", \"subnet-0bbb2222\"]"),
    ]);
    let report = load_err(&text);
    assert!(single_error(&report).message.contains("with `use_existing_subnet = true` it creates none"));
}
