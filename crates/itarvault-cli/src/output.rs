//! What client commands print: JSON for scripts (`--json`), a summary for people.

use serde_json::Value;

use crate::OutputArgs;

pub fn print(out: OutputArgs, v: &Value, human: impl FnOnce(&Value) -> String) {
    if out.json {
        println!("{v}");
    } else {
        println!("{}", human(v));
    }
}

pub fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// Prints a request or proposal: the full JSON, or a summary for people.
pub fn print_item(out: OutputArgs, v: &Value) -> anyhow::Result<()> {
    print(out, v, |v| {
        let id = v["id"].as_str().unwrap_or("");
        if !(id.starts_with("req_") || id.starts_with("prop_")) {
            return pretty(v);
        }
        let approvals: Vec<&str> = v["approvals"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x["by"].as_str()).collect())
            .unwrap_or_default();
        let what = v["effect"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("{} on {}", v["actions"], v["scope"]));
        let mut s = format!(
            "{id} [{}] by {}: {what}\n  approvals {}/{} ({}) from [{}]",
            v["state"].as_str().unwrap_or("?"),
            v["requester"].as_str().unwrap_or("?"),
            approvals.len(),
            v["required"],
            approvals.join(", "),
            v["approvers"]
                .as_array()
                .map(|a| a
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default()
        );
        for (k, label) in [
            ("not_after", "grant ends"),
            ("result", "result"),
            ("justification", "justification"),
            (
                "enrollment_token",
                "enrollment token (shown once: hand it to the person, who runs `itarvault tokens create` with it)",
            ),
        ] {
            if let Some(t) = v[k].as_str() {
                s.push_str(&format!("\n  {label}: {t}"));
            }
        }
        s
    });
    Ok(())
}

pub fn print_list(out: OutputArgs, v: &Value) -> anyhow::Result<()> {
    if out.json {
        println!("{v}");
        return Ok(());
    }
    let items = v.as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        println!("nothing");
    }
    for it in items {
        print_item(out, &it)?;
    }
    Ok(())
}
