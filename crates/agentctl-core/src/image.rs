//! Container image references: `[registry/]repository[:tag][@sha256:digest]`.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub registry: Option<String>,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    pub fn parse(s: &str) -> Result<ImageRef, String> {
        if s.is_empty() {
            return Err("it is empty".into());
        }
        if s.contains("://") {
            return Err("remove the URL scheme (https://)".into());
        }
        if let Some(c) = s.chars().find(|c| c.is_whitespace()) {
            return Err(format!("it contains whitespace ({c:?})"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                let hex = d.strip_prefix("sha256:").ok_or("the digest must start with sha256:")?;
                if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err("a sha256 digest has 64 hex digits".into());
                }
                (r, Some(d.to_owned()))
            }
            None => (s, None),
        };
        // A registry is the first component when it has a dot, a port or is localhost.
        let (registry, path) = match rest.split_once('/') {
            Some((first, path)) if first.contains('.') || first.contains(':') || first == "localhost" => {
                (Some(first.to_owned()), path)
            }
            _ => (None, rest),
        };
        let (repository, tag) = match path.rsplit_once(':') {
            Some((repo, tag)) => (repo, Some(tag.to_owned())),
            None => (path, None),
        };
        if repository.is_empty() || repository.split('/').any(str::is_empty) {
            return Err("the repository name is empty".into());
        }
        if !repository.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c)) {
            return Err("repository names use lowercase letters, digits and . _ - /".into());
        }
        if let Some(tag) = &tag {
            if tag.is_empty() || tag.len() > 128 || !tag.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            {
                return Err("a tag is 1 to 128 letters, digits, . _ or -".into());
            }
        }
        Ok(ImageRef { registry, repository: repository.to_owned(), tag, digest })
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
}
