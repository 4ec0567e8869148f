//! IAM identity-based policy documents, as JSON: what IAM would reject in one
//! before it is attached inline to a role (`check_identity_policy`), its size as
//! IAM counts it (`policy_size`), and a decision on a request against a set of
//! them (`evaluate`), so tests and `doctor` can prove what a role may do.
//!
//! The evaluator covers identity policies of one account only: no resource
//! policies, permissions boundaries, SCPs or session policies. Where it cannot
//! tell what IAM would decide (an operator it does not know, a multi-valued key,
//! a policy variable, a malformed statement) it errs towards denying, so it never
//! claims more access than AWS would grant.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// The policy language version every new policy should use.
pub const POLICY_VERSION: &str = "2012-10-17";
/// The previous version: still accepted by IAM (it lacks policy variables).
const OLD_POLICY_VERSION: &str = "2008-10-17";

const DOCUMENT_KEYS: [&str; 3] = ["Version", "Id", "Statement"];
const STATEMENT_KEYS: [&str; 7] = ["Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"];

// --- checker -----------------------------------------------------------------

/// The problems that keep `doc` from being a valid IAM identity policy a user
/// could attach inline to a role, one sentence each naming the statement and
/// the fix; empty when there are none.
pub fn check_identity_policy(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let Some(obj) = doc.as_object() else {
        out.push(format!(
            "The policy is {}, not a JSON object; write {{\"Version\": \"{POLICY_VERSION}\", \"Statement\": [...]}}.",
            kind(doc)
        ));
        return out;
    };

    match obj.get("Version") {
        None => out.push(format!("The policy has no Version; add \"Version\": \"{POLICY_VERSION}\".")),
        Some(Value::String(v)) if v == POLICY_VERSION || v == OLD_POLICY_VERSION => {}
        Some(v) => out.push(format!("The policy's Version is {v}; it must be \"{POLICY_VERSION}\".")),
    }
    if let Some(id) = obj.get("Id").filter(|id| !id.is_string()) {
        out.push(format!("The policy's Id is {}; it must be a string.", kind(id)));
    }
    for key in obj.keys().filter(|k| !DOCUMENT_KEYS.contains(&k.as_str())) {
        out.push(format!(
            "The policy has an unknown key \"{key}\"{}; a policy may only have Version, Id and Statement.",
            suggestion(key, &DOCUMENT_KEYS)
        ));
    }

    let mut sids: Vec<&str> = Vec::new();
    match obj.get("Statement") {
        None => out.push("The policy has no Statement; add \"Statement\": [...] with at least one statement.".into()),
        Some(Value::Object(s)) => check_statement(&label(None, s), s, &mut sids, &mut out),
        Some(Value::Array(a)) if a.is_empty() => {
            out.push("The policy's Statement is an empty array; it needs at least one statement.".into())
        }
        Some(Value::Array(a)) => {
            for (i, s) in a.iter().enumerate() {
                match s.as_object() {
                    Some(s) => check_statement(&label(Some(i), s), s, &mut sids, &mut out),
                    None => out.push(format!("Statement[{i}] is {}; each statement must be a JSON object.", kind(s))),
                }
            }
        }
        Some(other) => {
            out.push(format!("The policy's Statement is {}; it must be an object or an array of objects.", kind(other)))
        }
    }
    out
}

/// How messages name a statement: by index in the array (none when `Statement`
/// is a single object) and by Sid when it has one.
fn label(index: Option<usize>, s: &Map<String, Value>) -> String {
    let base = index.map_or_else(|| "The statement".to_owned(), |i| format!("Statement[{i}]"));
    match s.get("Sid").and_then(Value::as_str) {
        Some(sid) => format!("{base} (Sid \"{sid}\")"),
        None => base,
    }
}

fn check_statement<'a>(label: &str, s: &'a Map<String, Value>, sids: &mut Vec<&'a str>, out: &mut Vec<String>) {
    // IAM rejects a Sid that is not alphanumeric or that repeats another's.
    match s.get("Sid") {
        None => {}
        Some(Value::String(sid)) => {
            if !sid.chars().all(|c| c.is_ascii_alphanumeric()) {
                out.push(format!(
                    "{label} has a Sid that is not alphanumeric; use only the letters A-Z, a-z and digits."
                ));
            }
            if sids.contains(&sid.as_str()) {
                out.push(format!("{label} repeats the Sid of an earlier statement; each Sid must be unique."));
            } else {
                sids.push(sid);
            }
        }
        Some(v) => out.push(format!("{label} has a Sid that is {}; it must be a string.", kind(v))),
    }

    match s.get("Effect") {
        None => out.push(format!("{label} has no Effect; add \"Effect\": \"Allow\" or \"Effect\": \"Deny\".")),
        Some(Value::String(e)) if e == "Allow" || e == "Deny" => {}
        Some(Value::String(e)) if e.eq_ignore_ascii_case("allow") || e.eq_ignore_ascii_case("deny") => {
            let fixed = if e.eq_ignore_ascii_case("allow") { "Allow" } else { "Deny" };
            out.push(format!("{label} has Effect \"{e}\"; write \"{fixed}\" (IAM is case-sensitive here)."))
        }
        Some(e) => out.push(format!("{label} has Effect {e}; it must be \"Allow\" or \"Deny\".")),
    }

    check_element(
        label,
        s,
        ["Action", "NotAction"],
        valid_action,
        "is not \"*\" or \"service:Action\" (a service prefix of lowercase letters, digits and hyphens, \
         a colon, then letters, digits, * or ?)",
        out,
    );
    check_element(
        label,
        s,
        ["Resource", "NotResource"],
        |r| r == "*" || r.starts_with("arn:"),
        "is not \"*\" or an ARN (arn:partition:service:region:account:resource)",
        out,
    );

    if let Some(c) = s.get("Condition") {
        check_condition(label, c, out);
    }

    for key in s.keys().filter(|k| !STATEMENT_KEYS.contains(&k.as_str())) {
        if key == "Principal" || key == "NotPrincipal" {
            out.push(format!(
                "{label} has a {key}; identity policies have none (the principal is the role the policy is \
                 attached to), so remove it."
            ));
        } else {
            out.push(format!(
                "{label} has an unknown key \"{key}\"{}; a statement may only have Sid, Effect, Action, NotAction, \
                 Resource, NotResource and Condition.",
                suggestion(key, &STATEMENT_KEYS)
            ));
        }
    }
}

/// Checks the pair Action/NotAction or Resource/NotResource: exactly one of the
/// two, a string or a non-empty array of strings, each accepted by `valid`.
fn check_element(
    label: &str,
    s: &Map<String, Value>,
    [pos, neg]: [&str; 2],
    valid: fn(&str) -> bool,
    invalid: &str,
    out: &mut Vec<String>,
) {
    let (name, value) = match (s.get(pos), s.get(neg)) {
        (Some(_), Some(_)) => {
            out.push(format!("{label} has both {pos} and {neg}; keep only one of them."));
            return;
        }
        (None, None) => {
            out.push(format!("{label} has no {pos}; add {pos} (or {neg})."));
            return;
        }
        (Some(v), None) => (pos, v),
        (None, Some(v)) => (neg, v),
    };
    let items: Vec<&Value> = match value {
        Value::String(_) => vec![value],
        Value::Array(a) if a.is_empty() => {
            out.push(format!("{label} has an empty {name} array; list at least one entry."));
            return;
        }
        Value::Array(a) => a.iter().collect(),
        other => {
            out.push(format!(
                "{label} has a {name} that is {}; it must be a string or an array of strings.",
                kind(other)
            ));
            return;
        }
    };
    for item in items {
        match item.as_str() {
            Some(p) if valid(p) => {}
            Some(p) => out.push(format!("{label} has {name} \"{p}\", which {invalid}.")),
            None => out.push(format!("{label} has a {name} entry that is {}; each must be a string.", kind(item))),
        }
    }
}

/// `*`, or `service:pattern` with the character sets IAM accepts.
fn valid_action(a: &str) -> bool {
    if a == "*" {
        return true;
    }
    let Some((service, action)) = a.split_once(':') else { return false };
    !service.is_empty()
        && service.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !action.is_empty()
        && action.chars().all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '?')
}

fn check_condition(label: &str, c: &Value, out: &mut Vec<String>) {
    let Some(ops) = c.as_object() else {
        out.push(format!(
            "{label} has a Condition that is {}; it must be an object like \
             {{\"StringEquals\": {{\"aws:RequestedRegion\": \"eu-west-1\"}}}}.",
            kind(c)
        ));
        return;
    };
    for (op, keys) in ops {
        let Some(keys) = keys.as_object() else {
            out.push(format!(
                "{label} has Condition operator \"{op}\" set to {}; it must be an object of condition keys to values.",
                kind(keys)
            ));
            continue;
        };
        for (key, values) in keys {
            let scalar = |v: &Value| matches!(v, Value::String(_) | Value::Bool(_) | Value::Number(_));
            let ok = match values {
                Value::Array(a) => a.iter().all(scalar),
                v => scalar(v),
            };
            if !ok {
                out.push(format!(
                    "{label} has Condition \"{op}\" key \"{key}\" set to {}; use a string or an array of strings.",
                    kind(values)
                ));
            }
        }
    }
}

/// ` (did you mean "X"?)` when `key` is close to one of `known`, else nothing.
fn suggestion(key: &str, known: &[&str]) -> String {
    known
        .iter()
        .map(|k| (*k, if k.eq_ignore_ascii_case(key) { 1.0 } else { strsim::jaro_winkler(key, k) }))
        .filter(|(_, score)| *score >= 0.85)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or_else(String::new, |(k, _)| format!(" (did you mean \"{k}\"?)"))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// IAM's limits on policy size, in characters without white space: all inline
/// policies of one role together, and one managed policy.
pub const ROLE_INLINE_LIMIT: usize = 10_240;
pub const MANAGED_POLICY_LIMIT: usize = 6_144;

/// The size IAM counts against its policy size limits: the characters of the
/// compact JSON, white space not counted.
pub fn policy_size(doc: &Value) -> usize {
    doc.to_string().chars().filter(|c| !c.is_whitespace()).count()
}

// --- evaluator ---------------------------------------------------------------

/// One API call to decide: the action (`service:Action`), the resource ARN and
/// the request context keys (`aws:RequestedRegion`, `aws:SecureTransport`, ...),
/// each with a single value.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub action: &'a str,
    pub resource: &'a str,
    pub context: &'a BTreeMap<String, String>,
}

/// What IAM decides for a request, and which statement denied it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    ExplicitDeny { sid: Option<String> },
    ImplicitDeny,
}

/// Decides `req` against identity `policies` of one account the way IAM does:
/// a matching Deny wins, else a matching Allow allows, else it is denied
/// implicitly. Where a statement cannot be decided here it counts as matching
/// when it denies and as not matching when it allows.
pub fn evaluate<'a>(policies: impl IntoIterator<Item = &'a Value>, req: &Request) -> Decision {
    let mut allowed = false;
    for doc in policies {
        let statements = match doc.get("Statement") {
            Some(Value::Array(a)) => a.as_slice(),
            Some(s @ Value::Object(_)) => std::slice::from_ref(s),
            _ => &[],
        };
        for st in statements.iter().filter_map(Value::as_object) {
            let matched = statement_matches(st, req);
            // An Effect other than exactly Allow or Deny is rejected by IAM; such a
            // statement neither allows nor denies here.
            match st.get("Effect").and_then(Value::as_str) {
                Some("Deny") if matched != Tri::No => {
                    return Decision::ExplicitDeny { sid: st.get("Sid").and_then(Value::as_str).map(str::to_owned) };
                }
                Some("Allow") if matched == Tri::Yes => allowed = true,
                _ => {}
            }
        }
    }
    if allowed {
        Decision::Allowed
    } else {
        Decision::ImplicitDeny
    }
}

/// Three-valued truth: `Unknown` where this evaluator cannot tell what IAM
/// would decide. `evaluate` resolves it against the request (see there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tri {
    No,
    Yes,
    Unknown,
}

impl Tri {
    fn and(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::No, _) | (_, Tri::No) => Tri::No,
            (Tri::Yes, Tri::Yes) => Tri::Yes,
            _ => Tri::Unknown,
        }
    }

    fn or(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::Yes, _) | (_, Tri::Yes) => Tri::Yes,
            (Tri::No, Tri::No) => Tri::No,
            _ => Tri::Unknown,
        }
    }

    fn not(self) -> Tri {
        match self {
            Tri::No => Tri::Yes,
            Tri::Yes => Tri::No,
            Tri::Unknown => Tri::Unknown,
        }
    }
}

impl From<bool> for Tri {
    fn from(b: bool) -> Tri {
        if b {
            Tri::Yes
        } else {
            Tri::No
        }
    }
}

fn statement_matches(st: &Map<String, Value>, req: &Request) -> Tri {
    // A key outside the statement grammar (a typo, a Principal) could change
    // what the statement means to IAM, so the statement cannot be decided.
    let grammar = if st.keys().all(|k| STATEMENT_KEYS.contains(&k.as_str())) { Tri::Yes } else { Tri::Unknown };
    let action = req.action.to_ascii_lowercase();
    grammar
        .and(element(st, "Action", "NotAction", |p| glob(&p.to_ascii_lowercase(), &action)))
        .and(element(st, "Resource", "NotResource", |p| glob(p, req.resource)))
        .and(conditions(st.get("Condition"), req.context))
}

/// Whether the Action/NotAction (or Resource/NotResource) element matches:
/// any pattern of the positive element, none of the negated one.
fn element(st: &Map<String, Value>, pos: &str, neg: &str, matches: impl Fn(&str) -> bool) -> Tri {
    let any = |v: &Value| -> Tri {
        let Some(patterns) = strings(v) else { return Tri::Unknown };
        if patterns.is_empty() {
            return Tri::Unknown;
        }
        patterns.iter().fold(Tri::No, |acc, p| {
            // Policy variables (${aws:username}) are not substituted here.
            acc.or(if p.contains("${") { Tri::Unknown } else { Tri::from(matches(p)) })
        })
    };
    match (st.get(pos), st.get(neg)) {
        (Some(v), None) => any(v),
        (None, Some(v)) => any(v).not(),
        // Neither or both: IAM rejects the statement.
        _ => Tri::Unknown,
    }
}

/// A string or an array of strings; None for anything else.
fn strings(v: &Value) -> Option<Vec<&str>> {
    match v {
        Value::String(s) => Some(vec![s.as_str()]),
        Value::Array(a) => a.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

/// Every operator holds (AND), every key within an operator holds (AND).
fn conditions(cond: Option<&Value>, context: &BTreeMap<String, String>) -> Tri {
    let Some(cond) = cond else { return Tri::Yes };
    let Some(ops) = cond.as_object() else { return Tri::Unknown };
    ops.iter().fold(Tri::Yes, |acc, (name, keys)| {
        let result = match (Operator::parse(name), keys.as_object()) {
            (Some(op), Some(keys)) => {
                keys.iter().fold(Tri::Yes, |acc, (key, values)| acc.and(op.holds(key, values, context)))
            }
            // An operator this evaluator does not know (Numeric*, Date*, IpAddress,
            // ForAnyValue:/ForAllValues: sets, ...) or a malformed block: Unknown,
            // so a Deny statement counts as matching and an Allow as not. That way
            // the evaluator never claims more access than AWS would grant.
            _ => Tri::Unknown,
        };
        acc.and(result)
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compare {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Arn,
    Bool,
    Null,
}

#[derive(Debug, Clone, Copy)]
struct Operator {
    compare: Compare,
    negated: bool,
    if_exists: bool,
}

impl Operator {
    /// None for an operator this evaluator does not know, including every
    /// `ForAnyValue:` / `ForAllValues:` one (their keys are multi-valued, and
    /// `Request` carries one value per key).
    fn parse(name: &str) -> Option<Operator> {
        let (base, if_exists) = match name.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (name, false),
        };
        let (compare, negated) = match base {
            "StringEquals" => (Compare::StringEquals, false),
            "StringNotEquals" => (Compare::StringEquals, true),
            "StringEqualsIgnoreCase" => (Compare::StringEqualsIgnoreCase, false),
            "StringNotEqualsIgnoreCase" => (Compare::StringEqualsIgnoreCase, true),
            "StringLike" => (Compare::StringLike, false),
            "StringNotLike" => (Compare::StringLike, true),
            // IAM documents ArnEquals and ArnLike as the same comparison.
            "ArnEquals" | "ArnLike" => (Compare::Arn, false),
            "ArnNotEquals" | "ArnNotLike" => (Compare::Arn, true),
            "Bool" => (Compare::Bool, false),
            // Null takes no IfExists: it is itself the test for presence.
            "Null" if !if_exists => (Compare::Null, false),
            _ => return None,
        };
        Some(Operator { compare, negated, if_exists })
    }

    /// Whether the condition on `key` holds: any value matches (OR), and for
    /// a negated operator, none does.
    fn holds(&self, key: &str, values: &Value, context: &BTreeMap<String, String>) -> Tri {
        let values: Option<Vec<String>> = match values {
            Value::Array(a) => a.iter().map(scalar).collect(),
            v => scalar(v).map(|s| vec![s]),
        };
        let Some(values) = values.filter(|v| !v.is_empty()) else { return Tri::Unknown };
        if values.iter().any(|v| v.contains("${")) {
            return Tri::Unknown;
        }
        let actual = context.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str());

        if self.compare == Compare::Null {
            // "true": the key is absent; "false": it is present.
            return values.iter().fold(Tri::No, |acc, v| {
                acc.or(match v.to_ascii_lowercase().as_str() {
                    "true" => Tri::from(actual.is_none()),
                    "false" => Tri::from(actual.is_some()),
                    _ => Tri::Unknown,
                })
            });
        }
        let Some(actual) = actual else {
            // A missing key fails a positive operator; a negated one or an
            // IfExists one holds.
            return Tri::from(self.negated || self.if_exists);
        };
        let any = values.iter().any(|v| match self.compare {
            Compare::StringEquals => v == actual,
            Compare::StringEqualsIgnoreCase => v.to_lowercase() == actual.to_lowercase(),
            Compare::StringLike => glob(v, actual),
            Compare::Arn => arn_like(v, actual),
            Compare::Bool => v.eq_ignore_ascii_case(actual),
            Compare::Null => unreachable!("handled above"),
        });
        Tri::from(any != self.negated)
    }
}

/// A condition value as a string: JSON booleans and numbers in their JSON form.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(_) | Value::Number(_) => Some(v.to_string()),
        _ => None,
    }
}

/// ArnLike: each of the six colon-separated parts of the ARN is matched on its
/// own, so a wildcard never spans a colon, except within the last part (the
/// resource, which may itself contain colons).
fn arn_like(pattern: &str, arn: &str) -> bool {
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    p.len() == 6 && a.len() == 6 && p.iter().zip(&a).all(|(p, a)| glob(p, a))
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters
/// (none too) and `?` exactly one; case-sensitive (callers lowercase both sides
/// for actions).
///
/// Greedy with a single backtrack point: on a mismatch only the most recent `*`
/// takes one more character. That suffices because anything an earlier `*`
/// could absorb, the later one can too, and it bounds the work at
/// O(len(pattern) × len(text)) instead of exponential backtracking.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // After the last `*` seen: where the pattern resumes and the text position
    // that `*` currently stops at.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            star = Some((pi + 1, ti));
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if let Some((resume, stop)) = star {
            star = Some((resume, stop + 1));
            pi = resume;
            ti = stop + 1;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn decide(policies: &[Value], action: &str, resource: &str, context: &[(&str, &str)]) -> Decision {
        let context = ctx(context);
        evaluate(policies, &Request { action, resource, context: &context })
    }

    fn allow(action: Value, resource: Value) -> Value {
        json!({ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow", "Action": action, "Resource": resource }] })
    }

    fn allow_if(condition: Value) -> Value {
        json!({ "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": condition
        }]})
    }

    fn deny_if(condition: Value) -> Value {
        json!({ "Version": "2012-10-17", "Statement": [{
            "Sid": "Guard", "Effect": "Deny", "Action": "*", "Resource": "*", "Condition": condition
        }]})
    }

    const SECRET: &str = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/db-AbCdEf";

    // --- glob ---

    #[test]
    fn prefix_star_does_not_match_the_bare_prefix() {
        assert!(!glob("secret:prod/*", "secret:prod"));
        assert!(glob("secret:prod/*", "secret:prod/"));
        assert!(glob("secret:prod/*", "secret:prod/db/password"));
    }

    #[test]
    fn question_marks_match_exactly_one_char_each() {
        assert!(glob("db-??????", "db-AbCdEf"));
        assert!(!glob("db-??????", "db-AbCdE"));
        assert!(!glob("db-??????", "db-AbCdEfG"));
    }

    #[test]
    fn star_alone_matches_anything_including_empty() {
        assert!(glob("*", ""));
        assert!(glob("*", "arn:aws:s3:::bucket/key"));
        assert!(!glob("", "x"));
        assert!(glob("", ""));
    }

    #[test]
    fn star_backtracks_to_a_later_occurrence() {
        assert!(glob("a*b*c", "aXbYbZc"));
        assert!(glob("*ab", "aab"));
        assert!(!glob("a*b", "aXbY"));
        assert!(glob("a*?", "ab"));
        assert!(!glob("a*?", "a"));
    }

    #[test]
    fn pathological_pattern_is_not_exponential() {
        let text = "a".repeat(5_000);
        assert!(!glob(&format!("{}b", "a*".repeat(50)), &text));
    }

    // --- actions and resources ---

    #[test]
    fn actions_compare_case_insensitively() {
        let p = [allow(json!("s3:GetObject"), json!("*"))];
        assert_eq!(decide(&p, "s3:getobject", "arn:aws:s3:::b/k", &[]), Decision::Allowed);
        let p = [allow(json!("s3:getobject"), json!("*"))];
        assert_eq!(decide(&p, "s3:GetObject", "arn:aws:s3:::b/k", &[]), Decision::Allowed);
    }

    #[test]
    fn action_wildcard_matches_only_its_prefix() {
        let p = [allow(json!("secretsmanager:Put*"), json!("*"))];
        assert_eq!(decide(&p, "secretsmanager:PutSecretValue", SECRET, &[]), Decision::Allowed);
        assert_eq!(decide(&p, "secretsmanager:GetSecretValue", SECRET, &[]), Decision::ImplicitDeny);
    }

    #[test]
    fn resources_compare_case_sensitively() {
        let p = [allow(json!("s3:GetObject"), json!("arn:aws:s3:::Bucket/*"))];
        assert_eq!(decide(&p, "s3:GetObject", "arn:aws:s3:::bucket/k", &[]), Decision::ImplicitDeny);
        assert_eq!(decide(&p, "s3:GetObject", "arn:aws:s3:::Bucket/k", &[]), Decision::Allowed);
    }

    #[test]
    fn secret_arn_with_random_suffix_matches_six_question_marks() {
        let p = [allow(
            json!(["secretsmanager:GetSecretValue"]),
            json!(["arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/db-??????"]),
        )];
        assert_eq!(decide(&p, "secretsmanager:GetSecretValue", SECRET, &[]), Decision::Allowed);
        let other = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/db-extra-AbCdEf";
        assert_eq!(decide(&p, "secretsmanager:GetSecretValue", other, &[]), Decision::ImplicitDeny);
    }

    #[test]
    fn nothing_matching_is_implicit_deny() {
        assert_eq!(decide(&[], "s3:GetObject", "*", &[]), Decision::ImplicitDeny);
        let p = [allow(json!("s3:PutObject"), json!("*"))];
        assert_eq!(decide(&p, "s3:GetObject", "arn:aws:s3:::b/k", &[]), Decision::ImplicitDeny);
    }

    #[test]
    fn deny_beats_allow_and_names_its_sid() {
        let p = [json!({ "Version": "2012-10-17", "Statement": [
            { "Effect": "Allow", "Action": "s3:*", "Resource": "*" },
            { "Sid": "NoDelete", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*" },
        ]})];
        assert_eq!(
            decide(&p, "s3:DeleteObject", "arn:aws:s3:::b/k", &[]),
            Decision::ExplicitDeny { sid: Some("NoDelete".into()) }
        );
        assert_eq!(decide(&p, "s3:GetObject", "arn:aws:s3:::b/k", &[]), Decision::Allowed);
    }

    #[test]
    fn deny_in_one_policy_beats_allow_in_another() {
        let p = [
            allow(json!("*"), json!("*")),
            json!({ "Statement": { "Effect": "Deny", "Action": "iam:*", "Resource": "*" } }),
        ];
        assert_eq!(decide(&p, "iam:CreateUser", "*", &[]), Decision::ExplicitDeny { sid: None });
    }

    #[test]
    fn statement_may_be_a_single_object() {
        let p = [json!({ "Statement": { "Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "*" } })];
        assert_eq!(decide(&p, "logs:PutLogEvents", "arn:aws:logs:x", &[]), Decision::Allowed);
    }

    #[test]
    fn not_action_matches_every_other_action() {
        let p = [json!({ "Statement": [{ "Effect": "Allow", "NotAction": ["iam:*", "sts:*"], "Resource": "*" }] })];
        assert_eq!(decide(&p, "s3:GetObject", "arn:aws:s3:::b/k", &[]), Decision::Allowed);
        assert_eq!(decide(&p, "iam:PassRole", "arn:aws:iam::1:role/r", &[]), Decision::ImplicitDeny);
    }

    #[test]
    fn not_resource_matches_every_other_resource() {
        let p = [json!({ "Statement": [
            { "Effect": "Allow", "Action": "s3:*", "Resource": "*" },
            { "Effect": "Deny", "Action": "s3:*", "NotResource": "arn:aws:s3:::mine/*" },
        ]})];
        assert_eq!(decide(&p, "s3:GetObject", "arn:aws:s3:::mine/k", &[]), Decision::Allowed);
        assert_eq!(decide(&p, "s3:GetObject", "arn:aws:s3:::theirs/k", &[]), Decision::ExplicitDeny { sid: None });
    }

    #[test]
    fn lowercase_effect_neither_allows_nor_denies() {
        let p = [json!({ "Statement": [{ "Effect": "allow", "Action": "*", "Resource": "*" }] })];
        assert_eq!(decide(&p, "s3:GetObject", "*", &[]), Decision::ImplicitDeny);
    }

    #[test]
    fn unknown_statement_key_is_decided_conservatively() {
        let p = [json!({ "Statement": [{ "Effect": "Allow", "Action": "*", "Resource": "*", "Principal": "*" }] })];
        assert_eq!(decide(&p, "s3:GetObject", "*", &[]), Decision::ImplicitDeny);
        let p = [json!({ "Statement": [{ "Effect": "Deny", "Action": "*", "Resource": "*", "Conditon": {} }] })];
        assert_eq!(decide(&p, "s3:GetObject", "*", &[]), Decision::ExplicitDeny { sid: None });
    }

    #[test]
    fn policy_variable_in_resource_is_decided_conservatively() {
        let p = [allow(json!("s3:GetObject"), json!("arn:aws:s3:::b/${aws:username}/*"))];
        assert_eq!(decide(&p, "s3:GetObject", "arn:aws:s3:::b/${aws:username}/k", &[]), Decision::ImplicitDeny);
    }

    // --- conditions ---

    #[test]
    fn string_equals_on_requested_region() {
        let p = [allow_if(json!({ "StringEquals": { "aws:RequestedRegion": ["eu-west-1", "eu-central-1"] } }))];
        assert_eq!(decide(&p, "s3:GetObject", "*", &[("aws:RequestedRegion", "eu-central-1")]), Decision::Allowed);
        assert_eq!(decide(&p, "s3:GetObject", "*", &[("aws:RequestedRegion", "us-east-1")]), Decision::ImplicitDeny);
    }

    #[test]
    fn string_not_equals_holds_only_when_no_value_matches() {
        let p = [deny_if(json!({ "StringNotEquals": { "aws:RequestedRegion": ["eu-west-1", "eu-central-1"] } }))];
        let denied = Decision::ExplicitDeny { sid: Some("Guard".into()) };
        assert_eq!(decide(&p, "s3:GetObject", "*", &[("aws:RequestedRegion", "us-east-1")]), denied);
        assert_eq!(decide(&p, "s3:GetObject", "*", &[("aws:RequestedRegion", "eu-west-1")]), Decision::ImplicitDeny);
    }

    #[test]
    fn missing_key_fails_string_equals() {
        let p = [allow_if(json!({ "StringEquals": { "aws:RequestedRegion": "eu-west-1" } }))];
        assert_eq!(decide(&p, "s3:GetObject", "*", &[]), Decision::ImplicitDeny);
    }

    #[test]
    fn missing_key_satisfies_string_not_equals() {
        let p = [allow_if(json!({ "StringNotEquals": { "aws:RequestedRegion": "eu-west-1" } }))];
        assert_eq!(decide(&p, "s3:GetObject", "*", &[]), Decision::Allowed);
    }

    #[test]
    fn missing_key_satisfies_if_exists() {
        let p = [allow_if(json!({ "StringEqualsIfExists": { "aws:RequestedRegion": "eu-west-1" } }))];
        assert_eq!(decide(&p, "s3:GetObject", "*", &[]), Decision::Allowed);
        assert_eq!(decide(&p, "s3:GetObject", "*", &[("aws:RequestedRegion", "us-east-1")]), Decision::ImplicitDeny);
    }

    #[test]
    fn condition_keys_compare_case_insensitively() {
        let p = [allow_if(json!({ "StringEquals": { "AWS:requestedregion": "eu-west-1" } }))];
        assert_eq!(decide(&p, "s3:GetObject", "*", &[("aws:RequestedRegion", "eu-west-1")]), Decision::Allowed);
    }

    #[test]
    fn string_equals_is_case_sensitive_unless_ignore_case() {
        let p = [allow_if(json!({ "StringEquals": { "aws:PrincipalTag/team": "Ops" } }))];
        assert_eq!(decide(&p, "s3:GetObject", "*", &[("aws:PrincipalTag/team", "ops")]), Decision::ImplicitDeny);
        let p = [allow_if(json!({ "StringEqualsIgnoreCase": { "aws:PrincipalTag/team": "Ops" } }))];
        assert_eq!(decide(&p, "s3:GetObject", "*", &[("aws:PrincipalTag/team", "ops")]), Decision::Allowed);
    }

    #[test]
    fn bool_secure_transport_denies_plain_http() {
        let p =
            [allow(json!("s3:GetObject"), json!("*")), deny_if(json!({ "Bool": { "aws:SecureTransport": false } }))];
        let denied = Decision::ExplicitDeny { sid: Some("Guard".into()) };
        assert_eq!(decide(&p, "s3:GetObject", "*", &[("aws:SecureTransport", "false")]), denied);
        assert_eq!(decide(&p, "s3:GetObject", "*", &[("aws:SecureTransport", "true")]), Decision::Allowed);
        // Missing key: Bool is positive, so the deny does not apply.
        assert_eq!(decide(&p, "s3:GetObject", "*", &[]), Decision::Allowed);
    }

    #[test]
    fn arn_like_matches_each_part_separately() {
        let p = [allow_if(json!({ "ArnLike": { "aws:SourceArn": "arn:aws:ecs:*:111122223333:task/*" } }))];
        let task = "arn:aws:ecs:eu-west-1:111122223333:task/cluster/abc";
        assert_eq!(decide(&p, "s3:GetObject", "*", &[("aws:SourceArn", task)]), Decision::Allowed);
        let other = "arn:aws:ecs:eu-west-1:444455556666:task/cluster/abc";
        assert_eq!(decide(&p, "s3:GetObject", "*", &[("aws:SourceArn", other)]), Decision::ImplicitDeny);
        // The region `*` may not swallow the account part.
        let p = [allow_if(json!({ "ArnLike": { "aws:SourceArn": "arn:aws:ecs:*:task/*" } }))];
        assert_eq!(decide(&p, "s3:GetObject", "*", &[("aws:SourceArn", task)]), Decision::ImplicitDeny);
    }

    #[test]
    fn operators_and_keys_are_and_ed() {
        let p = [allow_if(json!({
            "StringEquals": { "aws:RequestedRegion": "eu-west-1", "aws:PrincipalTag/team": "ops" },
            "Bool": { "aws:SecureTransport": "true" },
        }))];
        let all =
            [("aws:RequestedRegion", "eu-west-1"), ("aws:PrincipalTag/team", "ops"), ("aws:SecureTransport", "true")];
        assert_eq!(decide(&p, "s3:GetObject", "*", &all), Decision::Allowed);
        assert_eq!(decide(&p, "s3:GetObject", "*", &all[..2]), Decision::ImplicitDeny);
        assert_eq!(decide(&p, "s3:GetObject", "*", &[all[0], all[2]]), Decision::ImplicitDeny);
    }

    #[test]
    fn null_operator_tests_presence() {
        let p = [deny_if(json!({ "Null": { "aws:RequestTag/owner": "true" } }))];
        let denied = Decision::ExplicitDeny { sid: Some("Guard".into()) };
        assert_eq!(decide(&p, "s3:GetObject", "*", &[]), denied);
        assert_eq!(decide(&p, "s3:GetObject", "*", &[("aws:RequestTag/owner", "me")]), Decision::ImplicitDeny);
    }

    #[test]
    fn unknown_operator_does_not_allow() {
        let p = [allow_if(json!({ "NumericLessThan": { "s3:max-keys": "10" } }))];
        assert_eq!(decide(&p, "s3:GetObject", "*", &[("s3:max-keys", "5")]), Decision::ImplicitDeny);
    }

    #[test]
    fn unknown_operator_denies() {
        let p = [allow(json!("*"), json!("*")), deny_if(json!({ "IpAddress": { "aws:SourceIp": "10.0.0.0/8" } }))];
        assert_eq!(decide(&p, "s3:GetObject", "*", &[]), Decision::ExplicitDeny { sid: Some("Guard".into()) });
    }

    #[test]
    fn set_operator_prefixes_are_conservative_both_ways() {
        let cond = json!({ "ForAnyValue:StringEquals": { "aws:TagKeys": "owner" } });
        let context = [("aws:TagKeys", "owner")];
        assert_eq!(decide(&[allow_if(cond.clone())], "s3:GetObject", "*", &context), Decision::ImplicitDeny);
        let p = [allow(json!("*"), json!("*")), deny_if(cond)];
        assert_eq!(decide(&p, "s3:GetObject", "*", &context), Decision::ExplicitDeny { sid: Some("Guard".into()) });
    }

    #[test]
    fn unknown_condition_does_not_deny_when_the_action_differs() {
        let p = [json!({ "Statement": [
            { "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*" },
            { "Effect": "Deny", "Action": "s3:PutObject", "Resource": "*",
              "Condition": { "NumericLessThan": { "s3:max-keys": "10" } } },
        ]})];
        assert_eq!(decide(&p, "s3:GetObject", "*", &[]), Decision::Allowed);
    }

    // --- checker ---

    fn valid_policy() -> Value {
        json!({
            "Version": "2012-10-17",
            "Statement": [
                { "Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject", "s3:List*"], "Resource": "arn:aws:s3:::b/*" },
                { "Effect": "Deny", "NotAction": "iam:*", "NotResource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
                  "Condition": { "Bool": { "aws:SecureTransport": false }, "StringEquals": { "aws:RequestedRegion": ["eu-west-1"] } } },
                { "Effect": "Allow", "Action": "*", "Resource": "*" },
            ]
        })
    }

    /// The single problem of `doc`, which must contain `needle`.
    fn one_problem(doc: &Value, needle: &str) {
        let problems = check_identity_policy(doc);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].contains(needle), "{:?} does not contain {needle:?}", problems[0]);
    }

    /// `valid_policy` with statement `i` changed by `f`.
    fn with_statement(i: usize, f: impl FnOnce(&mut Map<String, Value>)) -> Value {
        let mut doc = valid_policy();
        f(doc["Statement"][i].as_object_mut().unwrap());
        doc
    }

    #[test]
    fn valid_policy_has_no_problems() {
        assert_eq!(check_identity_policy(&valid_policy()), Vec::<String>::new());
    }

    #[test]
    fn old_version_and_single_statement_object_are_valid() {
        let doc = json!({ "Version": "2008-10-17", "Id": "x",
            "Statement": { "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*" } });
        assert_eq!(check_identity_policy(&doc), Vec::<String>::new());
    }

    #[test]
    fn non_object_document_is_reported() {
        one_problem(&json!([]), "not a JSON object");
    }

    #[test]
    fn missing_version_is_reported() {
        let mut doc = valid_policy();
        doc.as_object_mut().unwrap().shift_remove("Version");
        one_problem(&doc, "no Version");
    }

    #[test]
    fn wrong_version_is_reported() {
        let mut doc = valid_policy();
        doc["Version"] = json!("2012-10-18");
        one_problem(&doc, "Version is \"2012-10-18\"");
    }

    #[test]
    fn unknown_document_key_is_reported_with_a_suggestion() {
        let mut doc = valid_policy();
        doc["Statment"] = json!([]);
        one_problem(&doc, "unknown key \"Statment\" (did you mean \"Statement\"?)");
    }

    #[test]
    fn empty_statement_array_is_reported() {
        one_problem(&json!({ "Version": "2012-10-17", "Statement": [] }), "empty array");
    }

    #[test]
    fn missing_statement_is_reported() {
        one_problem(&json!({ "Version": "2012-10-17" }), "no Statement");
    }

    #[test]
    fn principal_is_reported_as_not_for_identity_policies() {
        let doc = with_statement(0, |s| {
            s.insert("Principal".into(), json!({ "AWS": "*" }));
        });
        one_problem(&doc, "Statement[0] (Sid \"Read\") has a Principal; identity policies have none");
    }

    #[test]
    fn lowercase_effect_is_reported() {
        let doc = with_statement(2, |s| {
            s.insert("Effect".into(), json!("allow"));
        });
        one_problem(&doc, "Statement[2] has Effect \"allow\"; write \"Allow\"");
    }

    #[test]
    fn missing_action_is_reported() {
        let doc = with_statement(0, |s| {
            s.shift_remove("Action");
        });
        one_problem(&doc, "Statement[0] (Sid \"Read\") has no Action");
    }

    #[test]
    fn both_action_and_not_action_are_reported() {
        let doc = with_statement(2, |s| {
            s.insert("NotAction".into(), json!("iam:*"));
        });
        one_problem(&doc, "both Action and NotAction");
    }

    #[test]
    fn malformed_actions_are_reported() {
        for bad in ["s3GetObject", "S3:GetObject", "s3:", "s3:Get_Object"] {
            let doc = with_statement(2, |s| {
                s.insert("Action".into(), json!(bad));
            });
            one_problem(&doc, &format!("Action \"{bad}\""));
        }
        let doc = with_statement(2, |s| {
            s.insert("Action".into(), json!([]));
        });
        one_problem(&doc, "empty Action array");
    }

    #[test]
    fn resource_that_is_not_an_arn_is_reported() {
        let doc = with_statement(0, |s| {
            s.insert("Resource".into(), json!(["arn:aws:s3:::b", "my-bucket"]));
        });
        one_problem(&doc, "Resource \"my-bucket\", which is not \"*\" or an ARN");
    }

    #[test]
    fn condition_values_must_be_objects() {
        let doc = with_statement(1, |s| {
            s.insert("Condition".into(), json!({ "StringEquals": "eu-west-1" }));
        });
        one_problem(&doc, "Condition operator \"StringEquals\" set to a string");
        let doc = with_statement(1, |s| {
            s.insert("Condition".into(), json!(["x"]));
        });
        one_problem(&doc, "Condition that is an array");
    }

    #[test]
    fn unknown_statement_key_is_reported() {
        let doc = with_statement(2, |s| {
            s.insert("Resources".into(), json!("*"));
        });
        one_problem(&doc, "unknown key \"Resources\" (did you mean \"Resource\"?)");
    }

    #[test]
    fn bad_and_duplicate_sids_are_reported() {
        let doc = with_statement(2, |s| {
            s.insert("Sid".into(), json!("Read"));
        });
        one_problem(&doc, "repeats the Sid");
        let doc = with_statement(0, |s| {
            s.insert("Sid".into(), json!("read-all"));
        });
        one_problem(&doc, "not alphanumeric");
    }

    #[test]
    fn every_problem_is_reported() {
        let doc = json!({ "Statement": [{ "Effect": "Permit", "Principal": "*" }, 3] });
        let problems = check_identity_policy(&doc);
        assert_eq!(problems.len(), 6, "{problems:#?}");
    }

    #[test]
    fn size_ignores_white_space() {
        let doc = json!({ "Version": "2012-10-17", "Statement": { "Sid": "a b" } });
        let compact = r#"{"Version":"2012-10-17","Statement":{"Sid":"ab"}}"#;
        assert_eq!(policy_size(&doc), compact.len());
        let pretty: Value = serde_json::from_str(&serde_json::to_string_pretty(&doc).unwrap()).unwrap();
        assert_eq!(policy_size(&pretty), policy_size(&doc));
    }
}
