//! Container image references: `[registry/]repository[:tag][@sha256:digest]`.
//!
//! The grammar is the OCI distribution spec's reference grammar, checked by
//! hand rather than with oci-spec's parser: that one compiles a regular
//! expression on first use that costs ~40 ms and ~17 MB (measured), paid by
//! every command, where the whole of `validate` otherwise takes ~4 ms. A test
//! holds this parser to oci-spec's verdicts on a corpus of references.

/// Longest repository name (registry included) the spec allows.
const NAME_MAX: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub registry: Option<String>,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses a reference; the mistakes people make get a message of their own.
    pub fn parse(s: &str) -> Result<ImageRef, String> {
        const FORM: &str = "the form is REGISTRY/REPOSITORY:TAG";
        if s.is_empty() {
            return Err("it is empty".into());
        }
        if s.contains("://") {
            return Err("remove the URL scheme (https://)".into());
        }
        if let Some(c) = s.chars().find(|c| c.is_whitespace()) {
            return Err(format!("it contains whitespace ({c:?})"));
        }
        let (name, digest) = match s.split_once('@') {
            Some((name, digest)) => (name, Some(digest)),
            None => (s, None),
        };
        if let Some(d) = digest {
            let hex = d.strip_prefix("sha256:").filter(|h| h.len() == 64);
            if !hex.is_some_and(|h| h.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))) {
                return Err("a digest is sha256: and 64 hex digits".into());
            }
        }
        let last = name.rsplit('/').next().unwrap_or(name);
        // The tag follows the last `:` of the last component (a registry's port
        // sits in the first, before a `/`).
        let (repository_part, tag) = match last.rsplit_once(':') {
            Some((_, tag)) => (&name[..name.len() - tag.len() - 1], Some(tag)),
            None => (name, None),
        };
        if let Some(t) = tag {
            let mut chars = t.chars();
            let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            if !first_ok || t.len() > 128 || !chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
                return Err("a tag is 1 to 128 letters, digits, . _ or - (not starting with . or -)".into());
            }
        }
        let (registry, path) = match repository_part.split_once('/') {
            Some((first, path))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.chars().any(|c| c.is_ascii_uppercase()) =>
            {
                (Some(first), path)
            }
            _ => (None, repository_part),
        };
        if let Some(r) = registry {
            check_registry(r).map_err(|e| format!("{e}; {FORM}"))?;
        }
        if path.is_empty() {
            return Err("the repository name is empty".into());
        }
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err("repository names use lowercase letters, digits and . _ - /".into());
        }
        if !path.split('/').all(is_path_component) {
            return Err(format!("\"{path}\" is not a repository name (lowercase letters and digits, separated by . _ __ - or /); {FORM}"));
        }
        if repository_part.len() > NAME_MAX {
            return Err(format!("the repository name is longer than {NAME_MAX} characters"));
        }
        // Docker Hub's official images live under `library/`.
        let repository =
            if registry.is_none() && !path.contains('/') { format!("library/{path}") } else { path.to_owned() };
        Ok(ImageRef {
            registry: registry.map(str::to_owned),
            repository,
            tag: tag.map(str::to_owned),
            digest: digest.map(str::to_owned),
        })
    }

    /// `(account, region, repository)` for a private ECR image, whose pull the
    /// execution role must be allowed; public registries need no IAM permission.
    pub fn private_ecr(&self) -> Option<(String, String, String)> {
        let registry = self.registry.as_deref()?;
        let mut parts = registry.split('.');
        let account = parts.next()?;
        if parts.next()? != "dkr" || parts.next()? != "ecr" {
            return None;
        }
        let region = parts.next()?;
        // ECR's own domain only: a look-alike host must never get ECR's token.
        let domain: Vec<&str> = parts.collect();
        let ecr_domain = domain == ["amazonaws", "com"] || domain == ["amazonaws", "com", "cn"];
        (ecr_domain && account.len() == 12 && account.chars().all(|c| c.is_ascii_digit()))
            .then(|| (account.to_owned(), region.to_owned(), self.repository.clone()))
    }
}

/// `host[:port]`: DNS labels of letters, digits and inner hyphens (as
/// oci-spec, no IPv6 literal).
fn check_registry(registry: &str) -> Result<(), String> {
    let (host, port) = match registry.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (registry, None),
    };
    if port.is_some_and(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit())) {
        return Err(format!("\"{registry}\" has a bad port"));
    }
    let label = |l: &str| {
        !l.is_empty()
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if host.split('.').all(label) {
        Ok(())
    } else {
        Err(format!("\"{registry}\" is not a registry host"))
    }
}

/// `[a-z0-9]+` runs joined by one `.`, one or two `_`, or any number of `-`.
fn is_path_component(c: &str) -> bool {
    let alnum = |ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit();
    if !c.starts_with(alnum) || !c.ends_with(alnum) {
        return false;
    }
    let mut separator = String::new();
    for ch in c.chars() {
        if alnum(ch) {
            let ok = separator.is_empty()
                || separator == "."
                || separator == "_"
                || separator == "__"
                || separator.chars().all(|s| s == '-');
            if !ok {
                return false;
            }
            separator.clear();
        } else {
            separator.push(ch);
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ecrs_own_domain_is_private_ecr() {
        let ecr = |s: &str| ImageRef::parse(s).unwrap().private_ecr();
        assert_eq!(
            ecr("123456789012.dkr.ecr.eu-west-1.amazonaws.com/mirror/agent:1"),
            Some(("123456789012".into(), "eu-west-1".into(), "mirror/agent".into()))
        );
        assert!(ecr("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/mirror/agent:1").is_some());
        assert_eq!(ecr("123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.example/mirror/agent:1"), None);
        assert_eq!(ecr("123456789012.dkr.ecr.x.evil.com/mirror/agent:1"), None);
        assert_eq!(ecr("public.ecr.aws/matillion/etl-agent:current"), None);
    }

    #[test]
    fn parses_common_shapes() {
        let i = ImageRef::parse("public.ecr.aws/matillion/etl-agent:current").unwrap();
        assert_eq!(i.registry.as_deref(), Some("public.ecr.aws"));
        assert_eq!(i.repository, "matillion/etl-agent");
        assert_eq!(i.tag.as_deref(), Some("current"));
        assert!(i.private_ecr().is_none());
        let i = ImageRef::parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com/mirror/agent:stable").unwrap();
        assert_eq!(i.private_ecr(), Some(("123456789012".into(), "eu-west-1".into(), "mirror/agent".into())));
        assert!(ImageRef::parse("localhost:5000/agent").unwrap().tag.is_none());
        assert!(ImageRef::parse(&format!("repo@sha256:{}", "a".repeat(64))).is_ok());
    }

    #[test]
    fn rejects_bad_shapes() {
        for bad in [
            "",
            "https://public.ecr.aws/x:y",
            "Public.ecr.aws/Matillion/Agent:1",
            "a b",
            "repo:",
            "repo@md5:00",
            "x//y",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad}");
        }
    }

    /// The same verdict as oci-spec's regular-expression parser (and the same
    /// parts) on a corpus of good and bad references.
    #[test]
    fn agrees_with_oci_spec() {
        use oci_spec::distribution::Reference;
        let digest = format!("sha256:{}", "0123456789abcdef".repeat(4));
        let corpus = [
            "public.ecr.aws/matillion/etl-agent:current".to_owned(),
            "public.ecr.aws/amazonlinux/amazonlinux:2023.12.20260831.0".to_owned(),
            "public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.300071.0b1720".to_owned(),
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mirror/etl-agent:stable".to_owned(),
            "localhost:5000/agent".to_owned(),
            "localhost/agent:1".to_owned(),
            "127.0.0.1:5000/a/b/c:tag_1.2-x".to_owned(),
            "[::1]:5000/agent:1".to_owned(),
            "a:1:2/agent".to_owned(),
            "registry.example.com/team/agent".to_owned(),
            "curlimages/curl:8.11.1".to_owned(),
            "alpine".to_owned(),
            "alpine:3.20".to_owned(),
            format!("alpine@{digest}"),
            format!("public.ecr.aws/matillion/etl-agent:current@{digest}"),
            "a__b/c--d/e.f:x".to_owned(),
            "a___b:1".to_owned(),
            "a..b:1".to_owned(),
            "-a/b".to_owned(),
            "a-/b".to_owned(),
            "a/b-".to_owned(),
            "registry.example.com:/agent".to_owned(),
            "registry.example.com:x1/agent".to_owned(),
            "-registry.example.com/agent".to_owned(),
            "repo:.tag".to_owned(),
            "repo:-tag".to_owned(),
            "repo:_tag".to_owned(),
            format!("repo:{}", "t".repeat(128)),
            format!("repo:{}", "t".repeat(129)),
            format!("repo@sha256:{}", "g".repeat(64)),
            "repo@sha256:abc".to_owned(),
            "x//y".to_owned(),
            "x/".to_owned(),
            "/x".to_owned(),
            format!("{}/x", "a".repeat(260)),
        ];
        for text in &corpus {
            let ours = ImageRef::parse(text);
            let theirs = Reference::try_from(text.as_str());
            assert_eq!(ours.is_ok(), theirs.is_ok(), "{text}: ours {ours:?}, oci-spec {theirs:?}");
            if let (Ok(o), Ok(t)) = (ours, theirs) {
                assert_eq!(o.repository, t.repository(), "{text}");
                assert_eq!(o.digest.as_deref(), t.digest(), "{text}");
                if o.registry.is_some() {
                    assert_eq!(o.registry.as_deref(), Some(t.registry()), "{text}");
                }
                if o.tag.is_some() {
                    assert_eq!(o.tag.as_deref(), t.tag(), "{text}");
                }
            }
        }
    }
}
