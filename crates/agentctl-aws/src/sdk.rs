//! The one place that builds the AWS SDK configuration (region, profile,
//! endpoint, retries, timeouts) and the clients of every service agentctl uses.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction, RetryClassifierPriority};

use crate::error::{sdk, Error, Meaning};

/// AWS settings from the command line. Credentials always come from the
/// standard chain (environment, profiles, SSO, IMDS).
#[derive(Debug, Clone, Default)]
pub struct AwsSettings {
    pub profile: Option<String>,
    /// Overrides every service endpoint (a local emulator); the SDK also reads
    /// `AWS_ENDPOINT_URL` itself.
    pub endpoint_url: Option<String>,
}

/// The clients of every service agentctl uses, for one region. Building them
/// sends no request: day-2 commands (scale, redeploy, rollback, tasks, logs)
/// need nothing more, which saves them a round trip.
#[derive(Clone, Debug)]
pub struct Clients {
    pub region: String,
    /// For clients made on demand (rarely used services).
    pub sdk_config: aws_types::SdkConfig,
    /// AWS's endpoint is overridden (an emulator): nothing else off this machine
    /// is contacted (see `registry`).
    pub custom_endpoint: bool,
    pub ec2: aws_sdk_ec2::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub iam: aws_sdk_iam::Client,
    pub s3: aws_sdk_s3::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub sts: aws_sdk_sts::Client,
    pub autoscaling: aws_sdk_applicationautoscaling::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub quotas: aws_sdk_servicequotas::Client,
    pub cloudmap: aws_sdk_servicediscovery::Client,
    /// The Resource Groups Tagging API: `list` finds deployments by their tag.
    pub tagging: aws_sdk_resourcegroupstagging::Client,
}

/// The clients, and the account and caller they act as (one round trip to
/// STS): what every command that builds or names the stack needs.
#[derive(Clone, Debug)]
pub struct Aws {
    pub clients: Clients,
    pub account_id: String,
    /// Who agentctl acts as (for the lock holder and error messages).
    pub caller_arn: String,
    /// Available zones of the region for this account, sorted.
    pub availability_zones: Vec<String>,
}

impl std::ops::Deref for Aws {
    type Target = Clients;
    fn deref(&self) -> &Clients {
        &self.clients
    }
}

/// A client of `$service` for `$config`, failing fast when AWS is unreachable.
macro_rules! client {
    ($service:ident, $config:expr) => {
        $service::Client::from_conf(
            $service::config::Builder::from($config).retry_classifier(FailFastWhenUnreachable).build(),
        )
    };
}

/// A connection refused, or a host name that does not resolve, does not heal in
/// the seconds the standard strategy would retry for (measured: 23 s before
/// `status` failed): no retry, so the user hears at once what to check.
#[derive(Debug)]
struct FailFastWhenUnreachable;

impl ClassifyRetry for FailFastWhenUnreachable {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        match ctx.output_or_error() {
            Some(Err(e)) if e.as_connector_error().is_some_and(|c| crate::error::is_unreachable(c)) => {
                RetryAction::RetryForbidden
            }
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "FailFastWhenUnreachable"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

impl AwsSettings {
    /// The region the SDK's default chain gives (AWS_REGION, AWS_DEFAULT_REGION,
    /// the profile's `region`, instance metadata), for commands that work
    /// without a config. Sends no request to AWS (instance metadata aside).
    pub async fn default_region(&self) -> Option<String> {
        let mut chain = aws_config::default_provider::region::DefaultRegionChain::builder();
        if let Some(profile) = &self.profile {
            chain = chain.profile_name(profile);
        }
        chain.build().region().await.map(|r| r.to_string())
    }
}

impl Aws {
    /// Builds the clients and asks STS who we are: one round trip, and the
    /// account id every ARN and the bucket name needs.
    pub async fn connect(settings: &AwsSettings, region: &str) -> Result<Aws, Error> {
        let clients = Clients::new(settings, region).await;
        let (account_id, caller_arn, availability_zones) = identify(&clients).await?;
        Ok(Aws { clients, account_id, caller_arn, availability_zones })
    }
}

impl Clients {
    pub async fn new(settings: &AwsSettings, region: &str) -> Clients {
        // Throttling and transient errors are retried by the SDK's standard
        // strategy (exponential backoff with jitter); we do not hand-roll it.
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .retry_config(RetryConfig::standard().with_max_attempts(8).with_max_backoff(Duration::from_secs(10)))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(Duration::from_secs(30))
                    .build(),
            );
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let config = loader.load().await;
        // AWS_ENDPOINT_URL, or a service's own (AWS_ENDPOINT_URL_S3, ...).
        let env_endpoint = std::env::vars().find(|(k, _)| k.starts_with("AWS_ENDPOINT_URL"));
        let custom_endpoint = settings.endpoint_url.is_some() || env_endpoint.is_some();
        crate::error::set_endpoint(match (&settings.endpoint_url, &env_endpoint) {
            (Some(url), _) => format!("{url} (--endpoint-url)"),
            (None, Some((var, url))) => format!("{url} ({var})"),
            (None, None) => format!("AWS's endpoints in {region}"),
        });
        Clients::from_config(config, region, custom_endpoint)
    }

    /// The same clients in `region`: the same credentials (one provider and
    /// its cache, not a new chain per region), profile, endpoint (an emulator
    /// serves every region), retries and timeouts. Sends no request.
    pub fn in_region(&self, region: &str) -> Clients {
        let config = self.sdk_config.to_builder().region(Region::new(region.to_owned())).build();
        Clients::from_config(config, region, self.custom_endpoint)
    }

    fn from_config(config: aws_types::SdkConfig, region: &str, custom_endpoint: bool) -> Clients {
        // Emulators serve buckets by path, not by virtual host.
        let s3_config = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(custom_endpoint)
            .retry_classifier(FailFastWhenUnreachable)
            .build();
        Clients {
            region: region.to_owned(),
            custom_endpoint,
            sdk_config: config.clone(),
            ec2: client!(aws_sdk_ec2, &config),
            ecs: client!(aws_sdk_ecs, &config),
            iam: client!(aws_sdk_iam, &config),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            secrets: client!(aws_sdk_secretsmanager, &config),
            logs: client!(aws_sdk_cloudwatchlogs, &config),
            ssm: client!(aws_sdk_ssm, &config),
            sts: client!(aws_sdk_sts, &config),
            autoscaling: client!(aws_sdk_applicationautoscaling, &config),
            cloudwatch: client!(aws_sdk_cloudwatch, &config),
            quotas: client!(aws_sdk_servicequotas, &config),
            cloudmap: client!(aws_sdk_servicediscovery, &config),
            tagging: client!(aws_sdk_resourcegroupstagging, &config),
        }
    }

    /// ECR in `region` (a repository lives in one region, maybe not ours).
    pub(crate) fn ecr_in(&self, region: &str) -> aws_sdk_ecr::Client {
        aws_sdk_ecr::Client::from_conf(
            aws_sdk_ecr::config::Builder::from(&self.sdk_config)
                .region(Region::new(region.to_owned()))
                .retry_classifier(FailFastWhenUnreachable)
                .build(),
        )
    }
}

/// Who we are (account, caller) and where new subnets can go: one wave, both
/// needed by the model.
async fn identify(c: &Clients) -> Result<(String, String, Vec<String>), Error> {
    {
        let sts = &c.sts;
        let zone_filter =
            |name: &str, value: &str| aws_sdk_ec2::types::Filter::builder().name(name).values(value).build();
        let (who, zones) = tokio::join!(
            sts.get_caller_identity().send(),
            c.ec2
                .describe_availability_zones()
                .filters(zone_filter("state", "available"))
                .filters(zone_filter("zone-type", "availability-zone"))
                .send()
        );
        // Whatever STS says, these credentials cannot be used.
        let who = who.map_err(|e| match sdk("asking STS who the caller is")(e) {
            Error::Aws(e) if e.meaning != Meaning::Unreachable && e.meaning != Meaning::TimedOut => {
                Error::Credentials(e)
            }
            other => other,
        })?;
        let mut availability_zones: Vec<String> = zones
            .map_err(sdk("listing Availability Zones"))?
            .availability_zones()
            .iter()
            .filter_map(|z| z.zone_name().map(str::to_owned))
            .collect();
        availability_zones.sort();
        Ok((who.account().unwrap_or_default().to_owned(), who.arn().unwrap_or_default().to_owned(), availability_zones))
    }
}

#[cfg(test)]
impl Aws {
    /// Clients that reach nothing, for adapter unit tests: each replaces the
    /// client it tests with a mock of recorded responses.
    pub(crate) fn unreachable() -> Aws {
        let config = aws_types::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .build();
        let clients = Clients {
            region: "us-east-1".into(),
            custom_endpoint: true,
            sdk_config: config.clone(),
            ec2: aws_sdk_ec2::Client::new(&config),
            ecs: aws_sdk_ecs::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            s3: aws_sdk_s3::Client::new(&config),
            secrets: aws_sdk_secretsmanager::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            ssm: aws_sdk_ssm::Client::new(&config),
            sts: aws_sdk_sts::Client::new(&config),
            autoscaling: aws_sdk_applicationautoscaling::Client::new(&config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
            quotas: aws_sdk_servicequotas::Client::new(&config),
            cloudmap: aws_sdk_servicediscovery::Client::new(&config),
            tagging: aws_sdk_resourcegroupstagging::Client::new(&config),
        };
        Aws {
            clients,
            account_id: "123456789012".into(),
            caller_arn: "arn:aws:iam::123456789012:user/test".into(),
            availability_zones: vec!["us-east-1a".into(), "us-east-1b".into()],
        }
    }
}
