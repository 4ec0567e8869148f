//! Plan rendering (text and JSON) and `diff` against live state.

mod common;

use std::collections::BTreeMap;

use agentctl_core::model::{addr, build, Address, Context, Kind, Spec, Stack, OWNERSHIP_TAG};
use agentctl_core::plan::render::{self, TextOptions};
use agentctl_core::plan::{diff, plan_offline, Action, Known, Live, LiveResource, Plan, Shown};
use agentctl_core::secret::SecretString;
use common::*;
use serde_json::Value;

const AWS_ACCOUNT: &str = "123456789012";

fn stack(fixture_file: &str) -> Stack {
    let loaded = load_ok(&fixture(fixture_file));
    let zones = ["a", "b"].iter().map(|z| format!("{}{z}", loaded.config.region)).collect();
    build(
        &loaded.config,
        &Context { aws_account_id: Some(AWS_ACCOUNT.into()), availability_zones: Some(zones), ..Context::default() },
    )
}

fn text(plan: &Plan, verbose: bool) -> String {
    render::text(plan, &TextOptions { verbose })
}

/// The id and outputs AWS would report for a resource of the new-VPC stack.
/// `subnet.a`'s id sorts after `subnet.b`'s on purpose.
fn fake_outputs(stack: &Stack, a: Address) -> (String, BTreeMap<String, String>) {
    let r = stack.get(a).unwrap();
    let region = &stack.region;
    let (id, arn) = match a.kind {
        Kind::Vpc => ("vpc-0abc1234def567890".to_owned(), None),
        Kind::InternetGateway => ("igw-0abc1234def567890".to_owned(), None),
        Kind::Subnet if a.key == "a" => ("subnet-0fff0000aaaa11112".to_owned(), None),
        Kind::Subnet => ("subnet-0111ffff0000aaaa1".to_owned(), None),
        Kind::RouteTable => ("rtb-0abc1234def567890".to_owned(), None),
        Kind::SecurityGroup => ("sg-0abc1234def567890".to_owned(), None),
        Kind::FlowLog => ("fl-0abc1234def567890".to_owned(), None),
        Kind::Secret => {
            let arn = format!("arn:aws:secretsmanager:{region}:{AWS_ACCOUNT}:secret:{}-AbCdEf", r.name);
            (arn.clone(), Some(arn))
        }
        Kind::IamRole => (r.name.clone(), Some(format!("arn:aws:iam::{AWS_ACCOUNT}:role/{}", r.name))),
        Kind::S3Bucket => (r.name.clone(), Some(format!("arn:aws:s3:::{}", r.name))),
        Kind::LogGroup => (r.name.clone(), Some(format!("arn:aws:logs:{region}:{AWS_ACCOUNT}:log-group:{}", r.name))),
        Kind::HttpNamespace => {
            let id = "ns-0abc1234def56789".to_owned();
            (id.clone(), Some(format!("arn:aws:servicediscovery:{region}:{AWS_ACCOUNT}:namespace/{id}")))
        }
        Kind::EcsCluster => {
            let arn = format!("arn:aws:ecs:{region}:{AWS_ACCOUNT}:cluster/{}", r.name);
            (arn.clone(), Some(arn))
        }
        Kind::TaskDefinition => {
            let arn = format!("arn:aws:ecs:{region}:{AWS_ACCOUNT}:task-definition/{}:7", r.name);
            (arn.clone(), Some(arn))
        }
        Kind::EcsService => {
            let arn = format!("arn:aws:ecs:{region}:{AWS_ACCOUNT}:service/{}/{}", stack.deployment, r.name);
            (arn.clone(), Some(arn))
        }
        Kind::ScalableTarget | Kind::ScalingPolicy | Kind::ScheduledAction | Kind::Alarm | Kind::Dashboard => {
            (r.name.clone(), None)
        }
    };
    let mut outputs = BTreeMap::from([("id".to_owned(), id.clone())]);
    if let Some(arn) = arn {
        outputs.insert("arn".to_owned(), arn);
    }
    (id, outputs)
}

fn resolve_all(known: &Known, items: &[String]) -> Vec<String> {
    items.iter().map(|s| known.resolve_str(s)).collect()
}

/// The desired spec with every `${...}` replaced by the live value.
fn resolve_spec(spec: &Spec, known: &Known) -> Spec {
    let mut spec = spec.clone();
    match &mut spec {
        Spec::InternetGateway(s) => s.vpc_id = known.resolve_str(&s.vpc_id),
        Spec::Subnet(s) => s.vpc_id = known.resolve_str(&s.vpc_id),
        Spec::RouteTable(s) => {
            s.vpc_id = known.resolve_str(&s.vpc_id);
            for r in &mut s.routes {
                r.gateway_id = known.resolve_str(&r.gateway_id);
            }
            s.subnet_ids = resolve_all(known, &s.subnet_ids);
        }
        Spec::SecurityGroup(s) => {
            s.vpc_id = known.resolve_str(&s.vpc_id);
            for rule in &mut s.ingress {
                rule.cidr = known.resolve_str(&rule.cidr);
            }
        }
        Spec::FlowLog(f) => f.vpc_id = known.resolve_str(&f.vpc_id),
        Spec::TaskDefinition(t) => {
            for c in &mut t.containers {
                for s in &mut c.secrets {
                    s.value_from = known.resolve_str(&s.value_from);
                }
            }
        }
        Spec::EcsService(s) => {
            s.task_definition = known.resolve_str(&s.task_definition);
            s.subnets = resolve_all(known, &s.subnets);
            s.security_groups = resolve_all(known, &s.security_groups);
            if let Some(sc) = &mut s.service_connect {
                sc.namespace = known.resolve_str(&sc.namespace);
            }
        }
        Spec::ScalableTarget(_)
        | Spec::ScalingPolicy(_)
        | Spec::ScheduledAction(_)
        | Spec::Alarm(_)
        | Spec::Dashboard(_)
        | Spec::Vpc(_)
        | Spec::HttpNamespace(_)
        | Spec::Secret(_)
        | Spec::IamRole(_)
        | Spec::S3Bucket(_)
        | Spec::LogGroup(_)
        | Spec::EcsCluster(_) => {}
    }
    spec
}

/// Live state exactly as apply would leave it: every resource of the stack, with
/// our ownership tag, the desired attributes and the ids AWS assigned.
fn live_from(stack: &Stack) -> Live {
    let mut known = Known::default();
    let mut ids = BTreeMap::new();
    for r in &stack.resources {
        let (id, outputs) = fake_outputs(stack, r.addr);
        for (k, v) in &outputs {
            known.insert(r.addr, k, v.clone());
        }
        ids.insert(r.addr, (id, outputs));
    }
    let resources = stack
        .resources
        .iter()
        .map(|r| {
            let (id, outputs) = ids[&r.addr].clone();
            let live = LiveResource {
                id,
                outputs,
                tags: r.tags.clone(),
                spec: resolve_spec(&r.spec, &known),
                unreported: vec![],
            };
            (r.addr, live)
        })
        .collect();
    Live { resources, orphans: vec![], adopted: Default::default() }
}

/// What the AWS adapters report: list attributes whose order AWS does not keep
/// come back sorted.
fn as_read_back(mut live: Live) -> Live {
    for l in live.resources.values_mut() {
        match &mut l.spec {
            Spec::RouteTable(s) => {
                s.routes.sort();
                s.subnet_ids.sort();
            }
            Spec::SecurityGroup(s) => s.egress.sort(),
            Spec::TaskDefinition(t) => {
                t.volumes.sort();
                for c in &mut t.containers {
                    c.environment.sort();
                    c.secrets.sort();
                    c.mount_points.sort();
                }
            }
            Spec::EcsService(s) => {
                s.subnets.sort();
                s.security_groups.sort();
            }
            _ => {}
        }
    }
    live
}

fn changed(plan: &Plan) -> Vec<(String, Action)> {
    plan.changes.iter().filter(|c| c.action != Action::NoChange).map(|c| (c.addr.to_string(), c.action)).collect()
}

// --- offline plan rendering ---------------------------------------------------------

#[test]
fn offline_plan_text_for_a_new_vpc() {
    let plan = plan_offline(&stack("new-vpc.tfvars"));
    let out = text(&plan, false);
    insta::assert_snapshot!("new_vpc_plan_text", out);
    assert!(out.ends_with("Plan: 14 to create, 0 to update, 0 to replace, 0 to delete.\n"));
    // Sections in order, each resource once.
    let sections: Vec<_> = ["\nNetwork\n", "\nCredentials and access\n", "\nStorage and logs\n", "\nECS\n"]
        .iter()
        .map(|s| out.find(s).unwrap_or_else(|| panic!("{s:?} missing")))
        .collect();
    assert!(sections.windows(2).all(|w| w[0] < w[1]), "{sections:?}");
    for r in &plan.changes {
        assert_eq!(out.matches(&format!(" {} ", r.addr)).count(), 1, "{}", r.addr);
    }
    assert!(out.contains("secret_string = (sensitive)"), "{out}");
    // Verbose adds nothing when everything is created.
    assert_eq!(text(&plan, true), out);
}

#[test]
fn offline_plan_json_summary_and_order() {
    let s = stack("new-vpc.tfvars");
    let json = render::json(&plan_offline(&s));
    assert_eq!(json["summary"]["create"], 14);
    assert_eq!(json["changes"], true);
    let order: Vec<_> =
        json["resources"].as_array().unwrap().iter().map(|r| r["address"].as_str().unwrap().to_owned()).collect();
    let pos = |a: &str| order.iter().position(|o| o == a).unwrap();
    assert!(pos("vpc.main") < pos("subnet.a"));
    assert!(pos("subnet.b") < pos("route_table.public"));
    assert!(pos("task_definition.agent") < pos("ecs_service.agent"));
    assert_eq!(pos("ecs_service.agent"), order.len() - 1);
    for r in json["resources"].as_array().unwrap() {
        assert_eq!(r["action"], "create");
        assert_eq!(r["attributes"]["tags"][OWNERSHIP_TAG], "analytics", "{}", r["address"]);
        assert!(r.get("id").is_none(), "nothing exists offline");
    }
    let secret = json["resources"].as_array().unwrap().iter().find(|r| r["address"] == "secret.credentials").unwrap();
    assert_eq!(secret["attributes"]["secret_string"], "(sensitive)");
}

#[test]
fn existing_network_is_named_in_the_text_plan() {
    let plan = plan_offline(&stack("existing-all.tfvars"));
    let out = text(&plan, false);
    assert!(out.starts_with("Deployment \"dpc-agent\" in eu-central-1\n  uses existing VPC vpc-0123abcd\n  uses existing subnets subnet-0bbb2222, subnet-0aaa1111\n  uses existing security groups sg-0c0c0c0c, sg-0d0d0d0d\n"), "{out}");
    assert!(!out.contains("\nNetwork\n"), "nothing of the network is created");
    assert!(out.contains("Plan: 7 to create"), "{out}");
}

// --- diff ---------------------------------------------------------------------------

#[test]
fn diff_of_what_apply_left_is_no_change() {
    let s = stack("new-vpc.tfvars");
    let plan = diff(&s, &live_from(&s)).expect("all ours");
    assert_eq!(changed(&plan), [], "{}", text(&plan, false));
    assert!(!plan.has_changes());
    assert_eq!(plan.count(Action::NoChange), s.resources.len());
    let out = text(&plan, false);
    assert!(out.ends_with("No changes. AWS matches the configuration.\n"), "{out}");
    assert!(!out.contains("no change)"), "non-verbose hides unchanged resources");
    // Live ids are shown in JSON; every reference resolved.
    let json = render::json(&plan);
    assert_eq!(json["summary"]["no_change"], 14);
    assert_eq!(json["changes"], false);
    let json_text = json.to_string();
    assert!(!json_text.contains("known after apply"), "{json_text}");
    assert!(json_text.contains("\"id\":\"vpc-0abc1234def567890\""));
    // Verbose shows unchanged resources with their values, secrets still hidden.
    let verbose = text(&plan, true);
    assert!(verbose.contains("(no change)"));
    assert!(verbose.contains("secret_string = (sensitive)"), "{verbose}");
    assert!(!verbose.contains("SENTINEL"), "{verbose}");
    assert!(verbose.contains("\"subnet-0fff0000aaaa11112\""), "resolved references");

    // The same for the other two network modes.
    for file in ["existing-vpc.tfvars", "existing-all.tfvars"] {
        let s = stack(file);
        let plan = diff(&s, &live_from(&s)).unwrap();
        assert_eq!(changed(&plan), [], "{file}: {}", text(&plan, false));
    }
}

/// Regression: the AWS adapters sort lists AWS keeps in no particular order
/// (subnets, security groups, volumes, mount points); a plan right after apply
/// must still show no change.
#[test]
fn diff_ignores_the_order_aws_reads_lists_back_in() {
    for file in ["new-vpc.tfvars", "existing-vpc.tfvars", "existing-all.tfvars"] {
        let s = stack(file);
        let plan = diff(&s, &as_read_back(live_from(&s))).unwrap();
        assert_eq!(changed(&plan), [], "{file}:\n{}", text(&plan, false));
    }
}

#[test]
fn changed_log_retention_is_one_update() {
    let s = stack("new-vpc.tfvars");
    let mut live = live_from(&s);
    let lg = live.resources.get_mut(&addr::LOG_GROUP).unwrap();
    let Spec::LogGroup(spec) = &mut lg.spec else { panic!() };
    spec.retention_in_days = Some(7);

    let plan = diff(&s, &live).unwrap();
    assert_eq!(changed(&plan), [("log_group.agent".to_owned(), Action::Update)]);
    let c = plan.get(addr::LOG_GROUP).unwrap();
    assert_eq!(c.changes.len(), 1);
    assert_eq!(c.changes[0].path, "retention_in_days");
    assert_eq!(c.changes[0].before, Some(Shown::Value(Value::from(7))));
    assert_eq!(c.changes[0].after, Some(Shown::Value(Value::from(30))));
    assert!(!c.changes[0].forces_replacement);
    assert_eq!(c.live_id.as_deref(), Some("/ecs/analytics-agent"));

    let out = text(&plan, false);
    insta::assert_snapshot!("log_retention_update_text", out);
    assert!(out.contains("retention_in_days   7 -> 30"), "{out}");
    assert!(out.contains("Plan: 0 to create, 1 to update, 0 to replace, 0 to delete."));

    let json = render::json(&plan);
    let r = json["resources"].as_array().unwrap().iter().find(|r| r["address"] == "log_group.agent").unwrap();
    assert_eq!(r["action"], "update");
    assert_eq!(
        r["changes"],
        serde_json::json!([{
            "attribute": "retention_in_days",
            "before": 7,
            "after": 30,
            "forces_replacement": false
        }])
    );
    assert_eq!(json["summary"]["update"], 1);
    assert_eq!(json["summary"]["no_change"], 13);
}

#[test]
fn changed_tag_value_is_an_update_of_that_tag() {
    let s = stack("new-vpc.tfvars");
    let mut live = live_from(&s);
    live.resources.get_mut(&addr::CLUSTER).unwrap().tags.insert("team".into(), "old-team".into());
    live.resources.get_mut(&addr::BUCKET).unwrap().tags.insert("extra".into(), "x".into());

    let plan = diff(&s, &live).unwrap();
    assert_eq!(
        changed(&plan),
        [("s3_bucket.staging".to_owned(), Action::Update), ("ecs_cluster.main".to_owned(), Action::Update),]
    );
    let c = plan.get(addr::CLUSTER).unwrap();
    assert_eq!(c.changes.len(), 1);
    assert_eq!(c.changes[0].path, "tags.team");
    assert_eq!(c.changes[0].before, Some(Shown::Value("old-team".into())));
    assert_eq!(c.changes[0].after, Some(Shown::Value("data-platform".into())));
    // A tag only in AWS is removed.
    let b = plan.get(addr::BUCKET).unwrap();
    assert_eq!(b.changes.len(), 1);
    assert_eq!(b.changes[0].path, "tags.extra");
    assert_eq!(b.changes[0].after, None);
    let out = text(&plan, false);
    assert!(out.contains("tags.team   \"old-team\" -> \"data-platform\""), "{out}");
    assert!(out.contains("tags.extra   \"x\" -> (none)"), "{out}");
}

#[test]
fn changed_secret_value_is_shown_but_never_printed() {
    const OLD: &str = "{\"client_id\":\"cid-OLD-SENTINEL-0000\",\"client_secret\":\"csec-OLD-SENTINEL-9999\"}";
    let s = stack("new-vpc.tfvars");
    let mut live = live_from(&s);
    let secret = live.resources.get_mut(&addr::SECRET).unwrap();
    let Spec::Secret(spec) = &mut secret.spec else { panic!() };
    spec.value = Some(SecretString::new(OLD));

    let plan = diff(&s, &live).unwrap();
    assert_eq!(changed(&plan), [("secret.credentials".to_owned(), Action::Update)]);
    let c = plan.get(addr::SECRET).unwrap();
    assert_eq!(c.changes.len(), 1);
    assert_eq!(c.changes[0].path, "secret_string");
    assert_eq!(c.changes[0].before, Some(Shown::Sensitive));
    assert_eq!(c.changes[0].after, Some(Shown::Sensitive));

    let out = text(&plan, false);
    insta::assert_snapshot!("secret_update_text", out);
    assert!(out.contains("secret_string   (sensitive value changed)"), "{out}");
    let json = render::json(&plan);
    let r = json["resources"].as_array().unwrap().iter().find(|r| r["address"] == "secret.credentials").unwrap();
    assert_eq!(r["changes"][0]["attribute"], "secret_string");
    assert_eq!(r["changes"][0]["before"], "(sensitive)");
    assert_eq!(r["changes"][0]["after"], "(sensitive value changed)");
    for rendered in [out, text(&plan, true), json.to_string(), format!("{plan:?}")] {
        for value in ["SENTINEL", CLIENT_ID, CLIENT_SECRET] {
            assert!(!rendered.contains(value), "{value} leaked:\n{rendered}");
        }
    }
}

#[test]
fn same_secret_value_is_no_change() {
    let s = stack("new-vpc.tfvars");
    let mut live = live_from(&s);
    let Spec::Secret(spec) = &mut live.resources.get_mut(&addr::SECRET).unwrap().spec else { panic!() };
    // A fresh copy of the same text compares equal.
    spec.value = spec.value.as_ref().map(|v| SecretString::new(v.expose().to_owned()));
    assert!(!diff(&s, &live).unwrap().has_changes());
}

#[test]
fn resource_without_our_tag_is_foreign() {
    let s = stack("new-vpc.tfvars");
    let mut live = live_from(&s);
    live.resources.get_mut(&addr::BUCKET).unwrap().tags.remove(OWNERSHIP_TAG);
    live.resources.get_mut(&addr::LOG_GROUP).unwrap().tags.insert(OWNERSHIP_TAG.into(), "someone-else".into());

    let foreign = diff(&s, &live).expect_err("must refuse resources it does not own");
    assert_eq!(foreign.len(), 2, "{foreign:?}");
    let bucket = foreign.iter().find(|f| f.address == "s3_bucket.staging").expect("names the bucket");
    assert_eq!(bucket.kind, "S3 bucket");
    assert_eq!(bucket.name, "analytics-staging-123456789012-eu-west-1");
    assert_eq!(bucket.id, "analytics-staging-123456789012-eu-west-1");
    assert_eq!(bucket.owner, None);
    let lg = foreign.iter().find(|f| f.address == "log_group.agent").expect("names the log group");
    assert_eq!(lg.name, "/ecs/analytics-agent");
    assert_eq!(lg.owner.as_deref(), Some("someone-else"));
}

#[test]
fn adopted_untagged_resource_is_ours_and_gets_tagged() {
    let s = stack("new-vpc.tfvars");
    let mut live = live_from(&s);
    live.resources.get_mut(&addr::ROUTE_TABLE).unwrap().tags.remove(OWNERSHIP_TAG);
    assert!(diff(&s, &live).is_err(), "untagged and not adopted: foreign");
    live.adopted.insert(addr::ROUTE_TABLE);
    let plan = diff(&s, &live).expect("adopted: not foreign");
    assert_eq!(changed(&plan), [("route_table.public".to_owned(), Action::Update)]);
    let c = plan.get(addr::ROUTE_TABLE).unwrap();
    assert_eq!(c.changes.len(), 1, "{:?}", c.changes);
    assert_eq!(c.changes[0].path, format!("tags.{OWNERSHIP_TAG}"));
    assert_eq!(c.changes[0].before, None);
    assert_eq!(c.changes[0].after, Some(Shown::Value("analytics".into())));
    // Adoption covers only the listed address, and only untagged ones.
    live.resources.get_mut(&addr::VPC).unwrap().tags.insert(OWNERSHIP_TAG.into(), "other".into());
    let foreign = diff(&s, &live).unwrap_err();
    assert_eq!(foreign.len(), 1);
    assert_eq!(foreign[0].address, "vpc.main");
}

#[test]
fn an_unattached_internet_gateway_is_attached_not_replaced() {
    // A run killed between CreateInternetGateway and AttachInternetGateway.
    let s = stack("new-vpc.tfvars");
    let mut live = live_from(&s);
    let Spec::InternetGateway(igw) = &mut live.resources.get_mut(&addr::IGW).unwrap().spec else { panic!() };
    igw.vpc_id = String::new();
    let plan = diff(&s, &live).unwrap();
    assert_eq!(changed(&plan), [("internet_gateway.main".to_owned(), Action::Update)]);
    // Attached to another VPC: that needs a new gateway.
    let Spec::InternetGateway(igw) = &mut live.resources.get_mut(&addr::IGW).unwrap().spec else { panic!() };
    igw.vpc_id = "vpc-0other".into();
    assert!(changed(&diff(&s, &live).unwrap()).contains(&("internet_gateway.main".to_owned(), Action::Replace)));
}

#[test]
fn unreported_attributes_are_not_compared() {
    let s = stack("new-vpc.tfvars");
    let mut live = live_from(&s);
    let lg = live.resources.get_mut(&addr::LOG_GROUP).unwrap();
    let Spec::LogGroup(spec) = &mut lg.spec else { panic!() };
    spec.retention_in_days = None;
    assert!(diff(&s, &live).unwrap().has_changes());
    live.resources.get_mut(&addr::LOG_GROUP).unwrap().unreported = vec!["retention_in_days"];
    assert!(!diff(&s, &live).unwrap().has_changes());
}

#[test]
fn new_image_is_a_new_task_definition_revision_and_a_service_update() {
    let s = stack("new-vpc.tfvars");
    let mut live = live_from(&s);
    let Spec::TaskDefinition(td) = &mut live.resources.get_mut(&addr::TASK_DEFINITION).unwrap().spec else { panic!() };
    td.containers[0].image = "public.ecr.aws/matillion/etl-agent:stable".into();

    let plan = diff(&s, &live).unwrap();
    assert_eq!(
        changed(&plan),
        [("task_definition.agent".to_owned(), Action::Replace), ("ecs_service.agent".to_owned(), Action::Update),]
    );
    let td = plan.get(addr::TASK_DEFINITION).unwrap();
    assert_eq!(td.changes.len(), 1, "{:?}", td.changes);
    assert_eq!(td.changes[0].path, "containers[0].image");
    assert_eq!(td.changes[0].before, Some(Shown::Value("public.ecr.aws/matillion/etl-agent:stable".into())));
    assert_eq!(td.changes[0].after, Some(Shown::Value("public.ecr.aws/matillion/etl-agent:current".into())));
    assert!(td.changes[0].forces_replacement);

    let svc = plan.get(addr::SERVICE).unwrap();
    assert_eq!(svc.changes.len(), 1, "{:?}", svc.changes);
    assert_eq!(svc.changes[0].path, "task_definition");
    assert_eq!(
        svc.changes[0].before,
        Some(Shown::Value("arn:aws:ecs:eu-west-1:123456789012:task-definition/analytics-agent:7".into()))
    );
    assert_eq!(svc.changes[0].after, Some(Shown::KnownAfterApply));
    assert!(!svc.changes[0].forces_replacement, "the service is updated, not replaced");

    let out = text(&plan, false);
    insta::assert_snapshot!("new_image_text", out);
    assert!(out.contains("(new revision)"), "{out}");
    assert!(!out.contains("forces replacement"), "a new revision is not a replacement of the family: {out}");
    assert!(out.contains("Plan: 0 to create, 1 to update, 1 to replace, 0 to delete."));

    let json = render::json(&plan);
    let svc = json["resources"].as_array().unwrap().iter().find(|r| r["address"] == "ecs_service.agent").unwrap();
    assert_eq!(svc["changes"][0]["after"], "(known after apply)");
}

#[test]
fn missing_resources_are_created_with_known_references() {
    let s = stack("new-vpc.tfvars");
    let mut live = live_from(&s);
    live.resources.remove(&addr::SECURITY_GROUP);
    let plan = diff(&s, &live).unwrap();
    assert_eq!(
        changed(&plan),
        [("security_group.agent".to_owned(), Action::Create), ("ecs_service.agent".to_owned(), Action::Update),]
    );
    // The VPC exists, so the new group's vpc_id is known.
    let sg = plan.get(addr::SECURITY_GROUP).unwrap();
    let vpc_id = sg.attrs.iter().find(|(k, _)| k == "vpc_id").unwrap();
    assert_eq!(vpc_id.1, Shown::Value("vpc-0abc1234def567890".into()));
    // The service moves to the new group, whose id is not known yet.
    let svc = plan.get(addr::SERVICE).unwrap();
    assert_eq!(svc.changes[0].path, "security_groups");
    assert_eq!(svc.changes[0].after, Some(Shown::KnownAfterApply));
}

#[test]
fn orphans_are_deleted_dependents_first() {
    let s = stack("existing-all.tfvars");
    let mut live = live_from(&s);
    // Resources of ours from when this deployment created its own network.
    let new_vpc = stack("new-vpc.tfvars");
    for a in [addr::VPC, addr::SECURITY_GROUP, addr::ROUTE_TABLE, addr::SUBNET_A] {
        let r = new_vpc.get(a).unwrap();
        let mut tags = r.tags.clone();
        tags.insert(OWNERSHIP_TAG.into(), "dpc-agent".into());
        live.orphans.push((
            a,
            r.name.clone(),
            LiveResource {
                id: format!("{}-orphan", a.kind.as_str()),
                outputs: BTreeMap::new(),
                tags,
                spec: r.spec.clone(),
                unreported: vec![],
            },
        ));
    }
    let plan = diff(&s, &live).unwrap();
    let deletes: Vec<_> =
        plan.changes.iter().filter(|c| c.action == Action::Delete).map(|c| c.addr.to_string()).collect();
    assert_eq!(deletes.len(), 4);
    let pos = |a: &str| deletes.iter().position(|d| d == a).unwrap();
    assert!(pos("route_table.public") < pos("subnet.a"));
    assert!(pos("subnet.a") < pos("vpc.main"));
    assert!(pos("security_group.agent") < pos("vpc.main"));
    let out = text(&plan, false);
    assert!(out.contains("id = vpc-orphan"), "{out}");
    assert!(out.contains("0 to create, 0 to update, 0 to replace, 4 to delete"), "{out}");
}
