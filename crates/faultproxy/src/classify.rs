//! Which AWS service and operation a request is, and which wire protocol it
//! speaks (which decides the shape of an injected error).
//!
//! - service: the SigV4 credential scope (`Credential=AKID/DATE/REGION/SERVICE/aws4_request`
//!   in `Authorization`, or `X-Amz-Credential` in a presigned query);
//! - operation: `X-Amz-Target` (awsJson: ECS, Logs, Secrets Manager, SSM,
//!   Application Auto Scaling), the `Action` form field (query: EC2, IAM, STS),
//!   S3's method + path + sub-resource (REST-XML), else `rest`.

/// The protocol an AWS service speaks; it decides how an error looks on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// awsJson1_0 / awsJson1_1: `X-Amz-Target` + JSON body; errors are
    /// `x-amzn-ErrorType` + `{"__type": ...}`.
    AwsJson,
    /// awsQuery (IAM, STS, ...): form body with `Action=`; errors are
    /// `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`.
    AwsQuery,
    /// ec2Query: like awsQuery on the way in, but errors are
    /// `<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`.
    Ec2Query,
    /// S3's REST-XML: errors are an unwrapped `<Error><Code/><Message/>...</Error>`.
    RestXmlS3,
    /// Anything else (REST-JSON services, unsigned calls): errors as `x-amzn-ErrorType` + JSON.
    Rest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub service: String,
    pub operation: String,
    pub protocol: Protocol,
}

impl Call {
    /// `service.Operation`, the key request counts are kept under.
    pub fn key(&self) -> String {
        format!("{}.{}", self.service, self.operation)
    }
}

/// Classifies one request. `headers` are (name, value) pairs as received; names
/// compare case-insensitively.
pub fn classify(method: &str, target: &str, headers: &[(String, String)], body: &[u8]) -> Call {
    let header = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query_pairs = parse_form(query);
    let service = header("authorization")
        .and_then(scope_service)
        .or_else(|| query_pairs.iter().find(|(k, _)| k == "X-Amz-Credential").and_then(|(_, v)| credential_service(v)))
        .unwrap_or_else(|| "unknown".to_owned());

    if let Some(t) = header("x-amz-target") {
        let operation = t.rsplit('.').next().unwrap_or(t).to_owned();
        return Call { service, operation, protocol: Protocol::AwsJson };
    }
    let form_action = || {
        let is_form = header("content-type").is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        let from_body = if is_form || method == "POST" {
            std::str::from_utf8(body).ok().and_then(|b| parse_form(b).into_iter().find(|(k, _)| k == "Action"))
        } else {
            None
        };
        from_body.or_else(|| query_pairs.iter().find(|(k, _)| k == "Action").cloned()).map(|(_, v)| v)
    };
    if service == "s3" {
        return Call {
            operation: s3_operation(method, path, &query_pairs, header),
            service,
            protocol: Protocol::RestXmlS3,
        };
    }
    if let Some(action) = form_action() {
        let protocol = if service == "ec2" { Protocol::Ec2Query } else { Protocol::AwsQuery };
        return Call { service, operation: action, protocol };
    }
    let protocol = if service == "ec2" { Protocol::Ec2Query } else { Protocol::Rest };
    Call { service, operation: "rest".to_owned(), protocol }
}

/// The service of a SigV4 `Authorization` header.
fn scope_service(authorization: &str) -> Option<String> {
    let at = authorization.find("Credential=")? + "Credential=".len();
    let scope = authorization[at..].split([',', ' ']).next()?;
    credential_service(scope)
}

/// `AKID/DATE/REGION/SERVICE/aws4_request` -> SERVICE.
fn credential_service(scope: &str) -> Option<String> {
    let parts: Vec<&str> = scope.split('/').collect();
    (parts.len() >= 5 && parts[parts.len() - 1] == "aws4_request").then(|| parts[parts.len() - 2].to_owned())
}

/// `a=1&b=x%2Fy` -> [(a, 1), (b, x/y)]; a key without `=` gets an empty value.
pub fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// S3 sub-resources whose presence in the query names the operation.
const S3_SUBRESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "delete",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "tagging",
    "uploads",
    "versioning",
    "versions",
    "website",
];

/// S3 operation from method, path-style path and query, roughly as the S3
/// API reference names them (`PUT /bucket?tagging` -> PutBucketTagging).
fn s3_operation<'a>(
    method: &str,
    path: &str,
    query: &[(String, String)],
    header: impl Fn(&str) -> Option<&'a str>,
) -> String {
    // The Rust SDK names some operations itself (`?x-id=PutObject`).
    if let Some((_, id)) = query.iter().find(|(k, _)| k == "x-id") {
        return id.clone();
    }
    let trimmed = path.trim_start_matches('/');
    let (bucket, key) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    let has = |name: &str| query.iter().any(|(k, _)| k == name);
    let sub = S3_SUBRESOURCES.iter().find(|s| has(s)).copied();
    let verb = match method {
        "GET" => "Get",
        "PUT" => "Put",
        "DELETE" => "Delete",
        "HEAD" => "Head",
        "POST" => "Post",
        other => other,
    };
    if bucket.is_empty() {
        return if method == "GET" { "ListBuckets".into() } else { format!("{verb}Service") };
    }
    if key.is_empty() {
        return match (method, sub) {
            ("GET", None) if query.iter().any(|(k, v)| k == "list-type" && v == "2") => "ListObjectsV2".into(),
            ("GET", None) => "ListObjects".into(),
            ("PUT", None) => "CreateBucket".into(),
            ("DELETE", None) => "DeleteBucket".into(),
            ("HEAD", None) => "HeadBucket".into(),
            (_, None) => format!("{verb}Bucket"),
            ("GET", Some("location")) => "GetBucketLocation".into(),
            ("POST", Some("delete")) => "DeleteObjects".into(),
            ("GET", Some("versions")) => "ListObjectVersions".into(),
            ("GET", Some("uploads")) => "ListMultipartUploads".into(),
            ("GET", Some("policyStatus")) => "GetBucketPolicyStatus".into(),
            (_, Some("publicAccessBlock")) => format!("{verb}PublicAccessBlock"),
            (_, Some("object-lock")) => format!("{verb}ObjectLockConfiguration"),
            ("DELETE", Some("lifecycle")) => "DeleteBucketLifecycle".into(),
            (_, Some("lifecycle")) => format!("{verb}BucketLifecycleConfiguration"),
            (_, Some("notification")) => format!("{verb}BucketNotificationConfiguration"),
            (_, Some(s)) => format!("{verb}Bucket{}", capitalize(s)),
        };
    }
    if has("uploadId") {
        return match method {
            "PUT" => "UploadPart",
            "POST" => "CompleteMultipartUpload",
            "DELETE" => "AbortMultipartUpload",
            _ => "ListParts",
        }
        .into();
    }
    match (method, sub) {
        ("POST", Some("uploads")) => "CreateMultipartUpload".into(),
        (_, Some("tagging")) => format!("{verb}ObjectTagging"),
        (_, Some("acl")) => format!("{verb}ObjectAcl"),
        ("PUT", _) if header("x-amz-copy-source").is_some() => "CopyObject".into(),
        _ => format!("{verb}Object"),
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(service: &str) -> (String, String) {
        (
            "authorization".into(),
            format!(
                "AWS4-HMAC-SHA256 Credential=testing/20260105/us-east-1/{service}/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date, Signature=0f9c3e"
            ),
        )
    }

    fn h(k: &str, v: &str) -> (String, String) {
        (k.into(), v.into())
    }

    #[test]
    fn json_protocol_services_use_the_target_header() {
        let cases = [
            ("ecs", "AmazonEC2ContainerServiceV20141113.DescribeServices", "DescribeServices"),
            ("logs", "Logs_20140328.CreateLogGroup", "CreateLogGroup"),
            ("secretsmanager", "secretsmanager.GetSecretValue", "GetSecretValue"),
            ("ssm", "AmazonSSM.PutParameter", "PutParameter"),
            ("application-autoscaling", "AnyScaleFrontendService.RegisterScalableTarget", "RegisterScalableTarget"),
        ];
        for (svc, target, op) in cases {
            let headers = vec![auth(svc), h("Content-Type", "application/x-amz-json-1.1"), h("X-Amz-Target", target)];
            let c = classify("POST", "/", &headers, br#"{"cluster":"x"}"#);
            assert_eq!(c, Call { service: svc.into(), operation: op.into(), protocol: Protocol::AwsJson });
        }
    }

    #[test]
    fn query_protocol_services_use_the_action_field() {
        let form = h("content-type", "application/x-www-form-urlencoded");
        let c = classify(
            "POST",
            "/",
            &[auth("ec2"), form.clone()],
            b"Action=DescribeVpcs&Version=2016-11-15&Filter.1.Name=tag%3Aagentctl%3Adeployment",
        );
        assert_eq!(c, Call { service: "ec2".into(), operation: "DescribeVpcs".into(), protocol: Protocol::Ec2Query });
        let c = classify("POST", "/", &[auth("iam"), form.clone()], b"Action=CreateRole&Version=2010-05-08&RoleName=x");
        assert_eq!(c, Call { service: "iam".into(), operation: "CreateRole".into(), protocol: Protocol::AwsQuery });
        let c = classify("POST", "/", &[auth("sts"), form], b"Action=GetCallerIdentity&Version=2011-06-15");
        assert_eq!(c.key(), "sts.GetCallerIdentity");
        assert_eq!(c.protocol, Protocol::AwsQuery);
        // The action in the URL (GET-style query calls).
        let c = classify("GET", "/?Action=ListRoles&Version=2010-05-08", &[auth("iam")], b"");
        assert_eq!(c.key(), "iam.ListRoles");
    }

    #[test]
    fn s3_operations_from_method_path_and_subresource() {
        let s3 = |method: &str, target: &str| classify(method, target, &[auth("s3")], b"").operation;
        assert_eq!(s3("GET", "/"), "ListBuckets");
        assert_eq!(s3("PUT", "/demo-staging-123-us-east-1"), "CreateBucket");
        assert_eq!(s3("HEAD", "/demo-staging-123-us-east-1"), "HeadBucket");
        assert_eq!(s3("DELETE", "/demo-staging-123-us-east-1"), "DeleteBucket");
        assert_eq!(s3("PUT", "/b?tagging"), "PutBucketTagging");
        assert_eq!(s3("GET", "/b?tagging"), "GetBucketTagging");
        assert_eq!(s3("PUT", "/b?policy"), "PutBucketPolicy");
        assert_eq!(s3("GET", "/b?encryption"), "GetBucketEncryption");
        assert_eq!(s3("PUT", "/b?publicAccessBlock"), "PutPublicAccessBlock");
        assert_eq!(s3("GET", "/b?ownershipControls"), "GetBucketOwnershipControls");
        assert_eq!(s3("GET", "/b?location"), "GetBucketLocation");
        assert_eq!(s3("GET", "/b?list-type=2&prefix=a"), "ListObjectsV2");
        assert_eq!(s3("GET", "/b?versions"), "ListObjectVersions");
        assert_eq!(s3("POST", "/b?delete"), "DeleteObjects");
        assert_eq!(s3("PUT", "/b/some/key.txt"), "PutObject");
        assert_eq!(s3("GET", "/b/k?x-id=GetObject"), "GetObject");
        assert_eq!(s3("DELETE", "/b/k"), "DeleteObject");
        assert_eq!(s3("PUT", "/b/k?tagging"), "PutObjectTagging");
        assert_eq!(s3("PUT", "/b/k?partNumber=1&uploadId=abc"), "UploadPart");
        let c = classify("PUT", "/b?tagging", &[auth("s3")], b"<Tagging/>");
        assert_eq!(c.protocol, Protocol::RestXmlS3);
    }

    #[test]
    fn unsigned_and_unknown_requests_still_classify() {
        let c = classify("GET", "/health", &[], b"");
        assert_eq!(c, Call { service: "unknown".into(), operation: "rest".into(), protocol: Protocol::Rest });
        // A presigned URL carries the scope in the query.
        let c = classify(
            "GET",
            "/b/k?X-Amz-Credential=AKID%2F20260105%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=ab",
            &[],
            b"",
        );
        assert_eq!(c.key(), "s3.GetObject");
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(
            parse_form("a=x%2Fy&b&c=1+2"),
            vec![("a".into(), "x/y".into()), ("b".into(), "".into()), ("c".into(), "1 2".into())]
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
