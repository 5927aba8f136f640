//! The OpenAPI 3.1 document of the departments' payment API, served at
//! `GET /v1/openapi.json` and kept as a golden file
//! (`docs/src/openapi.json`, checked by a test: a change to the API that
//! forgets the document fails it).
//!
//! The operations are listed once, in [`OPERATIONS`]; a test sends each to
//! the router to prove that it exists, and the schemas are checked against
//! the answers of the end-to-end tests.

use axum::Json;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

/// One operation of the API.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// `get` or `post`.
    pub method: &'static str,
    /// The path, with `{id}` parameters.
    pub path: &'static str,
    /// Its operation id.
    pub id: &'static str,
    /// One line on what it does.
    pub summary: &'static str,
    /// The request body's schema, if it takes one.
    pub body: Option<&'static str>,
    /// Whether it needs an `Idempotency-Key`.
    pub idempotent: bool,
    /// The success status and its schema (`None`: no JSON body).
    pub success: (u16, Option<&'static str>),
    /// Query parameters: name, schema type, description.
    pub query: &'static [(&'static str, &'static str, &'static str)],
}

/// Every operation under `/v1` about payments.
pub const OPERATIONS: &[Operation] = &[
    Operation {
        method: "post",
        path: "/v1/bills",
        id: "createBill",
        summary: "Create a bill; the answer carries the citizen's pay_url.",
        body: Some("BillRequest"),
        idempotent: true,
        success: (201, Some("Bill")),
        query: &[],
    },
    Operation {
        method: "get",
        path: "/v1/bills",
        id: "listBills",
        summary: "The department's bills, newest first, with cursor pagination.",
        body: None,
        idempotent: false,
        success: (200, Some("BillList")),
        query: &[
            ("reference", "string", "Only this reference."),
            ("status", "string", "open, paid, cancelled or expired."),
            (
                "from",
                "string",
                "Made at or after (YYYY-MM-DD or RFC 3339).",
            ),
            ("to", "string", "Made before (YYYY-MM-DD or RFC 3339)."),
            ("limit", "integer", "1 to 100 (default 20)."),
            ("cursor", "string", "next_cursor of the previous page."),
        ],
    },
    Operation {
        method: "get",
        path: "/v1/bills/{id}",
        id: "getBill",
        summary: "A bill with its payments.",
        body: None,
        idempotent: false,
        success: (200, Some("Bill")),
        query: &[],
    },
    Operation {
        method: "post",
        path: "/v1/bills/{id}/cancel",
        id: "cancelBill",
        summary: "Cancel an unpaid bill.",
        body: None,
        idempotent: false,
        success: (200, Some("Bill")),
        query: &[],
    },
    Operation {
        method: "get",
        path: "/v1/payments/{id}",
        id: "getPayment",
        summary: "A payment (one attempt to pay a bill) with its refunds.",
        body: None,
        idempotent: false,
        success: (200, Some("Payment")),
        query: &[],
    },
    Operation {
        method: "post",
        path: "/v1/payments/{id}/refunds",
        id: "createRefund",
        summary: "Refund part or all of a payment (no body: all that is left).",
        body: Some("RefundRequest"),
        idempotent: true,
        success: (201, Some("Refund")),
        query: &[],
    },
    Operation {
        method: "get",
        path: "/v1/refunds/{id}",
        id: "getRefund",
        summary: "A refund.",
        body: None,
        idempotent: false,
        success: (200, Some("Refund")),
        query: &[],
    },
    Operation {
        method: "get",
        path: "/v1/reports/daily",
        id: "dailyReport",
        summary: "One Hong Kong day's totals by method, from the ledger (JSON, or CSV with format=csv).",
        body: None,
        idempotent: false,
        success: (200, Some("DailyReport")),
        query: &[
            (
                "date",
                "string",
                "The Hong Kong date, YYYY-MM-DD (required).",
            ),
            ("format", "string", "json (default) or csv."),
        ],
    },
    Operation {
        method: "get",
        path: "/v1/webhooks/events",
        id: "listWebhookEvents",
        summary: "The department's webhook events and their delivery state.",
        body: None,
        idempotent: false,
        success: (200, Some("EventList")),
        query: &[
            ("status", "string", "pending, delivered or failed."),
            ("limit", "integer", "1 to 200 (default 50)."),
        ],
    },
    Operation {
        method: "post",
        path: "/v1/webhooks/events/{id}/redeliver",
        id: "redeliverWebhookEvent",
        summary: "Queue a webhook event for delivery again.",
        body: None,
        idempotent: false,
        success: (202, None),
        query: &[],
    },
];

fn amount() -> Value {
    json!({"type": "string", "pattern": "^[0-9]{1,8}\\.[0-9]{2}$", "examples": ["1234.50"]})
}

fn object(required: &[&str], properties: Value) -> Value {
    json!({
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": false,
    })
}

fn schemas() -> Value {
    let timestamp = json!({"type": "string", "format": "date-time"});
    let nullable_amount = json!({"oneOf": [amount(), {"type": "null"}]});
    let payment_properties = json!({
        "object": {"const": "payment"},
        "id": {"type": "string", "pattern": "^pay_[0-9a-f]{24}$"},
        "bill_id": {"type": "string"},
        "bill_reference": {"type": "string"},
        "method": {"$ref": "#/components/schemas/Method"},
        "provider": {"type": "string"},
        "status": {"enum": ["created", "pending", "succeeded", "failed", "expired", "cancelled"]},
        "amount": amount(),
        "amount_paid": nullable_amount,
        "amount_refunded": nullable_amount,
        "flagged_for_refund": {"type": "boolean", "description": "Money taken that the bill did not need."},
        "late": {"type": "boolean", "description": "Its success arrived after it had expired."},
        "created_at": timestamp,
        "expires_at": timestamp,
        "refunds": {"type": "array", "items": {"$ref": "#/components/schemas/Refund"}},
    });
    let payment_required = [
        "object",
        "id",
        "bill_id",
        "bill_reference",
        "method",
        "provider",
        "status",
        "amount",
        "amount_paid",
        "amount_refunded",
        "flagged_for_refund",
        "late",
        "created_at",
        "expires_at",
    ];
    let totals = object(
        &[
            "payments",
            "collected",
            "refunded",
            "fees",
            "net",
            "held_for_refund",
        ],
        json!({
            "payments": {"type": "integer"},
            "collected": amount(),
            "refunded": amount(),
            "fees": amount(),
            "net": {"type": "string", "description": "collected - refunded - fees; may be negative."},
            "held_for_refund": {"type": "string"},
        }),
    );
    json!({
        "Method": {"enum": ["fps", "pps", "card", "ewallet"]},
        "Bilingual": object(&["en", "zh"], json!({
            "en": {"type": "string", "minLength": 1, "maxLength": 200},
            "zh": {"type": "string", "minLength": 1, "maxLength": 200},
        })),
        "BillRequest": object(
            &["reference", "amount", "description", "due_date", "methods", "return_url"],
            json!({
                "reference": {"type": "string", "pattern": "^[A-Za-z0-9./-]{1,25}$"},
                "amount": amount(),
                "description": {"$ref": "#/components/schemas/Bilingual"},
                "due_date": {"type": "string", "format": "date"},
                "methods": {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/Method"}},
                "return_url": {"type": "string", "format": "uri", "maxLength": 2048},
                "metadata": {"type": "object", "maxProperties": 20, "additionalProperties": {"type": "string", "maxLength": 500}},
            }),
        ),
        "Bill": object(
            &["object", "id", "reference", "amount", "currency", "description", "due_date", "methods",
              "return_url", "metadata", "status", "mode", "amount_paid", "pay_url", "created_at", "payments"],
            json!({
                "object": {"const": "bill"},
                "id": {"type": "string", "pattern": "^bill_[0-9a-f]{32}$"},
                "reference": {"type": "string"},
                "amount": amount(),
                "currency": {"const": "HKD"},
                "description": {"$ref": "#/components/schemas/Bilingual"},
                "due_date": {"type": "string", "format": "date"},
                "methods": {"type": "array", "items": {"$ref": "#/components/schemas/Method"}},
                "return_url": {"type": "string"},
                "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                "status": {"enum": ["open", "paid", "cancelled", "expired"]},
                "mode": {"enum": ["test", "live"]},
                "amount_paid": amount(),
                "pay_url": {"type": "string", "format": "uri"},
                "created_at": timestamp,
                "payments": {"type": "array", "items": {"$ref": "#/components/schemas/Payment"}},
            }),
        ),
        "BillList": object(&["object", "data", "has_more", "next_cursor"], json!({
            "object": {"const": "list"},
            "data": {"type": "array", "items": {"$ref": "#/components/schemas/Bill"}},
            "has_more": {"type": "boolean"},
            "next_cursor": {"type": ["string", "null"]},
        })),
        "Payment": object(&payment_required, payment_properties),
        "RefundRequest": object(&[], json!({
            "amount": amount(),
            "reason": {"type": "string", "maxLength": 500},
        })),
        "Refund": object(
            &["object", "id", "payment_id", "amount", "status", "reason", "failure", "created_at"],
            json!({
                "object": {"const": "refund"},
                "id": {"type": "string", "pattern": "^re_[0-9a-f]{24}$"},
                "payment_id": {"type": "string"},
                "amount": amount(),
                "status": {"enum": ["pending", "succeeded", "failed"]},
                "reason": {"type": ["string", "null"]},
                "failure": {"type": ["string", "null"]},
                "created_at": timestamp,
            }),
        ),
        "Totals": totals,
        "DailyReport": object(&["object", "date", "currency", "methods", "total"], json!({
            "object": {"const": "daily_report"},
            "date": {"type": "string", "format": "date"},
            "currency": {"const": "HKD"},
            "methods": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/Totals"}},
            "total": {"$ref": "#/components/schemas/Totals"},
        })),
        "Event": object(
            &["id", "type", "status", "attempts", "last_error", "created", "delivered", "next_attempt"],
            json!({
                "id": {"type": "string"},
                "type": {"enum": ["payment.succeeded", "payment.failed", "refund.succeeded", "refund.failed", "bill.cancelled", "bill.expired"]},
                "status": {"enum": ["pending", "delivered", "failed"]},
                "attempts": {"type": "integer"},
                "last_error": {"type": ["string", "null"]},
                "created": {"type": "integer"},
                "delivered": {"type": ["integer", "null"]},
                "next_attempt": {"type": ["integer", "null"]},
            }),
        ),
        "EventList": object(&["object", "data"], json!({
            "object": {"const": "list"},
            "data": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
        })),
        "Error": object(&["error", "message", "request_id"], json!({
            "error": {"type": "string", "description": "A stable code to branch on."},
            "message": {"type": "string"},
            "request_id": {"type": "string"},
        })),
    })
}

fn error(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    })
}

/// The document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for op in OPERATIONS {
        let mut parameters = Vec::new();
        if op.path.contains("{id}") {
            parameters.push(
                json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}),
            );
        }
        if op.idempotent {
            parameters.push(json!({
                "name": "Idempotency-Key", "in": "header", "required": true,
                "description": "1 to 255 printable ASCII characters; the same key and body answer the first answer again.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            }));
        }
        for (name, kind, description) in op.query {
            parameters.push(json!({
                "name": name, "in": "query", "required": *name == "date",
                "description": description, "schema": {"type": kind},
            }));
        }
        let mut responses = Map::new();
        let (status, schema) = op.success;
        responses.insert(
            status.to_string(),
            match schema {
                Some(schema) => json!({
                    "description": "Done.",
                    "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}},
                }),
                None => json!({"description": "Accepted."}),
            },
        );
        responses.insert(
            "400".into(),
            error("Malformed query, header or Idempotency-Key."),
        );
        responses.insert(
            "401".into(),
            error("No API key, or an unknown, revoked or wrong one."),
        );
        if op.path.contains("{id}") {
            responses.insert("404".into(), error("No such object of this department."));
        }
        if op.method == "post" {
            responses.insert("409".into(), error("Not in this state, a duplicate reference, or the same Idempotency-Key still running."));
            responses.insert("422".into(), error("The request breaks a rule (the code says which), or the Idempotency-Key was used with another body."));
        }
        responses.insert(
            "429".into(),
            error("The department's request limit; see Retry-After."),
        );
        responses.insert("503".into(), error("Temporarily unavailable; retry."));
        let mut operation = json!({
            "operationId": op.id,
            "summary": op.summary,
            "parameters": parameters,
            "responses": responses,
        });
        if let Some(body) = op.body {
            operation["requestBody"] = json!({
                "required": op.id == "createBill",
                "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{body}")}}},
            });
        }
        let entry = paths
            .entry(op.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        entry[op.method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "eID and e-payment gateway: department payment API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Bills, payments, refunds, reports and webhook events. Amounts are HKD strings with two decimals. Authenticate with an API key: Authorization: Bearer gw_test_… or gw_live_…. Webhooks carry Gateway-Signature: t=<unix>,v1=<hex HMAC-SHA256 of \"{t}.{body}\">.",
        },
        "security": [{"apiKey": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer", "description": "gw_test_… or gw_live_…"}},
            "schemas": schemas(),
        },
    })
}

/// The document as the golden file holds it (pretty, with a final newline).
pub fn pretty() -> String {
    let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
    text.push('\n');
    text
}

/// `GET /v1/openapi.json`.
pub async fn serve() -> impl IntoResponse {
    Json(document())
}
