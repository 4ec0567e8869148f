//! Errors of the AWS layer. Each carries what agentctl was doing, so an AWS error
//! arrives with context ("creating IAM role x: AccessDenied: ..."), and what it
//! means to agentctl, read once from AWS's error code by [`meaning`].

use std::sync::OnceLock;

use agentctl_core::plan::Foreign;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach AWS: {0}")]
    Credentials(ApiError),

    #[error("{0}")]
    Aws(ApiError),

    #[error("{}", foreign_message(.0))]
    Foreign(Vec<Foreign>),

    #[error("deployment `{deployment}` is locked by {holder} ({operation}) since {since}")]
    Locked { deployment: String, holder: String, operation: String, since: String, lock_id: String },

    #[error("{what}: gave up after {waited_secs} s: {last}")]
    GaveUp { what: String, waited_secs: u64, last: String },

    #[error("S3 bucket {bucket} is not empty ({objects} objects or versions)")]
    BucketNotEmpty { bucket: String, objects: usize },

    #[error("{0}")]
    Unsupported(String),

    #[error("{0}")]
    NotDeployed(String),

    /// A service others wait for (the script runner) did not become steady:
    /// what depends on it was left as it was.
    #[error("ECS service {service} did not become steady, so nothing that depends on it was changed: {}", outcome_text(&.report.outcome))]
    NotSteady { service: String, role: agentctl_core::model::ServiceRole, report: Box<crate::rollout::WatchReport> },

    /// The config does not fit what AWS holds; found before any change.
    #[error("{message}")]
    Input { message: String, help: String },

    #[error("interrupted: stopped launching new operations; in-flight ones finished")]
    Interrupted,

    #[error("{failed} of {total} operations failed; {done} done, {not_started} not started")]
    Incomplete { failed: usize, total: usize, done: usize, not_started: usize, errors: Vec<String> },
}

/// What an error from AWS (or from the way to it) means to agentctl.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Meaning {
    NotFound,
    /// An optional setting of a resource that exists (a bucket's tags, policy,
    /// encryption, lifecycle) is not set.
    NotSet,
    /// The name is taken by someone else (S3 bucket names are global).
    NameTaken,
    /// Already exists, or already attached, associated or authorized.
    AlreadyExists,
    /// Still used by something else (a VPC with dependents, a cluster with services).
    InUse,
    /// A secret in its recovery window: it can be restored.
    PendingDeletion,
    /// ECS cannot use a role it was just given yet (IAM is eventually consistent).
    RoleNotYetUsable,
    /// An ECS service of that name is still draining.
    Draining,
    /// The caller may not; `action` when AWS names it.
    AccessDenied {
        action: Option<String>,
    },
    InvalidCredentials,
    Throttled,
    /// No connection to the endpoint: refused, or its name did not resolve.
    Unreachable,
    TimedOut,
    Other,
}

/// A failed AWS call: what agentctl was doing, AWS's code and message (or what
/// went wrong before AWS answered), its meaning, and the SDK's error as source.
#[derive(Debug)]
pub struct ApiError {
    pub action: String,
    pub code: Option<String>,
    pub message: String,
    pub meaning: Meaning,
    source: Option<BoxError>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{}: {code}: {}", self.action, self.message),
            None => write!(f, "{}: {}", self.action, self.message),
        }
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl ApiError {
    /// An error AWS answered with `code` and `message`, read by [`meaning`].
    pub fn new(action: impl Into<String>, code: &str, message: impl Into<String>) -> ApiError {
        let message = message.into();
        ApiError {
            action: action.into(),
            meaning: meaning(code, &message),
            code: Some(code.to_owned()),
            message,
            source: None,
        }
    }

    /// A failure of agentctl's own making (an answer without what it must hold).
    pub fn other(action: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError { action: action.into(), code: None, message: message.into(), meaning: Meaning::Other, source: None }
    }
}

/// The one table from AWS's error codes to their meaning. Where AWS gives one
/// code to several conditions (ECS's InvalidParameterException, Secrets
/// Manager's InvalidRequestException), its message tells them apart: here and
/// nowhere else.
pub fn meaning(code: &str, message: &str) -> Meaning {
    use Meaning::*;
    let lower = message.to_ascii_lowercase();
    match code {
        "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "InvalidAccessKeyId"
        | "SignatureDoesNotMatch"
        | "AuthFailure" => InvalidCredentials,
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" | "Forbidden" | "AuthorizationError" => {
            AccessDenied { action: denied_action(message) }
        }
        "Throttling"
        | "ThrottlingException"
        | "RequestLimitExceeded"
        | "TooManyRequestsException"
        | "SlowDown"
        | "RequestThrottled"
        | "ThrottledException" => Throttled,
        "NoSuchTagSet"
        | "NoSuchPublicAccessBlockConfiguration"
        | "ServerSideEncryptionConfigurationNotFoundError"
        | "OwnershipControlsNotFoundError"
        | "NoSuchBucketPolicy"
        | "NoSuchLifecycleConfiguration" => NotSet,
        "BucketAlreadyExists" => NameTaken,
        // EC2 `X.NotFound`, ECS `ClusterNotFoundException`, S3 `NoSuchBucket`, IAM
        // `NoSuchEntity`, SSM `ParameterNotFound`, CloudWatch `ResourceNotFound`.
        c if c.ends_with(".NotFound")
            || c.ends_with("NotFoundException")
            || c.ends_with("NotFoundError")
            || c.starts_with("NoSuch") =>
        {
            NotFound
        }
        "NotFound" | "ResourceNotFound" | "ParameterNotFound" => NotFound,
        // Cloud Map.
        "NamespaceNotFound" | "ServiceNotFound" | "OperationNotFound" => NotFound,
        // A detach that finds nothing attached.
        "Gateway.NotAttached" => NotFound,
        // ECS describing a task definition family that has none.
        "ClientException" if lower.contains("unable to describe task definition") => NotFound,
        // CloudWatch's GetDashboard on a missing dashboard (some endpoints).
        "InvalidParameterValue" | "ValidationError" if lower.contains("does not exist") => NotFound,
        c if c.ends_with("AlreadyExists") || c.ends_with("AlreadyExistsException") => AlreadyExists,
        "EntityAlreadyExists"
        | "BucketAlreadyOwnedByYou"
        | "ResourceExistsException"
        | "RouteAlreadyExists"
        | "InvalidPermission.Duplicate"
        | "Resource.AlreadyAssociated"
        | "InvalidGroup.Duplicate" => AlreadyExists,
        // A subnet's CIDR taken in its VPC.
        "InvalidSubnet.Conflict" => AlreadyExists,
        "DependencyViolation"
        | "ClusterContainsServicesException"
        | "ClusterContainsTasksException"
        | "ResourceInUseException"
        | "ResourceInUse" => InUse,
        "InvalidRequestException"
            if lower.contains("scheduled for deletion") || lower.contains("marked for deletion") =>
        {
            PendingDeletion
        }
        "InvalidParameterException" if lower.contains("draining") => Draining,
        "InvalidParameterException" if lower.contains("assume") || lower.contains("service linked role") => {
            RoleNotYetUsable
        }
        _ => Other,
    }
}

/// `ecs:CreateService` from "... is not authorized to perform: ecs:CreateService on ...".
fn denied_action(message: &str) -> Option<String> {
    let rest = message.split_once("perform: ")?.1;
    let action: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == ':' || *c == '-').collect();
    action.contains(':').then_some(action)
}

fn foreign_message(list: &[Foreign]) -> String {
    let items: Vec<String> = list
        .iter()
        .map(|f| {
            let owner = match &f.owner {
                Some(o) => format!("it belongs to deployment `{o}`"),
                None => "it has no agentctl ownership tag".to_owned(),
            };
            format!("{} {} ({}): {owner}", f.kind, f.name, f.id)
        })
        .collect();
    format!("resources with this deployment's names exist but were not created by it; agentctl will not modify or delete them:\n  - {}", items.join("\n  - "))
}

impl Error {
    /// What an AWS error means; `None` for errors of agentctl's own.
    pub fn meaning(&self) -> Option<&Meaning> {
        match self {
            Error::Aws(e) | Error::Credentials(e) => Some(&e.meaning),
            _ => None,
        }
    }

    /// What lies under an AWS error (the SDK's error and its causes), as
    /// sentences, outermost first: for `-v`.
    pub fn causes(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Error::NotSteady { report, .. } = self {
            out.extend(report.diagnoses.iter().map(|d| format!("{} × {}: {}", d.count, d.reason, d.likely_cause)));
            out.extend(report.last_log_lines.iter().map(|l| format!("| {l}")));
        }
        if let Error::Aws(e) | Error::Credentials(e) = self {
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                let text = c.to_string();
                if !out.contains(&text) {
                    out.push(text);
                }
                cause = c.source();
            }
        }
        out
    }

    pub fn is(&self, meaning: Meaning) -> bool {
        self.meaning() == Some(&meaning)
    }

    /// How to fix it, when there is something the user can do.
    pub fn help(&self) -> Option<String> {
        Some(match self {
            Error::Credentials(_) => {
                "check credentials (aws sts get-caller-identity), --profile, --region and --endpoint-url".into()
            }
            Error::Aws(e) => match &e.meaning {
                Meaning::Unreachable | Meaning::TimedOut => format!(
                    "check that {} is right and reachable from here: --region, --endpoint-url (or AWS_ENDPOINT_URL), HTTPS_PROXY, the network",
                    endpoint()
                ),
                Meaning::AccessDenied { action: Some(action) } => format!(
                    "the caller may not {action}: `agentctl iam-policy` prints the policy agentctl needs"
                ),
                Meaning::AccessDenied { action: None } => {
                    "the caller lacks a permission: `agentctl iam-policy` prints the policy agentctl needs".into()
                }
                _ => return None,
            },
            Error::Foreign(_) => {
                "choose another `name` in the config, or remove/rename those resources yourself if they are leftovers"
                    .into()
            }
            Error::Locked { lock_id, .. } => format!(
                "wait for that run to finish; if it was killed, remove the stale lock with `agentctl unlock {lock_id}`"
            ),
            Error::BucketNotEmpty { .. } => "copy what you need, then run destroy with --empty-bucket".into(),
            Error::Incomplete { errors, .. } => format!(
                "fix the first error and run the same command again; it continues where this one stopped.\n{}",
                errors.join("\n")
            ),
            Error::Interrupted => "run the same command again to finish".into(),
            Error::Input { help, .. } => help.clone(),
            Error::NotSteady { role, report, .. } => match report.diagnoses.first() {
                Some(d) => format!("{}; then run apply again", d.fix),
                None => format!(
                    "see `agentctl tasks --service {0}` and `agentctl logs --service {0}`, then run apply again",
                    role.as_str()
                ),
            },
            Error::NotDeployed(_) => "run `agentctl apply` first (or check --region and -c)".into(),
            _ => return None,
        })
    }

    /// An error of agentctl's own making while doing `action`.
    pub fn aws(action: impl Into<String>, err: impl std::fmt::Display) -> Self {
        Error::Aws(ApiError::other(action, err.to_string()))
    }
}

fn outcome_text(outcome: &crate::rollout::Outcome) -> String {
    use crate::rollout::Outcome;
    match outcome {
        Outcome::Completed => "it completed".into(),
        Outcome::RolledBack { reason, .. } => format!("its deployment failed and ECS rolled it back: {reason}"),
        Outcome::Failed { reason } => format!("its deployment failed: {reason}"),
        Outcome::Superseded { .. } => "another deployment replaced it before it finished".into(),
        Outcome::TimedOut { waited_secs } => format!("it was still in progress after {waited_secs} s"),
    }
}

/// Where AWS calls go, for messages about not reaching it: set once when the
/// clients are built.
static ENDPOINT: OnceLock<String> = OnceLock::new();

pub(crate) fn set_endpoint(description: String) {
    let _ = ENDPOINT.set(description);
}

fn endpoint() -> &'static str {
    ENDPOINT.get().map_or("the AWS endpoint", String::as_str)
}

/// Wraps an SDK error with what we were doing; keeps AWS's code, message and
/// the error itself (as source).
pub(crate) fn sdk<E>(action: impl Into<String>) -> impl FnOnce(SdkError<E>) -> Error
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let action = action.into();
    move |e| {
        let (code, message) = match &e {
            SdkError::ServiceError(se) if se.err().code().is_some() || se.err().message().is_some() => {
                (se.err().code().map(str::to_owned), se.err().message().unwrap_or_default().to_owned())
            }
            // An error body the SDK could not read (an XML error from a JSON
            // service, as emulators and proxies send): take what it says.
            SdkError::ServiceError(se) => unread_body(se.raw()),
            SdkError::DispatchFailure(d) if d.is_io() => {
                let err = ApiError {
                    action,
                    code: None,
                    message: format!("cannot connect to {}: {}", endpoint(), innermost(&e)),
                    meaning: Meaning::Unreachable,
                    source: Some(Box::new(e)),
                };
                return Error::Aws(err);
            }
            SdkError::DispatchFailure(d) if d.is_timeout() => (None, format!("no answer from {} in time", endpoint())),
            SdkError::TimeoutError(_) => (None, format!("no answer from {} in time", endpoint())),
            // Likewise when the SDK could not even tell it was an error.
            SdkError::ResponseError(r) => unread_body(r.raw()),
            _ => (None, sentences(&e)),
        };
        let timed_out =
            matches!(&e, SdkError::TimeoutError(_)) || matches!(&e, SdkError::DispatchFailure(d) if d.is_timeout());
        let meaning = match (&code, timed_out) {
            (_, true) => Meaning::TimedOut,
            (Some(code), _) => meaning(code, &message),
            (None, _) => Meaning::Other,
        };
        let err = ApiError { action, code, message, meaning, source: Some(Box::new(e)) };
        // Bad or expired credentials show on whichever call comes first (day-2
        // commands make no STS call): say so, with the fix.
        if err.meaning == Meaning::InvalidCredentials {
            Error::Credentials(err)
        } else {
            Error::Aws(err)
        }
    }
}

type SdkError<E> = aws_smithy_runtime_api::client::result::SdkError<E, HttpResponse>;

/// No connection could be made: refused, or the host name did not resolve.
/// Other I/O failures (a reset, a dropped answer) may heal and are retried.
pub(crate) fn is_unreachable(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            if matches!(io.kind(), std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::AddrNotAvailable) {
                return true;
            }
        }
        // hyper's connector says "dns error" for a name that does not resolve;
        // the resolver's own error has no distinct kind.
        if c.to_string() == "dns error" {
            return true;
        }
        cause = c.source();
    }
    false
}

/// The error's causes as sentences, outermost first (never `Debug`).
fn sentences(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// The deepest cause: for a failed connection, the operating system's words
/// ("Connection refused (os error 111)", "failed to lookup address information").
fn innermost(e: &dyn std::error::Error) -> String {
    let mut last = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    last
}

type HttpResponse = aws_smithy_runtime_api::client::orchestrator::HttpResponse;

/// Code and message from an XML error body, else only the HTTP status and
/// content type: an unknown body might echo the request, which can hold a
/// credential.
fn unread_body(r: &HttpResponse) -> (Option<String>, String) {
    let body = String::from_utf8_lossy(r.body().bytes().unwrap_or_default()).into_owned();
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let start = body.find(&open)? + open.len();
        let len = body[start..].find(&format!("</{name}>"))?;
        Some(
            body[start..start + len]
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
        )
    };
    match (tag("Code"), tag("Message")) {
        (Some(code), message) => (Some(code), message.unwrap_or_default()),
        (None, _) => (
            None,
            format!(
                "HTTP {} with an error body that could not be read ({})",
                r.status().as_u16(),
                r.headers().get("content-type").unwrap_or("no content type")
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;

    fn response(status: u16, body: &str) -> super::HttpResponse {
        Response::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body.to_owned()))
    }

    #[test]
    fn reads_code_and_message_from_an_xml_error_body() {
        let r = response(
            403,
            "<?xml version=\"1.0\"?><ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>User: arn:aws:iam::1:user/op is not authorized to perform: ecs:CreateService</Message></Error></Errors></ErrorResponse>",
        );
        let (code, message) = super::unread_body(&r);
        assert_eq!(code.as_deref(), Some("AccessDenied"));
        assert_eq!(message, "User: arn:aws:iam::1:user/op is not authorized to perform: ecs:CreateService");
        // Anything else: never the body itself.
        assert_eq!(
            super::unread_body(&response(400, "echo: client_secret=s3cr3t")),
            (None, "HTTP 400 with an error body that could not be read (no content type)".to_owned())
        );
    }

    #[test]
    fn the_table_reads_each_code_once() {
        use super::{meaning, Meaning::*};
        for (code, message, expected) in [
            ("NoSuchEntity", "", NotFound),
            ("InvalidVpcID.NotFound", "", NotFound),
            ("ClusterNotFoundException", "", NotFound),
            ("ParameterNotFound", "", NotFound),
            ("ClientException", "Unable to describe task definition.", NotFound),
            ("ClientException", "Too many tags", Other),
            ("EntityAlreadyExists", "", AlreadyExists),
            ("ResourceAlreadyExistsException", "", AlreadyExists),
            ("ParameterAlreadyExists", "", AlreadyExists),
            ("InvalidPermission.Duplicate", "", AlreadyExists),
            ("DependencyViolation", "", InUse),
            (
                "InvalidRequestException",
                "You can't create this secret because a secret with this name is already scheduled for deletion.",
                PendingDeletion,
            ),
            ("InvalidRequestException", "something else", Other),
            ("InvalidParameterException", "Unable to Start a service that is still Draining.", Draining),
            ("InvalidParameterException", "ECS was unable to assume the role 'arn:...'", RoleNotYetUsable),
            ("InvalidParameterException", "Invalid CPU", Other),
            ("ExpiredToken", "", InvalidCredentials),
            ("ThrottlingException", "", Throttled),
            ("NoSuchBucket", "", NotFound),
            ("NoSuchTagSet", "", NotSet),
            ("ServerSideEncryptionConfigurationNotFoundError", "", NotSet),
            ("BucketAlreadyOwnedByYou", "", AlreadyExists),
            ("BucketAlreadyExists", "", NameTaken),
        ] {
            assert_eq!(meaning(code, message), expected, "{code}: {message}");
        }
        assert_eq!(
            meaning(
                "AccessDeniedException",
                "User: arn:aws:iam::1:user/op is not authorized to perform: ssm:PutParameter on resource"
            ),
            AccessDenied { action: Some("ssm:PutParameter".into()) }
        );
        assert_eq!(meaning("AccessDenied", "Access Denied"), AccessDenied { action: None });
    }
}
