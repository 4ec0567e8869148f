//! What happens to a request (forward, throttle, fail, drop), decided from a
//! seed, and the exact wire shape of each injected error per protocol.
//!
//! The decision for a request depends only on the seed, its `service.Operation`
//! and how many requests of that operation came before it; so the same seed
//! and the same request sequence give the same faults, and concurrent requests
//! of different operations cannot steal each other's faults when their arrival
//! order changes.

use crate::classify::Protocol;

/// SplitMix64: tiny, fast, and well distributed; plenty for fault injection.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// FNV-1a: a hash that stays the same across Rust releases (std's does not promise to).
pub fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01B3))
}

/// Fault rates, each the probability for one request.
#[derive(Debug, Clone, Default)]
pub struct Rates {
    pub throttle: f64,
    /// Half 500, half 503.
    pub error: f64,
    /// Close the connection without forwarding or answering.
    pub drop: f64,
    /// Forward the request (it takes effect), then close without answering.
    pub lost_response: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    Throttle,
    ServerError(u16),
    Drop,
    LostResponse,
}

impl Fault {
    pub fn name(self) -> &'static str {
        match self {
            Fault::None => "none",
            Fault::Throttle => "throttle",
            Fault::ServerError(500) => "error500",
            Fault::ServerError(_) => "error503",
            Fault::Drop => "drop",
            Fault::LostResponse => "lost_response",
        }
    }
}

/// The fate of one request: its fault and its extra jitter in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    pub fault: Fault,
    pub jitter_ms: f64,
    /// Seeds the request id of an injected error.
    pub id: u64,
}

/// Decides the fate of the `occurrence`-th request (0-based) of `key`.
pub fn decide(seed: u64, key: &str, occurrence: u64, rates: &Rates, jitter_ms: f64) -> Decision {
    let mut rng = Rng::new(seed ^ fnv1a(key).rotate_left(17) ^ occurrence.wrapping_mul(0xD6E8_FEB8_6659_FD93));
    let u = rng.next_f64();
    let kind = rng.next_u64();
    let jitter = rng.next_f64() * jitter_ms;
    let id = rng.next_u64();
    let drop = rates.drop;
    let throttle = drop + rates.throttle;
    let error = throttle + rates.error;
    let lost = error + rates.lost_response;
    let fault = if u < drop {
        Fault::Drop
    } else if u < throttle {
        Fault::Throttle
    } else if u < error {
        Fault::ServerError(if kind & 1 == 0 { 500 } else { 503 })
    } else if u < lost {
        Fault::LostResponse
    } else {
        Fault::None
    };
    Decision { fault, jitter_ms: jitter, id }
}

/// An injected response: status, headers, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// A request id shaped like AWS's (a UUID), derived from the decision.
pub fn request_id(id: u64) -> String {
    let mut r = Rng::new(id);
    let (a, b) = (r.next_u64(), r.next_u64());
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

/// The error AWS would send for a throttled request in this protocol:
/// - awsJson / REST: 400, `x-amzn-ErrorType: ThrottlingException`, `{"__type":"ThrottlingException",...}`
/// - awsQuery (IAM, STS): 400, `<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>...`
/// - ec2Query: 503, `<Response><Errors><Error><Code>RequestLimitExceeded</Code>...`
/// - S3: 503, `<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>...`
pub fn throttle(protocol: Protocol, request_id: &str) -> ErrorResponse {
    match protocol {
        Protocol::AwsJson | Protocol::Rest => json(400, "ThrottlingException", "Rate exceeded", request_id),
        Protocol::AwsQuery => query(400, "Sender", "Throttling", "Rate exceeded", request_id),
        Protocol::Ec2Query => ec2(503, "RequestLimitExceeded", "Request limit exceeded.", request_id),
        Protocol::RestXmlS3 => s3(503, "SlowDown", "Please reduce your request rate.", request_id),
    }
}

/// A 500 or 503 in this protocol's shape.
pub fn server_error(protocol: Protocol, status: u16, request_id: &str) -> ErrorResponse {
    let unavailable = status == 503;
    match protocol {
        Protocol::AwsJson | Protocol::Rest => {
            let (code, msg) = if unavailable {
                ("ServiceUnavailableException", "Service is unavailable. Try again later.")
            } else {
                ("InternalFailure", "The request processing has failed because of an unknown error.")
            };
            json(status, code, msg, request_id)
        }
        Protocol::AwsQuery => {
            let (code, msg) = if unavailable {
                ("ServiceUnavailable", "Service is unavailable. Try again later.")
            } else {
                ("InternalFailure", "The request processing has failed because of an unknown error.")
            };
            query(status, "Receiver", code, msg, request_id)
        }
        Protocol::Ec2Query => {
            let (code, msg) = if unavailable {
                ("Unavailable", "The server is overloaded and can't handle the request.")
            } else {
                ("InternalError", "An internal error has occurred.")
            };
            ec2(status, code, msg, request_id)
        }
        Protocol::RestXmlS3 => {
            let (code, msg) = if unavailable {
                ("ServiceUnavailable", "Service is unable to handle request.")
            } else {
                ("InternalError", "We encountered an internal error. Please try again.")
            };
            s3(status, code, msg, request_id)
        }
    }
}

fn json(status: u16, code: &str, message: &str, request_id: &str) -> ErrorResponse {
    ErrorResponse {
        status,
        headers: vec![
            ("Content-Type", "application/x-amz-json-1.1".into()),
            ("x-amzn-ErrorType", code.into()),
            ("x-amzn-RequestId", request_id.into()),
        ],
        body: format!(r#"{{"__type":"{code}","message":"{message}"}}"#),
    }
}

fn query(status: u16, kind: &str, code: &str, message: &str, request_id: &str) -> ErrorResponse {
    ErrorResponse {
        status,
        headers: vec![("Content-Type", "text/xml".into()), ("x-amzn-RequestId", request_id.into())],
        body: format!(
            "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\n  <Error>\n    <Type>{kind}</Type>\n    \
             <Code>{code}</Code>\n    <Message>{message}</Message>\n  </Error>\n  <RequestId>{request_id}</RequestId>\n\
             </ErrorResponse>\n"
        ),
    }
}

fn ec2(status: u16, code: &str, message: &str, request_id: &str) -> ErrorResponse {
    ErrorResponse {
        status,
        headers: vec![("Content-Type", "text/xml;charset=UTF-8".into())],
        body: format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code>\
             <Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        ),
    }
}

fn s3(status: u16, code: &str, message: &str, request_id: &str) -> ErrorResponse {
    ErrorResponse {
        status,
        headers: vec![("Content-Type", "application/xml".into()), ("x-amz-request-id", request_id.into())],
        body: format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>\
             <RequestId>{request_id}</RequestId><HostId>faultproxy</HostId></Error>"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_shapes_per_protocol() {
        let j = throttle(Protocol::AwsJson, "rid");
        assert_eq!(j.status, 400);
        assert!(j.headers.contains(&("x-amzn-ErrorType", "ThrottlingException".into())));
        assert_eq!(j.body, r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#);

        let q = throttle(Protocol::AwsQuery, "rid");
        assert_eq!(q.status, 400);
        assert!(q.body.starts_with("<ErrorResponse"), "{}", q.body);
        assert!(q.body.contains("<Error>\n    <Type>Sender</Type>\n    <Code>Throttling</Code>\n    <Message>Rate exceeded</Message>\n  </Error>"), "{}", q.body);
        assert!(q.body.contains("<RequestId>rid</RequestId>"));

        let e = throttle(Protocol::Ec2Query, "rid");
        assert_eq!(e.status, 503);
        assert!(e.body.contains("<Response><Errors><Error><Code>RequestLimitExceeded</Code>"), "{}", e.body);
        assert!(e.body.contains("<RequestID>rid</RequestID></Response>"));

        let s = throttle(Protocol::RestXmlS3, "rid");
        assert_eq!(s.status, 503);
        assert!(s.body.contains("<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>"));
    }

    #[test]
    fn server_error_shapes_keep_status_and_protocol() {
        for p in [Protocol::AwsJson, Protocol::AwsQuery, Protocol::Ec2Query, Protocol::RestXmlS3, Protocol::Rest] {
            for status in [500, 503] {
                let r = server_error(p, status, "rid");
                assert_eq!(r.status, status);
                match p {
                    Protocol::AwsJson | Protocol::Rest => assert!(r.body.starts_with(r#"{"__type":""#)),
                    Protocol::AwsQuery => assert!(r.body.contains("<Type>Receiver</Type>")),
                    Protocol::Ec2Query => assert!(r.body.contains("<Response><Errors><Error><Code>")),
                    Protocol::RestXmlS3 => assert!(r.body.contains("<Error><Code>")),
                }
            }
        }
    }

    fn rates() -> Rates {
        Rates { throttle: 0.2, error: 0.05, drop: 0.02, lost_response: 0.0 }
    }

    #[test]
    fn same_seed_same_faults_other_seed_other_faults() {
        let run = |seed| {
            (0..400)
                .map(|i| {
                    decide(
                        seed,
                        if i % 2 == 0 { "ecs.DescribeServices" } else { "ec2.DescribeVpcs" },
                        i / 2,
                        &rates(),
                        10.0,
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn rates_are_honoured() {
        let n = 100_000u64;
        let mut counts = std::collections::HashMap::new();
        for i in 0..n {
            let d = decide(7, "ssm.PutParameter", i, &rates(), 0.0);
            *counts.entry(d.fault.name()).or_insert(0u64) += 1;
            assert_eq!(d.jitter_ms, 0.0);
        }
        let frac = |k: &str| *counts.get(k).unwrap_or(&0) as f64 / n as f64;
        assert!((frac("throttle") - 0.2).abs() < 0.01, "{counts:?}");
        assert!((frac("error500") + frac("error503") - 0.05).abs() < 0.005, "{counts:?}");
        assert!((frac("drop") - 0.02).abs() < 0.003, "{counts:?}");
        assert!(frac("error500") > 0.0 && frac("error503") > 0.0);
        // Zero rates: never a fault.
        assert!((0..10_000).all(|i| decide(1, "k", i, &Rates::default(), 0.0).fault == Fault::None));
    }

    #[test]
    fn jitter_stays_in_range() {
        let j: Vec<f64> = (0..1000).map(|i| decide(3, "k", i, &Rates::default(), 25.0).jitter_ms).collect();
        assert!(j.iter().all(|&x| (0.0..25.0).contains(&x)));
        assert!(j.iter().any(|&x| x > 20.0) && j.iter().any(|&x| x < 5.0));
    }

    #[test]
    fn request_ids_look_like_uuids() {
        let id = request_id(42);
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
        assert_eq!(request_id(42), id);
    }
}
