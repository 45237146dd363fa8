//! `hubtune inspect`: what the handlers would do with each record of an input event, offline. It asks the same
//! decision the handlers dispatch on (`hubtune::domain::handling`), so it cannot say one thing while a Lambda does
//! another. What only a read can tell (a dataset's files, a job's status) it names as the next step.

use std::path::Path;
use std::process::ExitCode;

use hubtune::domain::config::Config;
use hubtune::domain::handling::{decide, Function, NeedsRoutes};
use hubtune::domain::inbound::{parse_message, Inbound};
use serde_json::{json, Value};

use crate::commands::common::{load_config, read, Res};

/// One body of the event: an SQS record's (with its message id) or the whole event.
struct Body {
    label: String,
    value: Value,
}

pub fn inspect(
    event: &Path,
    config_path: Option<&Path>,
    function: Option<&str>,
    as_json: bool,
) -> Res {
    let body: Value = serde_json::from_str(&read(event)?)
        .map_err(|e| format!("{}: not JSON: {e}", event.display()))?;
    let function = function.map(parse_function).transpose()?;
    let config = config_path.map(load_config).transpose()?;
    let mut out = Vec::new();
    for b in unwrap_sqs_batch(body) {
        let records = parse_message(&b.value);
        let many = records.len() > 1;
        for (i, inbound) in records.into_iter().enumerate() {
            let label = if many {
                format!("{} record {}", b.label, i + 1)
            } else {
                b.label.clone()
            };
            out.extend(endings(&label, inbound, function, config.as_ref())?);
        }
    }
    if as_json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for e in &out {
            let field = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            println!(
                "{} → {}: {}",
                field("record"),
                field("function"),
                field("says")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_function(name: &str) -> Result<Function, String> {
    Function::parse(name).ok_or_else(|| {
        let names: Vec<&str> = Function::ALL.iter().map(|f| f.name()).collect();
        format!(
            "--function {name}: not a hubtune function (one of {})",
            names.join(", ")
        )
    })
}

/// What the function given (or the one hubtune's wiring gives this input to) does with one record. An input no
/// function takes is shown in all three: each returns it (the decision's unit tests hold that they agree).
fn endings(
    label: &str,
    inbound: Inbound,
    function: Option<Function>,
    config: Option<&Config>,
) -> Result<Vec<Value>, serde_json::Error> {
    let functions = match function.or_else(|| Function::for_input(&inbound)) {
        Some(f) => vec![f],
        None => Function::ALL.to_vec(),
    };
    let input = serde_json::to_value(&inbound)?;
    let mut out = Vec::new();
    for f in functions {
        // The clock stands in only for an envelope without a time (it orders a route's datasets, not what ends).
        let (meaning, says) = match decide(f, inbound.clone(), config, chrono::Utc::now()) {
            Ok(h) => (serde_json::to_value(&h)?, h.to_string()),
            Err(NeedsRoutes { function }) => (
                json!({ "outcome": "needs_routes" }),
                format!(
                    "{function} needs the routes file (--config) to say what it does with this input ({})",
                    inbound.kind()
                ),
            ),
        };
        out.push(json!({ "record": label, "function": f, "input": input, "meaning": meaning, "says": says }));
    }
    Ok(out)
}

/// An SQS batch is unwrapped record by record, as the functions do (a body that is not JSON is given as text);
/// anything else is one body.
fn unwrap_sqs_batch(body: Value) -> Vec<Body> {
    match hubtune::runtime::batch::sqs_batch(&body) {
        Some(batch) => batch
            .records
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let b = r.body.unwrap_or_default();
                Body {
                    label: format!(
                        "message {}",
                        r.message_id.unwrap_or_else(|| format!("#{}", i + 1))
                    ),
                    value: serde_json::from_str(&b).unwrap_or(Value::String(b)),
                }
            })
            .collect(),
        None => vec![Body {
            label: "event".into(),
            value: body,
        }],
    }
}
