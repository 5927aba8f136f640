//! The OpenAPI document: the golden file is current, every operation in it
//! exists in the router, and the answers of the API match its schemas.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use gateway::http::openapi::{OPERATIONS, document, pretty};
use serde_json::Value;

use crate::support::{app, json, send};

fn golden_path() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/src/openapi.json")
}

#[test]
fn the_golden_file_is_the_document() {
    let path = golden_path();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, pretty()).unwrap();
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        golden == pretty(),
        "docs/src/openapi.json is not the API's document: run UPDATE_GOLDEN=1 cargo test -p gateway openapi, and review the difference"
    );
}

#[tokio::test]
async fn every_operation_exists_and_wants_an_api_key() {
    let (app, _state, db) = app().await;
    for op in OPERATIONS {
        let path = op
            .path
            .replace("{id}", "bill_00000000000000000000000000000000");
        let request = Request::builder()
            .method(op.method.to_uppercase().as_str())
            .uri(&path)
            .body(Body::empty())
            .unwrap();
        let response = send(&app, request).await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{} {path}",
            op.method
        );
    }
    let served = send(&app, crate::support::get("/v1/openapi.json")).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(json(served).await, document());
    db.finish().await;
}

/// Checks `value` against `schema` (the subset of JSON Schema the document
/// uses); returns what does not fit.
pub fn violations(value: &Value, schema: &Value, at: &str) -> Vec<String> {
    let doc = document();
    check(&doc, value, schema, at)
}

fn check(doc: &Value, value: &Value, schema: &Value, at: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap();
        return check(doc, value, &doc["components"]["schemas"][name], at);
    }
    if let Some(options) = schema["oneOf"].as_array() {
        if !options.iter().any(|o| check(doc, value, o, at).is_empty()) {
            out.push(format!("{at}: fits none of oneOf"));
        }
        return out;
    }
    if let Some(constant) = schema.get("const")
        && value != constant
    {
        out.push(format!("{at}: {value} is not {constant}"));
    }
    if let Some(options) = schema["enum"].as_array()
        && !options.contains(value)
    {
        out.push(format!("{at}: {value} is not one of {options:?}"));
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !types.is_empty() {
        let fits = types.iter().any(|t| match *t {
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "boolean" => value.is_boolean(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            "null" => value.is_null(),
            _ => false,
        });
        if !fits {
            out.push(format!("{at}: {value} is not {types:?}"));
            return out;
        }
    }
    if let Some(object) = value.as_object()
        && schema["type"] == "object"
    {
        for name in schema["required"].as_array().into_iter().flatten() {
            if !object.contains_key(name.as_str().unwrap()) {
                out.push(format!("{at}: {name} is missing"));
            }
        }
        for (name, item) in object {
            match schema["properties"].get(name) {
                Some(property) => out.extend(check(doc, item, property, &format!("{at}.{name}"))),
                None => match &schema["additionalProperties"] {
                    Value::Bool(false) => out.push(format!("{at}.{name} is not in the document")),
                    Value::Object(_) => out.extend(check(
                        doc,
                        item,
                        &schema["additionalProperties"],
                        &format!("{at}.{name}"),
                    )),
                    _ => {}
                },
            }
        }
    }
    if let (Some(items), Some(schema)) = (value.as_array(), schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            out.extend(check(doc, item, schema, &format!("{at}[{i}]")));
        }
    }
    out
}

/// Asserts that `value` fits the document's schema `name`.
pub fn assert_fits(value: &Value, name: &str) {
    let schema = serde_json::json!({"$ref": format!("#/components/schemas/{name}")});
    let problems = violations(value, &schema, name);
    assert!(problems.is_empty(), "{problems:#?}\n{value:#}");
}

#[test]
fn the_checker_notices_what_does_not_fit() {
    let bill = serde_json::json!({"object": "bill"});
    assert!(
        !violations(
            &bill,
            &serde_json::json!({"$ref": "#/components/schemas/Bill"}),
            "Bill"
        )
        .is_empty()
    );
    let refund = serde_json::json!({
        "object": "refund", "id": "re_1", "payment_id": "pay_1", "amount": "1.00",
        "status": "succeeded", "reason": null, "failure": null,
        "created_at": "2026-11-28T00:00:00Z", "extra": 1
    });
    let problems = violations(
        &refund,
        &serde_json::json!({"$ref": "#/components/schemas/Refund"}),
        "Refund",
    );
    assert_eq!(
        problems,
        vec!["Refund.extra is not in the document".to_owned()]
    );
}
