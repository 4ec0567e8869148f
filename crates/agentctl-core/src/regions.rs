//! AWS regions and Matillion region codes.

/// Commercial, GovCloud, China and sovereign-cloud regions as of 2026.
pub const AWS_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "il-central-1",
    "me-south-1",
    "me-central-1",
    "mx-central-1",
    "sa-east-1",
    "us-gov-east-1",
    "us-gov-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eusc-de-east-1",
];

/// Matillion Data Productivity Cloud region codes.
pub const MATILLION_REGIONS: &[&str] = &["eu1", "us1"];

pub fn is_aws_region(s: &str) -> bool {
    AWS_REGIONS.contains(&s)
}

/// Looks like an AWS region name (`xx-yyyy-N`), whether or not it exists.
pub fn looks_like_aws_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].chars().all(|c| c.is_ascii_lowercase())
        && parts.last().is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

pub fn suggest_aws_region(s: &str) -> Option<&'static str> {
    AWS_REGIONS
        .iter()
        .map(|r| (*r, strsim::levenshtein(s, r)))
        .filter(|(_, d)| *d <= 3)
        .min_by_key(|(_, d)| *d)
        .map(|(r, _)| r)
}

/// The partition an ARN in this region uses.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("eusc-") {
        "aws-eusc"
    } else {
        "aws"
    }
}

/// Suggested Matillion code for an AWS region typed by mistake.
pub fn matillion_code_for(aws_region: &str) -> &'static str {
    if aws_region.starts_with("us-") || aws_region.starts_with("ca-") || aws_region.starts_with("sa-") {
        "us1"
    } else {
        "eu1"
    }
}
