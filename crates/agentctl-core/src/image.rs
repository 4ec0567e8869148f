//! Container image references: `[registry/]repository[:tag][@sha256:digest]`.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub registry: Option<String>,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    /// The grammar is the OCI distribution spec's (oci-spec's parser); the
    /// mistakes people make get a message of their own first.
    pub fn parse(s: &str) -> Result<ImageRef, String> {
        use oci_spec::distribution::{ParseError, Reference};
        if s.is_empty() {
            return Err("it is empty".into());
        }
        if s.contains("://") {
            return Err("remove the URL scheme (https://)".into());
        }
        if let Some(c) = s.chars().find(|c| c.is_whitespace()) {
            return Err(format!("it contains whitespace ({c:?})"));
        }
        let name = s.split('@').next().unwrap_or(s);
        let last = name.rsplit('/').next().unwrap_or(name);
        // The tag follows the last `:` of the last component (a registry's port
        // sits in the first, before a `/`).
        let (repository_part, tag_given) = match last.rsplit_once(':') {
            Some((_, tag)) => (&name[..name.len() - tag.len() - 1], Some(tag)),
            None => (name, None),
        };
        if tag_given.is_some_and(|t| t.is_empty() || t.len() > 128) {
            return Err("a tag is 1 to 128 letters, digits, . _ or -".into());
        }
        let path = repository_part.split_once('/').map_or(repository_part, |(first, path)| {
            if first.contains('.') || first.contains(':') || first == "localhost" {
                path
            } else {
                repository_part
            }
        });
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err("repository names use lowercase letters, digits and . _ - /".into());
        }
        let r = Reference::try_from(s).map_err(|e| match e {
            ParseError::DigestInvalidFormat | ParseError::DigestInvalidLength | ParseError::DigestUnsupported => {
                "a digest is sha256: and 64 hex digits".to_owned()
            }
            ParseError::TagInvalidFormat => "a tag is 1 to 128 letters, digits, . _ or -".to_owned(),
            ParseError::NameEmpty => "the repository name is empty".to_owned(),
            other => format!("{other}; the form is REGISTRY/REPOSITORY:TAG"),
        })?;
        let registry = s.starts_with(&format!("{}/", r.registry())).then(|| r.registry().to_owned());
        Ok(ImageRef {
            registry,
            repository: r.repository().to_owned(),
            tag: tag_given.and(r.tag().map(str::to_owned)),
            digest: r.digest().map(str::to_owned),
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
