//! `agentctl list` against moto: the deployments of a region (two applied into
//! one moto), of every enabled region at once, and after one is destroyed;
//! and where the region comes from when there is no config.

mod support;

use agentctl_core::cost::{self, CostInput, PriceTable};
use serde_json::Value;
use support::{run_offline, World, REGION};

/// A second deployment's config beside the world's: the same lines under
/// another name, plus `extra`. Returns the file's name (for `-c`).
fn second_config(w: &World, name: &str, extra: &str) -> String {
    let first = std::fs::read_to_string(w.dir.path().join("terraform.tfvars")).unwrap();
    let text = first.replace(&format!("name = \"{}\"", w.name), &format!("name = \"{name}\""));
    assert_ne!(text, first, "the name was replaced");
    let file = format!("{name}.tfvars");
    std::fs::write(w.dir.path().join(&file), format!("{text}{extra}\n")).unwrap();
    file
}

/// What `cost` says a month of `tasks` tasks of this size costs in `region`, as the table shows it.
fn monthly(region: &str, cpu: u32, memory: u32, tasks: u32) -> String {
    let e = cost::estimate(&CostInput::new(region, cpu, memory, tasks), &PriceTable::builtin()).unwrap();
    format!("${}", e.monthly_total.min)
}

/// The table's row of deployment `name`, split into its columns' words.
fn row(stdout: &str, name: &str) -> Vec<String> {
    let rows: Vec<&str> = stdout.lines().filter(|l| l.split_whitespace().next() == Some(name)).collect();
    assert_eq!(rows.len(), 1, "one row for {name}:\n{stdout}");
    rows[0].split_whitespace().map(str::to_owned).collect()
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn list_shows_every_deployment_of_the_region_and_not_a_destroyed_one() {
    let w = World::new("alpha");
    w.config("");
    w.apply();
    let beta = second_config(
        &w,
        "beta",
        "runner_size = \"medium\"\ndesired_count = 1\nimage_url = \"public.ecr.aws/matillion/etl-agent:stable\"\n\
         autoscaling = {\n  min = 1\n  max = 3\n  cpu_target = 70\n}",
    );
    w.run(&["-c", &beta, "apply", "--yes"]).expect_code(0);

    let text = w.run(&["list"]);
    text.expect_code(0);
    let names: Vec<&str> = text.stdout.lines().skip(1).map_while(|l| l.split_whitespace().next()).collect();
    assert_eq!(names, ["alpha", "beta"], "sorted by region, then name:\n{}", text.stdout);
    // moto reports MOTO_ECS_SERVICE_RUNNING (2) running tasks of every service.
    let alpha = row(&text.stdout, "alpha");
    let expected = [REGION, "2/2", "current", "1", "vCPU", "/", "4", "GiB", "(small)", "-"];
    assert_eq!(alpha[1..11], expected, "{}", text.stdout);
    assert_eq!(alpha[11], monthly(REGION, 1024, 4096, 2), "{}", text.stdout);
    assert!(alpha[12].starts_with("20") && alpha[12].ends_with('Z'), "{}", text.stdout);
    assert_eq!(alpha[13], "COMPLETED");
    let beta_row = row(&text.stdout, "beta");
    let expected = [REGION, "1/2", "stable", "2", "vCPU", "/", "8", "GiB", "(medium)", "1–3"];
    assert_eq!(beta_row[1..11], expected, "{}", text.stdout);
    let range = [monthly(REGION, 2048, 8192, 1), "..".into(), monthly(REGION, 2048, 8192, 3)];
    assert_eq!(beta_row[11..14], range, "desired 1 within the bounds 1–3:\n{}", text.stdout);
    assert_eq!(beta_row[15], "COMPLETED");
    assert!(!text.all().contains("script-runner"), "{}", text.all());

    let out = w.run(&["list", "-o", "json"]);
    out.expect_code(0);
    let v = json(&out.stdout);
    assert_eq!(v["regions"], serde_json::json!([REGION]));
    assert_eq!(v["errors"], serde_json::json!([]));
    let d = v["deployments"].as_array().unwrap();
    assert_eq!(d.len(), 2, "{v:#}");
    let b = &d[1];
    assert_eq!((b["name"].as_str(), b["region"].as_str()), (Some("beta"), Some(REGION)));
    assert_eq!((b["desired"].as_u64(), b["running"].as_u64()), (Some(1), Some(2)));
    assert_eq!(b["image"], "public.ecr.aws/matillion/etl-agent:stable");
    assert_eq!(b["image_tag"], "stable");
    assert_eq!((b["cpu"].as_u64(), b["memory_mib"].as_u64()), (Some(2048), Some(8192)));
    assert_eq!(b["size"], "2 vCPU / 8 GiB (medium)");
    assert_eq!(b["autoscaling"], serde_json::json!({"min": 1, "max": 3}));
    let cost = &b["monthly_cost"];
    assert_eq!(cost["currency"], "USD");
    assert!(cost["max"].as_f64().unwrap() > 2.9 * cost["min"].as_f64().unwrap(), "{cost}");
    assert_eq!(b["rollout_state"], "COMPLETED");
    assert!(b["last_deployment_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(d[0]["autoscaling"], Value::Null);
    assert_eq!(d[0]["cluster"], "alpha");

    // --region beats the config's.
    let elsewhere = w.run(&["list", "--region", "eu-west-1"]);
    elsewhere.expect_code(0);
    assert_eq!(elsewhere.stdout, "No agentctl deployments in eu-west-1.\n");

    // The tagging API may still return a deleted service: it is not listed.
    w.run(&["-c", &beta, "destroy", "--yes", "--force-delete-secret"]).expect_code(0);
    let after = w.run(&["list", "-o", "json"]);
    after.expect_code(0);
    let after = json(&after.stdout);
    let names: Vec<&str> =
        after["deployments"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["alpha"]);
}

#[test]
fn all_regions_reads_every_enabled_region_at_once() {
    let w = World::new("gamma");
    w.config("");
    w.run(&["apply", "--yes", "--region", "eu-west-1"]).expect_code(0);
    // No config at all: the region to ask for the list of regions comes from AWS_REGION.
    let env = [("AWS_REGION", REGION)];
    let out = w.run_env(&["-c", "none.tfvars", "list", "--all-regions", "-o", "json"], &env);
    out.expect_code(0);
    let v = json(&out.stdout);
    assert_eq!(v["errors"], serde_json::json!([]), "{}", out.stderr);
    let d = v["deployments"].as_array().unwrap();
    assert_eq!(d.len(), 1, "{v:#}");
    assert_eq!((d[0]["name"].as_str(), d[0]["region"].as_str()), (Some("gamma"), Some("eu-west-1")));
    assert_eq!(d[0]["image_tag"], "current");
    let regions: Vec<&str> = v["regions"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    for r in [REGION, "eu-west-1", "ap-southeast-2", "sa-east-1"] {
        assert!(regions.contains(&r), "{r} in {regions:?}");
    }
    // moto answers with every partition's regions, and with those not opted in to.
    assert!(regions.iter().all(|r| !r.starts_with("cn-") && !r.starts_with("us-gov-")), "{regions:?}");
    assert!(!regions.contains(&"ap-east-1"), "not opted in (moto): {regions:?}");

    let text = w.run_env(&["-c", "none.tfvars", "list", "--all-regions"], &env);
    text.expect_code(0);
    assert_eq!(row(&text.stdout, "gamma")[1], "eu-west-1");
    assert!(text.stdout.contains(&format!("{} regions read.", regions.len())), "{}", text.stdout);
    assert!(!text.stderr.contains("warning"), "{}", text.stderr);

    // Without --all-regions, the one region only.
    let here = w.run_env(&["-c", "none.tfvars", "list"], &env);
    here.expect_code(0);
    assert_eq!(here.stdout, format!("No agentctl deployments in {REGION}.\n"));
}

#[test]
fn without_any_region_list_says_where_one_comes_from_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let r = run_offline(dir.path(), &["list"], &[]);
    r.expect_code(3);
    assert!(r.stderr.contains("no AWS region"), "{}", r.stderr);
    for fix in ["--region", "AWS_REGION", "-c FILE"] {
        assert!(r.stderr.contains(fix), "{fix}: {}", r.stderr);
    }
    // The endpoint is a closed port: with a region, the call is made and fails (exit 1), once.
    let r = run_offline(
        dir.path(),
        &["list"],
        &[("AWS_REGION", "eu-west-1"), ("AWS_ACCESS_KEY_ID", "k"), ("AWS_SECRET_ACCESS_KEY", "s")],
    );
    r.expect_code(1);
    assert!(r.stderr.contains("tagged agentctl:deployment") && r.stderr.contains("cannot connect"), "{}", r.stderr);
}
