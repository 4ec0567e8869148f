//! Errors of the AWS layer. Each carries what agentctl was doing, so an AWS error
//! arrives with context ("creating IAM role x: AccessDenied: ...").

use agentctl_core::plan::Foreign;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach AWS: {0}")]
    Credentials(String),

    #[error("{action}: {message}")]
    Aws { action: String, message: String },

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

    #[error("interrupted: stopped launching new operations; in-flight ones finished")]
    Interrupted,

    #[error("{failed} of {total} operations failed; {done} done, {not_started} not started")]
    Incomplete { failed: usize, total: usize, done: usize, not_started: usize, errors: Vec<String> },
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
    /// How to fix it, when there is something the user can do.
    pub fn help(&self) -> Option<String> {
        Some(match self {
            Error::Credentials(_) => {
                "check credentials (aws sts get-caller-identity), --profile, --region and --endpoint-url".into()
            }
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
            Error::NotDeployed(_) => "run `agentctl apply` first (or check --region and -c)".into(),
            _ => return None,
        })
    }

    pub fn aws(action: impl Into<String>, err: impl std::fmt::Display) -> Self {
        Error::Aws { action: action.into(), message: err.to_string() }
    }
}

/// Wraps an SDK error with what we were doing; keeps AWS's code and message.
pub(crate) fn sdk<E>(
    action: impl Into<String>,
) -> impl FnOnce(aws_smithy_runtime_api::client::result::SdkError<E, HttpResponse>) -> Error
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let action = action.into();
    move |e| {
        let message = match e.as_service_error() {
            Some(se) if se.code().is_some() || se.message().is_some() => {
                format!("{}: {}", se.code().unwrap_or("error"), se.message().unwrap_or(""))
            }
            // An error body the SDK could not read (an XML error from a JSON
            // service, as emulators and proxies send): take what it says.
            Some(_) => e.raw_response().map_or_else(|| "error: (no details)".to_owned(), unread_body),
            None => format!("{}", aws_smithy_types::error::display::DisplayErrorContext(&e)),
        };
        // Bad or expired credentials show on whichever call comes first (day-2
        // commands make no STS call): say so, with the fix.
        if CREDENTIAL_CODES.iter().any(|c| message.starts_with(&format!("{c}:"))) {
            return Error::Credentials(format!("{action}: {message}"));
        }
        Error::Aws { action, message }
    }
}

/// Error codes that mean "these credentials are not valid", across protocols.
const CREDENTIAL_CODES: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AuthFailure",
];

type HttpResponse = aws_smithy_runtime_api::client::orchestrator::HttpResponse;

/// `Code: Message` from an XML error body, else only the HTTP status and content
/// type: an unknown body might echo the request, which can hold a credential.
fn unread_body(r: &HttpResponse) -> String {
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
        (Some(code), message) => format!("{code}: {}", message.unwrap_or_default()),
        (None, _) => format!(
            "HTTP {} with an error body that could not be read ({})",
            r.status().as_u16(),
            r.headers().get("content-type").unwrap_or("no content type")
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
        assert_eq!(
            super::unread_body(&r),
            "AccessDenied: User: arn:aws:iam::1:user/op is not authorized to perform: ecs:CreateService"
        );
        // Anything else: never the body itself.
        assert_eq!(
            super::unread_body(&response(400, "echo: client_secret=s3cr3t")),
            "HTTP 400 with an error body that could not be read (no content type)"
        );
    }
}
