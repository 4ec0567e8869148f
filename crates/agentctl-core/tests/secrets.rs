//! The agent's credentials never leave memory: not in plans (text or JSON), not in
//! `Debug` output of the config, stack or plan, not in any diagnostic.

mod common;

use agentctl_core::config::{Env, Loaded};
use agentctl_core::diagnostics::Report;
use agentctl_core::model::{addr, build, Context, Spec};
use agentctl_core::plan::plan_offline;
use agentctl_core::plan::render::{self, TextOptions};
use common::*;

fn assert_no_secret(what: &str, text: &str) {
    for value in [CLIENT_ID, CLIENT_SECRET, "SENTINEL"] {
        assert!(!text.contains(value), "{what} leaks {value}:\n{text}");
    }
}

fn assert_diagnostics_hide_secrets(report: &Report) {
    for d in &report.diagnostics {
        assert_no_secret("diagnostic message", &d.message);
        assert_no_secret("diagnostic help", d.help.as_deref().unwrap_or(""));
        assert_no_secret("diagnostic label", d.label.as_deref().unwrap_or(""));
        assert_no_secret("diagnostic", &format!("{d:?}"));
    }
    for d in report.located() {
        assert_no_secret("located diagnostic", &serde_json::to_string(&d).unwrap());
    }
}

/// The credentials in the file (with warnings) and from the environment.
fn configs() -> Vec<(&'static str, Loaded)> {
    let in_file =
        tfvars(&[("client_id", &format!("\"{CLIENT_ID}\"")), ("client_secret", &format!("\"{CLIENT_SECRET}\""))]);
    vec![
        ("credentials in the file", load_ok_env(&in_file, &Env::default())),
        ("credentials from TF_VAR_*", load_ok(&tfvars(&[]))),
        ("existing network", load_ok(&fixture("existing-all.tfvars"))),
    ]
}

#[test]
fn secrets_never_appear_in_plans_or_debug_output() {
    for (case, loaded) in configs() {
        // The values are really there, so the checks below can fail.
        assert_eq!(loaded.config.credentials.as_ref().unwrap().client_id.expose(), CLIENT_ID, "{case}");
        assert_eq!(loaded.config.credentials.as_ref().unwrap().client_secret.expose(), CLIENT_SECRET, "{case}");

        assert_no_secret("Debug of the config", &format!("{:?}", loaded.config));
        assert_no_secret("Debug of the config", &format!("{:#?}", loaded.config));
        assert_diagnostics_hide_secrets(&loaded.report);

        for ctx in [
            Context::default(),
            Context {
                aws_account_id: Some("123456789012".into()),
                availability_zones: Some(vec!["us-east-1a".into(), "us-east-1b".into()]),
                ..Context::default()
            },
        ] {
            let stack = build(&loaded.config, &ctx);
            let Spec::Secret(secret) = &stack.get(addr::SECRET).unwrap().spec else { panic!() };
            assert!(secret.value.as_ref().unwrap().expose().contains(CLIENT_SECRET), "{case}");

            assert_no_secret("Debug of the stack", &format!("{stack:?}"));
            let plan = plan_offline(&stack);
            assert_no_secret("Debug of the plan", &format!("{plan:?}"));
            for verbose in [false, true] {
                let text = render::text(&plan, &TextOptions { verbose });
                assert_no_secret("plan text", &text);
                assert!(text.contains("secret_string = (sensitive)"), "{text}");
            }
            let json = render::json(&plan);
            assert_no_secret("plan JSON", &json.to_string());
            let secret =
                json["resources"].as_array().unwrap().iter().find(|r| r["address"] == "secret.credentials").unwrap();
            assert_eq!(secret["attributes"]["secret_string"], "(sensitive)", "{case}");
            // No other attribute carries it in a different shape.
            let spec_json = serde_json::to_string(&stack.get(addr::SECRET).unwrap().spec).unwrap();
            assert_no_secret("serialized secret spec", &spec_json);
        }
    }
}

#[test]
fn secrets_never_appear_in_diagnostics_of_broken_configs() {
    let id = format!("\"{CLIENT_ID}\"");
    let secret = format!("\"{CLIENT_SECRET}\"");
    let cases: Vec<String> = vec![
        // Wrong type around the value.
        tfvars(&[("client_id", &format!("[{id}]")), ("client_secret", &format!("{{ v = {secret} }}"))]),
        // A typo in the variable name.
        tfvars(&[("client_secrets", &secret), ("clientid", &id)]),
        // Interpolation, so not a literal.
        tfvars(&[("client_secret", &format!("\"{CLIENT_SECRET}-${{var.x}}\""))]),
        // A syntax error on the secret's line.
        tfvars(&[("client_secret", &format!("{secret} {id}"))]),
        format!("client_secret = {secret}\nclient_id = {id}\nregion = "),
        format!("client_secret = \"{CLIENT_SECRET}\nclient_id = {id}\n"),
        // Other errors in a file that holds the credentials.
        tfvars(&[
            ("client_id", &id),
            ("client_secret", &secret),
            ("region", "\"eu-west-9\""),
            ("agent_cpu", "3000"),
            ("vpc_id", "\"vpc-12345678\""),
        ]),
    ];
    for text in cases {
        // Credentials only in the file: every case is an error.
        let report = match load_text(&text, &Env::default()) {
            Ok(loaded) => panic!("expected errors for:\n{text}\n{}", describe(&loaded.report)),
            Err(report) => report,
        };
        assert!(report.has_errors());
        assert_diagnostics_hide_secrets(&report);
        // With TF_VAR_* credentials the file's are ignored; still nothing leaks.
        let report = match load_text(&text, &env_with_creds()) {
            Ok(loaded) => loaded.report,
            Err(report) => report,
        };
        assert_diagnostics_hide_secrets(&report);
    }
}

#[test]
fn secrets_from_the_environment_never_appear_in_diagnostics() {
    // A credential that looks like a placeholder is rejected without echoing it.
    let mut env = env_with_creds();
    env.tf_vars.insert("client_secret".into(), "your-SENTINEL-secret".into());
    let report = load_err_env(&tfvars(&[]), &env);
    let d = single_error(&report);
    assert!(d.message.contains("`client_secret` is a placeholder"), "{}", d.message);
    assert_diagnostics_hide_secrets(&report);

    // Credentials given as command-line overrides behave the same.
    let mut env = Env::default();
    env.overrides.insert("client_id".into(), CLIENT_ID.into());
    env.overrides.insert("client_secret".into(), CLIENT_SECRET.into());
    let report = load_err_env(&tfvars(&[("region", "\"mars-1\"")]), &env);
    assert_diagnostics_hide_secrets(&report);
}

/// The report keeps the file's text for miette's source snippets; credential
/// values in it are masked, offsets unchanged.
#[test]
fn report_source_masks_credentials_in_the_file() {
    let text = tfvars(&[
        ("client_id", &format!("\"{CLIENT_ID}\"")),
        ("client_secret", &format!("\"{CLIENT_SECRET}\"  # from Hub")),
    ]);
    let loaded = load_ok_env(&text, &Env::default());
    assert_eq!(loaded.report.source.text.len(), text.len(), "spans stay valid");
    assert_no_secret("report source", &loaded.report.source.text);
    assert_no_secret("Debug of Loaded", &format!("{loaded:?}"));
    // Only the credential values are masked.
    assert!(loaded.report.source.text.contains("region = \"eu-west-1\""));
    // The warnings still point at the credential lines.
    for (w, var) in warnings(&loaded.report).iter().zip(["client_id", "client_secret"]) {
        assert_eq!(w.line, Some(line_of(&text, var)));
    }

    // An error elsewhere in the same file: the report's source is masked too.
    let text = format!("{text}agent_cpu = 3000\n");
    let report = load_err_env(&text, &Env::default());
    assert_no_secret("report source", &report.source.text);
    assert_no_secret("Debug of Report", &format!("{report:?}"));
}

/// A credential under a misspelt name is still a credential: the snippet shown
/// for "unknown variable" must not print it.
///
/// A misspelt credential name is reported as unknown with its line quoted: the
/// value must be masked there too.
#[test]
fn report_source_masks_credentials_under_a_misspelt_name() {
    for key in ["client_secrets", "clientsecret", "client_id_"] {
        let text = tfvars(&[(key, &format!("\"{CLIENT_SECRET}\""))]);
        let report = load_err(&text);
        assert!(single_error(&report).message.contains("unknown variable"), "{}", describe(&report));
        assert_no_secret(&format!("report source ({key})"), &report.source.text);
    }
}

/// A credential written as a heredoc spans several lines; all of them are masked.
#[test]
fn report_source_masks_multi_line_credentials() {
    // A heredoc that interpolates cannot be evaluated: an error that quotes the file.
    let text = format!(
        "{}client_secret = <<EOT\n{CLIENT_SECRET}${{var.pepper}}\nEOT\nclient_id = \"{CLIENT_ID}\"\n",
        tfvars(&[])
    );
    let report = load_err_env(&text, &Env::default());
    assert!(report.diagnostics.iter().any(|d| d.message.contains("`client_secret` is a string template")));
    assert_eq!(report.source.text.len(), text.len());
    assert_no_secret("report source", &report.source.text);
    // A list over several lines (a type error whose span covers every line).
    let text = format!("{}client_secret = [\n  \"{CLIENT_SECRET}\",\n]\nclient_id = \"{CLIENT_ID}\"\n", tfvars(&[]));
    let report = load_err_env(&text, &Env::default());
    assert!(report.diagnostics.iter().any(|d| d.message.contains("`client_secret` must be a string")));
    assert_no_secret("report source", &report.source.text);
    // Everything else stays as written.
    assert!(report.source.text.starts_with(&tfvars(&[])));
}
