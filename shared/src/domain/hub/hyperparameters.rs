//! Hyperparameter specs of a hub document: their types, scopes, defaults and bounds, checked as the SDK checks them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::hub::python::{python_float, python_str};

/// Hyperparameter value types of a JumpStart document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HyperparameterType {
    Int,
    Float,
    Text,
    Bool,
    /// A type this version does not know: values pass unchecked, as the SDK lets them.
    #[serde(other)]
    Unknown,
}

impl fmt::Display for HyperparameterType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HyperparameterType::Int => "int",
            HyperparameterType::Float => "float",
            HyperparameterType::Text => "text",
            HyperparameterType::Bool => "bool",
            HyperparameterType::Unknown => "unknown",
        })
    }
}

/// `algorithm` hyperparameters are the model's knobs (sent); `container` ones are the SDK's plumbing (not sent).
/// Variant-level specs say `hyper`, which the SDK applies whatever it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HyperparameterScope {
    Algorithm,
    Container,
    #[serde(other)]
    Other,
}

/// One hyperparameter spec. The document spells the keys `Name`, `Type`…; instance variants spell them `name`,
/// `type`…: both are read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HyperparameterSpec {
    #[serde(rename = "Name", alias = "name")]
    pub name: String,
    #[serde(rename = "Type", alias = "type")]
    pub kind: HyperparameterType,
    #[serde(rename = "Default", alias = "default", default)]
    pub default: serde_json::Value,
    #[serde(rename = "Scope", alias = "scope", default = "default_scope")]
    pub scope: HyperparameterScope,
    #[serde(
        rename = "Options",
        alias = "options",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub options: Option<Vec<serde_json::Value>>,
    #[serde(
        rename = "Min",
        alias = "min",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub min: Option<f64>,
    #[serde(
        rename = "Max",
        alias = "max",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max: Option<f64>,
    #[serde(
        rename = "ExclusiveMin",
        alias = "exclusive_min",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub exclusive_min: Option<f64>,
    #[serde(
        rename = "ExclusiveMax",
        alias = "exclusive_max",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub exclusive_max: Option<f64>,
}

fn default_scope() -> HyperparameterScope {
    HyperparameterScope::Algorithm
}

impl HyperparameterSpec {
    /// The default as the SDK stringifies it (Python's `str()`): `1`, `0.0001`, `1e-08`, `True`.
    pub fn default_string(&self) -> String {
        python_str(&self.default)
    }

    /// Checks a route's value the way the SDK's `validate_hyperparameters` does. `Err` says which rule failed.
    pub fn check(&self, value: &str) -> Result<(), String> {
        match self.kind {
            HyperparameterType::Bool => {
                if !value.eq_ignore_ascii_case("true") && !value.eq_ignore_ascii_case("false") {
                    return Err("must be a boolean (`True` or `False`)".into());
                }
            }
            HyperparameterType::Text => {
                if let Some(options) = &self.options {
                    let options: Vec<String> = options.iter().map(python_str).collect();
                    if !options.iter().any(|o| o == value) {
                        return Err(format!("must be one of: {}", options.join(", ")));
                    }
                }
                // Text bounds are on the length, as in the SDK.
                let len = value.chars().count() as f64;
                check_bounds(len, self, "its length")?;
            }
            HyperparameterType::Int | HyperparameterType::Float => {
                let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
                if self.kind == HyperparameterType::Int
                    && (digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()))
                {
                    return Err("must be an integer".into());
                }
                let n: f64 = value
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n: &f64| n.is_finite())
                    .ok_or_else(|| "must be a finite number".to_string())?;
                check_bounds(n, self, "it")?;
            }
            HyperparameterType::Unknown => {}
        }
        Ok(())
    }

    /// The rules, for messages: `int, 1 <= x <= 1000`.
    pub fn describe_rule(&self) -> String {
        let mut parts = vec![self.kind.to_string()];
        if let Some(o) = &self.options {
            parts.push(format!(
                "one of {}",
                o.iter().map(python_str).collect::<Vec<_>>().join("/")
            ));
        }
        let what = if self.kind == HyperparameterType::Text {
            "length"
        } else {
            "value"
        };
        if let Some(m) = self.min {
            parts.push(format!("{what} >= {}", python_float(m)));
        }
        if let Some(m) = self.exclusive_min {
            parts.push(format!("{what} > {}", python_float(m)));
        }
        if let Some(m) = self.max {
            parts.push(format!("{what} <= {}", python_float(m)));
        }
        if let Some(m) = self.exclusive_max {
            parts.push(format!("{what} < {}", python_float(m)));
        }
        parts.join(", ")
    }
}

fn check_bounds(n: f64, spec: &HyperparameterSpec, what: &str) -> Result<(), String> {
    if let Some(min) = spec.min.filter(|m| n < *m) {
        return Err(format!("{what} must be at least {}", python_float(min)));
    }
    if let Some(max) = spec.max.filter(|m| n > *m) {
        return Err(format!("{what} must be at most {}", python_float(max)));
    }
    if let Some(min) = spec.exclusive_min.filter(|m| n <= *m) {
        return Err(format!("{what} must be greater than {}", python_float(min)));
    }
    if let Some(max) = spec.exclusive_max.filter(|m| n >= *m) {
        return Err(format!("{what} must be less than {}", python_float(max)));
    }
    Ok(())
}
