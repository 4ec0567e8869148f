//! `agentctl cost` against figures computed by hand, to the cent. Each test shows
//! its arithmetic; the rates are those of the built-in table
//! (data/fargate-prices.json) unless the test brings its own price file.

mod common;

use agentctl_core::cost::{
    estimate, neighbour_sizes, CostError, CostInput, Estimate, PriceTable, PriceTableError, SpotShare, BUILTIN_ORIGIN,
};
use common::*;

fn builtin() -> PriceTable {
    PriceTable::builtin()
}

fn est(input: &CostInput) -> Estimate {
    estimate(input, &builtin()).unwrap_or_else(|e| panic!("{e}: {}", e.help()))
}

#[test]
fn two_small_tasks_on_demand_in_us_east_1() {
    // Per task, 730 h:
    //   vCPU    1 × 0.04048  × 730 = 29.5504  → $29.55
    //   memory  4 × 0.004445 × 730 = 12.9794  → $12.98
    //   storage 20 GiB, all free   =  0       → $0.00
    //   total   730 × (0.04048 + 4 × 0.004445) = 730 × 0.05826 = 42.5298 → $42.53
    // Two tasks: 2 × 42.5298 = 85.0596 → $85.06
    let e = est(&CostInput::new("us-east-1", 1024, 4096, 2));
    let t = &e.per_task.on_demand;
    assert_eq!((t.vcpu.cents(), t.memory.cents(), t.ephemeral_storage.cents(), t.total.cents()), (2955, 1298, 0, 4253));
    assert_eq!(e.min.total.cents(), 8506);
    assert_eq!(e.max.total.cents(), 8506);
    // 2 × 29.5504 = 59.1008 → $59.10; 2 × 12.9794 = 25.9588 → $25.96
    assert_eq!((e.min.by_resource.vcpu.cents(), e.min.by_resource.memory.cents()), (5910, 2596));
    assert_eq!((e.min.on_demand_tasks, e.min.spot_tasks), (2.0, 0.0));
    assert_eq!(e.min.spot.cents(), 0);
    assert!(e.complete && e.warnings.is_empty());
    assert_eq!(e.size.runner_size, Some("small"));
    assert_eq!((e.prices.origin.as_str(), e.prices.as_of.as_str()), (BUILTIN_ORIGIN, "2026-07-07"));
    // Not rounded until shown: the raw figure keeps every digit.
    assert!((e.min.total.dollars() - 85.0596).abs() < 1e-9, "{}", e.min.total.dollars());
}

#[test]
fn medium_tasks_with_50_gib_ephemeral_storage() {
    // 2 vCPU / 8 GiB / 50 GiB ephemeral, 3 tasks, us-east-1, 730 h. Per task:
    //   vCPU    2 × 0.04048  × 730 = 59.1008 → $59.10
    //   memory  8 × 0.004445 × 730 = 25.9588 → $25.96
    //   storage (50 − 20) × 0.000111 × 730 = 30 × 0.08103 = 2.4309 → $2.43
    //   total   87.4905 → $87.49
    // Three tasks: vCPU 177.3024 → $177.30, memory 77.8764 → $77.88,
    //   storage 7.2927 → $7.29, total 262.4715 → $262.47
    let input = CostInput { ephemeral_gib: Some(50), ..CostInput::new("us-east-1", 2048, 8192, 3) };
    let e = est(&input);
    let t = &e.per_task.on_demand;
    assert_eq!(
        (t.vcpu.cents(), t.memory.cents(), t.ephemeral_storage.cents(), t.total.cents()),
        (5910, 2596, 243, 8749)
    );
    let b = &e.min.by_resource;
    assert_eq!((b.vcpu.cents(), b.memory.cents(), b.ephemeral_storage.cents()), (17730, 7788, 729));
    assert_eq!(e.min.total.cents(), 26247);
    assert_eq!((e.size.ephemeral_gib, e.size.billable_ephemeral_gib), (50, 30));
}

#[test]
fn spot_mix_with_a_base_on_fargate() {
    // 4 tasks of 1 vCPU / 4 GiB in us-east-1; strategy: first 1 on FARGATE, the
    // rest FARGATE : FARGATE_SPOT = 1 : 1 → 1 + 3/2 = 2.5 on FARGATE, 1.5 on spot.
    //   FARGATE per task      730 × (0.04048 + 4 × 0.004445)       = 42.5298
    //   FARGATE_SPOT per task 730 × (0.01264355 + 4 × 0.00138835)
    //                       = 730 × (0.01264355 + 0.0055534) = 730 × 0.01819695 = 13.2837735 → $13.28
    //     (vCPU 730 × 0.01264355 = 9.2297915 → $9.23; memory 730 × 0.0055534 = 4.053982 → $4.05)
    //   FARGATE      2.5 × 42.5298    = 106.3245     → $106.32
    //   FARGATE_SPOT 1.5 × 13.2837735 =  19.92566025 → $19.93
    //   total                          = 126.25016025 → $126.25
    let spot = SpotShare { base: 1, on_demand_weight: 1, spot_weight: 1 };
    let input = CostInput { spot: Some(spot), ..CostInput::new("us-east-1", 1024, 4096, 4) };
    let e = est(&input);
    let s = e.per_task.spot.expect("us-east-1 has spot rates");
    assert_eq!((s.vcpu.cents(), s.memory.cents(), s.total.cents()), (923, 405, 1328));
    assert_eq!((e.min.on_demand_tasks, e.min.spot_tasks), (2.5, 1.5));
    assert_eq!((e.min.on_demand.cents(), e.min.spot.cents(), e.min.total.cents()), (10632, 1993, 12625));
}

#[test]
fn autoscaling_range_with_spot() {
    // 1 vCPU / 4 GiB in us-east-1, 2..6 tasks, first 2 on FARGATE, then 1 : 3.
    //   min, 2 tasks: both on FARGATE: 2 × 42.5298 = 85.0596 → $85.06
    //   max, 6 tasks: 2 + 4 × 1/4 = 3 on FARGATE, 4 × 3/4 = 3 on spot:
    //     3 × 42.5298 + 3 × 13.2837735 = 127.5894 + 39.8513205 = 167.4407205 → $167.44
    let input = CostInput {
        min_tasks: 2,
        max_tasks: 6,
        spot: Some(SpotShare { base: 2, on_demand_weight: 1, spot_weight: 3 }),
        ..CostInput::new("us-east-1", 1024, 4096, 2)
    };
    let e = est(&input);
    assert_eq!((e.min.tasks, e.min.total.cents(), e.min.spot_tasks), (2, 8506, 0.0));
    assert_eq!((e.max.tasks, e.max.on_demand_tasks, e.max.spot_tasks), (6, 3.0, 3.0));
    assert_eq!(e.max.total.cents(), 16744);
    let text = e.render_text();
    assert!(text.contains("Monthly total: $85.06 .. $167.44"), "{text}");
}

#[test]
fn other_regions_use_their_own_rates() {
    // eu-central-1, 2 tasks of 2 vCPU / 8 GiB:
    //   per task 730 × (2 × 0.04656 + 8 × 0.00511) = 730 × (0.09312 + 0.04088) = 730 × 0.134 = 97.82
    //   two tasks 195.64
    let e = est(&CostInput::new("eu-central-1", 2048, 8192, 2));
    assert_eq!((e.per_task.on_demand.total.cents(), e.min.total.cents()), (9782, 19564));

    // ap-northeast-1, 1 task of 1 vCPU / 2 GiB with 21 GiB ephemeral:
    //   vCPU 0.05056 × 730 = 36.9088 → $36.91; memory 2 × 0.00553 × 730 = 8.0738 → $8.07
    //   storage 1 × 0.000133 × 730 = 0.09709 → $0.10; total 45.07969 → $45.08
    let input = CostInput { ephemeral_gib: Some(21), ..CostInput::new("ap-northeast-1", 1024, 2048, 1) };
    let t = est(&input).per_task.on_demand;
    assert_eq!((t.vcpu.cents(), t.memory.cents(), t.ephemeral_storage.cents(), t.total.cents()), (3691, 807, 10, 4508));
}

#[test]
fn the_next_size_down_and_up_are_estimated_the_same_way() {
    // 1024/4096 (small) → down 512/2048, up 2048/8192 (medium); 2 tasks, us-east-1, 730 h.
    //   smaller per task 730 × (0.5 × 0.04048 + 2 × 0.004445) = 730 × 0.02913 = 21.2649 → $21.26;
    //           2 tasks 42.5298 → $42.53
    //   larger  per task 730 × (2 × 0.04048 + 8 × 0.004445)  = 730 × 0.11652 = 85.0596 → $85.06;
    //           2 tasks 170.1192 → $170.12
    assert_eq!(neighbour_sizes(1024, 4096), (Some((512, 2048)), Some((2048, 8192))));
    let e = est(&CostInput::new("us-east-1", 1024, 4096, 2));
    let smaller = e.smaller.as_deref().expect("a smaller size");
    let larger = e.larger.as_deref().expect("a larger size");
    assert_eq!((smaller.size.cpu, smaller.size.memory_mib), (512, 2048));
    assert_eq!((smaller.per_task.on_demand.total.cents(), smaller.min.total.cents()), (2126, 4253));
    assert_eq!((larger.size.cpu, larger.size.memory_mib, larger.size.runner_size), (2048, 8192, Some("medium")));
    assert_eq!((larger.per_task.on_demand.total.cents(), larger.min.total.cents()), (8506, 17012));
    // One level only.
    assert!(smaller.smaller.is_none() && larger.larger.is_none());
    // The smallest size has nothing below it.
    assert!(est(&CostInput::new("us-east-1", 256, 512, 1)).smaller.is_none());
}

#[test]
fn from_config_reads_size_count_and_storage() {
    let loaded = load_ok(&tfvars(&[("region", "\"us-east-1\"")]));
    let input = CostInput::from_config(&loaded.config);
    // The guard runs by default and shares the task.
    let guard = vec![("guard".to_owned(), 16, 32)];
    assert_eq!(input, CostInput { sidecars: guard, ..CostInput::new("us-east-1", 1024, 4096, 2) });
    assert_eq!(est(&input).min.total.cents(), 8506);

    // runner_size medium, 3 tasks, 50 GiB: the config of medium_tasks_with_50_gib_ephemeral_storage.
    let loaded = load_ok(&tfvars(&[
        ("region", "\"us-east-1\""),
        ("runner_size", "\"medium\""),
        ("desired_count", "3"),
        ("ephemeral_storage_size", "50"),
    ]));
    let input = CostInput::from_config(&loaded.config);
    assert_eq!(
        (input.cpu, input.memory_mib, input.ephemeral_gib, input.min_tasks, input.max_tasks),
        (2048, 8192, Some(50), 3, 3)
    );
    assert_eq!(input.spot, None);
    assert_eq!(est(&input).min.total.cents(), 26247);
}

#[test]
fn a_price_file_replaces_the_built_in_table() {
    // Rates of the file: 0.05 per vCPU-hour, 0.005 per GB-hour, 0.0002 per GB-hour of storage.
    // 1 task of 0.5 vCPU / 2 GiB / 40 GiB in eu-central-2 for 100 hours:
    //   vCPU 0.5 × 0.05 × 100 = 2.5; memory 2 × 0.005 × 100 = 1.0;
    //   storage (40 − 20) × 0.0002 × 100 = 0.4; total 3.9 → $3.90
    let json = r#"{
        "currency": "USD",
        "as_of": "2026-11-01",
        "source": "https://example.com/our-negotiated-rates",
        "regions": {
            "eu-central-2": { "vcpu_hour": 0.05, "gb_hour": 0.005, "ephemeral_gb_hour": 0.0002 }
        }
    }"#;
    let path = std::env::temp_dir().join(format!("agentctl-prices-{}.json", std::process::id()));
    std::fs::write(&path, json).unwrap();
    let table = PriceTable::from_file(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(table.origin, path.display().to_string());

    let input =
        CostInput { ephemeral_gib: Some(40), hours_per_month: 100.0, ..CostInput::new("eu-central-2", 512, 2048, 1) };
    let e = estimate(&input, &table).unwrap();
    let t = &e.per_task.on_demand;
    assert_eq!((t.vcpu.cents(), t.memory.cents(), t.ephemeral_storage.cents(), t.total.cents()), (250, 100, 40, 390));
    assert_eq!(
        (e.prices.as_of.as_str(), e.prices.source.as_str()),
        ("2026-11-01", "https://example.com/our-negotiated-rates")
    );
    assert!(e.per_task.spot.is_none());
    assert!(e.render_text().contains(&path.display().to_string()));

    // The file replaces the table whole: us-east-1 is no longer known.
    let err = estimate(&CostInput::new("us-east-1", 1024, 4096, 1), &table).unwrap_err();
    assert!(matches!(&err, CostError::UnknownRegion { known, .. } if known == &["eu-central-2".to_owned()]), "{err:?}");

    // No spot rates in the file, and the input runs spot tasks: a clear error.
    let spot = CostInput { spot: Some(SpotShare { base: 0, on_demand_weight: 0, spot_weight: 1 }), ..input };
    let err = estimate(&spot, &table).unwrap_err();
    assert!(matches!(err, CostError::MissingSpotRate { .. }), "{err:?}");
    assert!(err.to_string().contains("FARGATE_SPOT") && err.help().contains("spot_vcpu_hour"), "{err}");
}

#[test]
fn an_unknown_region_is_an_error_that_says_what_to_do() {
    let err = estimate(&CostInput::new("eu-central-2", 1024, 4096, 2), &builtin()).unwrap_err();
    let CostError::UnknownRegion { region, origin, known } = &err else { panic!("{err:?}") };
    assert_eq!((region.as_str(), origin.as_str()), ("eu-central-2", BUILTIN_ORIGIN));
    assert!(known.contains(&"us-east-1".to_owned()));
    assert_eq!(err.to_string(), "the built-in price table has no Fargate prices for region eu-central-2");
    assert!(err.help().contains("--prices FILE") && err.help().contains("eu-west-1"), "{}", err.help());
}

#[test]
fn bad_price_files_are_refused_with_the_reason() {
    let parse = |json: &str| PriceTable::from_json(json, "prices.json").unwrap_err();
    let head = r#""currency": "USD", "as_of": "2026-11-01", "source": "https://example.com""#;

    let err = parse("{ not json");
    assert!(matches!(&err, PriceTableError::Parse { .. }) && err.to_string().contains("line 1"), "{err}");

    let err = parse(&format!(r#"{{ {head}, "regions": {{ "us-east-1": {{ "vcpu": 0.04, "gb_hour": 0.004 }} }} }}"#));
    assert!(err.to_string().contains("unknown field `vcpu`"), "{err}");

    let err =
        parse(&format!(r#"{{ {head}, "regions": {{ "us-east-1": {{ "vcpu_hour": -0.04, "gb_hour": 0.004 }} }} }}"#));
    assert_eq!(
        err.to_string(),
        "price file prices.json: regions.us-east-1.vcpu_hour is -0.04: a rate is a positive number of USD per hour"
    );

    let err = parse(&format!(
        r#"{{ {head}, "regions": {{ "us-east-1": {{ "vcpu_hour": 0.04, "gb_hour": 0.004, "spot_vcpu_hour": 0.01 }} }} }}"#
    ));
    assert!(err.to_string().contains("both spot_vcpu_hour and spot_gb_hour"), "{err}");

    let err = parse(r#"{ "currency": "USD", "as_of": "", "source": "x", "regions": {} }"#);
    assert!(err.to_string().contains("`as_of` is empty"), "{err}");
    assert!(err.help().contains("\"vcpu_hour\""));
}

#[test]
fn storage_without_a_rate_is_left_out_and_said_so() {
    // sa-east-1 has no ephemeral storage rate in the built-in table. vCPU and
    // memory are priced (730 × (0.0696 + 4 × 0.0076) = 73.00 per task), storage is not.
    let input = CostInput { ephemeral_gib: Some(30), ..CostInput::new("sa-east-1", 1024, 4096, 1) };
    let e = est(&input);
    assert!(!e.complete);
    assert_eq!((e.per_task.on_demand.ephemeral_storage.cents(), e.min.total.cents()), (0, 7300));
    assert_eq!(e.warnings.len(), 1);
    assert!(e.warnings[0].contains("ephemeral storage is not priced") && e.warnings[0].contains("sa-east-1"));
    let text = e.render_text();
    assert!(text.contains("INCOMPLETE") && text.contains("warning: ephemeral storage is not priced"), "{text}");
    // Without extra storage nothing is missing.
    assert!(est(&CostInput::new("sa-east-1", 1024, 4096, 1)).complete);
    // eu-west-1 has its rate (Price List: 0.000122): 10 GiB × 0.000122 × 730 = 0.8906.
    let e = est(&CostInput { ephemeral_gib: Some(30), ..CostInput::new("eu-west-1", 1024, 4096, 1) });
    assert!(e.complete, "{:?}", e.warnings);
    assert_eq!((e.per_task.on_demand.ephemeral_storage.cents(), e.min.total.cents()), (89, 4342));
}

#[test]
fn invalid_input_is_refused() {
    let bad = |input: CostInput| match estimate(&input, &builtin()) {
        Err(CostError::InvalidInput(m)) => m,
        other => panic!("{other:?}"),
    };
    assert!(bad(CostInput::new("us-east-1", 1024, 3000, 1)).contains("3000 MiB is not a valid memory size"));
    assert!(bad(CostInput::new("us-east-1", 1000, 4096, 1)).contains("not a Fargate CPU value"));
    assert!(bad(CostInput { min_tasks: 3, ..CostInput::new("us-east-1", 1024, 4096, 2) }).contains("min > max"));
    assert!(bad(CostInput { hours_per_month: 0.0, ..CostInput::new("us-east-1", 1024, 4096, 2) }).contains("hours"));
    assert!(bad(CostInput { ephemeral_gib: Some(201), ..CostInput::new("us-east-1", 1024, 4096, 2) }).contains("201"));
}

#[test]
fn json_rounds_to_cents_and_names_its_source() {
    let v = est(&CostInput::new("us-east-1", 1024, 4096, 2)).to_json();
    assert_eq!(v["min"]["total"], serde_json::json!(85.06));
    assert_eq!(v["per_task"]["on_demand"]["vcpu"], serde_json::json!(29.55));
    assert_eq!(v["per_task"]["on_demand"]["memory"], serde_json::json!(12.98));
    assert_eq!(v["per_task"]["spot"]["total"], serde_json::json!(13.28));
    assert_eq!(v["prices"]["rates"]["vcpu_hour"], serde_json::json!(0.04048));
    assert_eq!(v["prices"]["as_of"], "2026-07-07");
    assert!(v["prices"]["source"].as_str().unwrap().starts_with("https://aws.amazon.com/fargate/pricing/"));
    assert_eq!(v["smaller"]["size"]["cpu"], 512);
    assert_eq!(v["smaller"]["min"]["total"], serde_json::json!(42.53));
    assert_eq!(v["larger"]["min"]["total"], serde_json::json!(170.12));
    assert_eq!(v["hours_per_month"], serde_json::json!(730.0));
    assert_eq!(v["complete"], true);
}

#[test]
fn text_shows_rates_breakdown_total_and_right_sizing() {
    let text = est(&CostInput::new("us-east-1", 1024, 4096, 2)).render_text();
    for needle in [
        "Fargate cost estimate for us-east-1, 730 hours a month",
        "1 vCPU / 4 GiB (1024 CPU units / 4096 MiB) (runner size small)",
        "as of 2026-07-07",
        "FARGATE       0.04048 per vCPU-hour, 0.004445 per GB-hour",
        "$29.55",
        "$12.98",
        "$42.53",
        "Monthly total: $85.06",
        "smaller  0.5 vCPU / 2 GiB",
        "$21.26 per task  $42.53 a month",
        "larger   2 vCPU / 8 GiB",
        "$170.12 a month",
        "Not included: NAT gateways",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}

#[test]
fn the_script_runners_tasks_are_added_to_every_month() {
    // Two small agent tasks ($85.0596, see two_small_tasks_on_demand_in_us_east_1)
    // and one medium script runner task on FARGATE, 730 h:
    //   vCPU    2 × 0.04048  × 730 = 59.1008
    //   memory  8 × 0.004445 × 730 = 25.9588
    //   total   85.0596 → $85.06; with the agents 170.1192 → $170.12
    let loaded = load_ok(&tfvars(&[
        ("region", "\"us-east-1\""),
        ("enable_script_runner", "true"),
        ("script_runner_size", "\"medium\""),
    ]));
    let input = CostInput::from_config(&loaded.config);
    let e = est(&input);
    let runner = e.script_runner.as_ref().unwrap();
    assert_eq!((runner.tasks, runner.size.cpu, runner.size.memory_mib), (1, 2048, 8192));
    assert_eq!(runner.total.total.cents(), 8506);
    assert_eq!((e.monthly_total.min.cents(), e.monthly_total.max.cents()), (17012, 17012));
    // The agent's figures stay the agent's.
    assert_eq!(e.min.total.cents(), 8506);
    let text = e.render_text();
    assert!(text.contains("script runner, per month"), "{text}");
    assert!(text.contains("Monthly total: $170.12"), "{text}");
    // Right-sizing moves the agent only: the runner is in each total.
    assert_eq!(e.larger.as_ref().unwrap().monthly_total.min.cents(), 17012 + 8506);
}

#[test]
fn the_sidecars_share_of_each_task_is_shown_and_not_billed_twice() {
    // Default config: the guard (16 CPU units, 32 MiB); with metrics, the
    // CloudWatch agent too (64, 128). In us-east-1, per task and month:
    //   guard   (16/1024 × 0.04048 + 32/1024 × 0.004445) × 730
    //         = (0.0006325 + 0.000138906) × 730 = 0.5631 → $0.56
    //   metrics (64/1024 × 0.04048 + 128/1024 × 0.004445) × 730
    //         = (0.00253 + 0.000555625) × 730 = 2.2525 → $2.25
    let loaded = load_ok(&tfvars(&[("region", "\"us-east-1\""), ("metrics", "true")]));
    let input = CostInput::from_config(&loaded.config);
    let e = est(&input);
    let shares: Vec<(&str, u32, u32, i64)> =
        e.sidecars.iter().map(|s| (s.name.as_str(), s.cpu, s.memory_mib, s.per_task.cents())).collect();
    assert_eq!(shares, [("metrics", 64, 128, 225), ("guard", 16, 32, 56)]);
    // The task's price is the same with or without them: they share it.
    let bare = est(&CostInput { sidecars: vec![], ..input });
    assert_eq!(e.per_task.on_demand.total.cents(), bare.per_task.on_demand.total.cents());
    let text = e.render_text();
    assert!(text.contains("guard 16 CPU units / 32 MiB ($0.56 a task-month)"), "{text}");
    assert!(text.contains("the agent keeps 944 CPU units / 3936 MiB"), "{text}");

    let off = load_ok(&tfvars(&[("protect_running_pipelines", "false")]));
    assert!(CostInput::from_config(&off.config).sidecars.is_empty());
}
