//! HCL → a small value tree that remembers where each value came from.
//!
//! tfvars files hold literal values only; anything else (function calls, references)
//! is kept as `Unsupported` so validation can point at it.

use std::ops::Range;

use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::Span;

pub type ByteSpan = Option<Range<usize>>;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    List(Vec<Spanned>),
    Object(Vec<(String, Spanned)>),
    /// An expression a tfvars file cannot hold (a reference, a function call, ...).
    Unsupported(&'static str),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Spanned {
    pub value: Value,
    pub span: ByteSpan,
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The type name as Terraform spells it, for "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Object(_) => "object",
            Value::Unsupported(kind) => kind,
        }
    }
}

/// The text of a template made of literals only; `None` when it interpolates.
fn literal(template: &hcl_edit::template::Template) -> Option<String> {
    template.iter().map(|e| e.as_literal().map(|l| l.as_str())).collect()
}

pub fn from_expr(expr: &Expression) -> Spanned {
    let value = match expr {
        Expression::Null(_) => Value::Null,
        Expression::Bool(b) => Value::Bool(*b.value()),
        Expression::Number(n) => Value::Number(n.value().as_f64().unwrap_or(f64::NAN)),
        Expression::String(s) => Value::String(s.value().clone()),
        Expression::Array(items) => Value::List(items.iter().map(from_expr).collect()),
        Expression::Object(obj) => Value::Object(
            obj.iter()
                .map(|(key, value)| {
                    let name = match key {
                        ObjectKey::Ident(ident) => ident.value().as_str().to_owned(),
                        ObjectKey::Expression(Expression::String(s)) => s.value().clone(),
                        ObjectKey::Expression(other) => format!("{other}"),
                    };
                    (name, from_expr(value.expr()))
                })
                .collect(),
        ),
        Expression::Parenthesis(inner) => return from_expr(inner.inner()),
        // A heredoc (or quoted template) without interpolations is a plain string.
        Expression::HeredocTemplate(h) => {
            literal(&h.template).map_or(Value::Unsupported("string template"), Value::String)
        }
        Expression::StringTemplate(t) => literal(t).map_or(Value::Unsupported("string template"), Value::String),
        Expression::Variable(_) | Expression::Traversal(_) => Value::Unsupported("reference"),
        Expression::FuncCall(_) => Value::Unsupported("function call"),
        Expression::UnaryOp(op) => match (op.operator.value(), from_expr(&op.expr).value) {
            (hcl_edit::expr::UnaryOperator::Neg, Value::Number(n)) => Value::Number(-n),
            _ => Value::Unsupported("expression"),
        },
        Expression::Conditional(_) | Expression::BinaryOp(_) | Expression::ForExpr(_) => {
            Value::Unsupported("expression")
        }
    };
    Spanned { value, span: expr.span() }
}
