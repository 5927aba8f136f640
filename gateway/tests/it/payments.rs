//! Payments end to end on SQLite and PostgreSQL: bills through the `/v1`
//! API with idempotency keys, paid by FPS (the sandbox bank) and PPS (the
//! sandbox page), provider callbacks verified, one signed webhook per
//! outcome (checked with the SDK's verifier), refunds, and a daily report
//! that agrees with the ledger; duplicate notifications, expiry, webhook
//! retries and hostile input.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use gateway::config::{FeeSettings, FpsSettings, PpsSettings};
use gateway::payments::webhooks::Deliverer;
use gateway::payments::{Recorded, work_once};
use gateway::state::Clock;
use gateway::store::payments::WebhookEndpoint;
use gateway::{AppState, Config};
use payment_core::adapters::NextStep;
use payment_core::adapters::pps::sandbox::PpsOutcome;
use payment_core::bill::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::flow::Backend;
use crate::support::{TestDb, json as body_json, send};

const SECRET: &str = "whsec_department_test_secret_0123456789";

#[derive(Debug)]
struct TestClock(Mutex<OffsetDateTime>);

impl Clock for TestClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

impl TestClock {
    fn advance(&self, secs: i64) {
        *self.0.lock().unwrap() += time::Duration::seconds(secs);
    }
}

/// A department's webhook endpoint on loopback that records what it gets
/// and can be taken down.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(String, String, String)>>>,
    down: Arc<AtomicBool>,
}

impl Receiver {
    async fn start(&self) -> String {
        let me = self.clone();
        let app = axum::Router::new().route(
            "/hooks",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let me = me.clone();
                    async move {
                        if me.down.load(Ordering::SeqCst) {
                            return StatusCode::SERVICE_UNAVAILABLE;
                        }
                        let h = |n: &str| {
                            headers
                                .get(n)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("")
                                .to_owned()
                        };
                        me.got.lock().unwrap().push((
                            h("gateway-event-id"),
                            h("gateway-signature"),
                            String::from_utf8(body.to_vec()).unwrap(),
                        ));
                        StatusCode::OK
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}/hooks")
    }

    fn events(&self) -> Vec<Value> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(_, _, body)| serde_json::from_str(body).unwrap())
            .collect()
    }
}

struct Pay {
    app: axum::Router,
    state: AppState,
    db: TestDb,
    clock: Arc<TestClock>,
    key: String,
    client_id: String,
    receiver: Receiver,
    deliverer: Deliverer,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The key-encryption key of the tests (webhook secrets are sealed with it).
const KEK: &str = "S0VLLWZvci1wYXltZW50cy10ZXN0cy0wMTIzNDU2Nzg=";

fn kek() -> eid_core::oidc::KeyEncryptionKey {
    eid_core::oidc::KeyEncryptionKey::from_base64(&eid_core::Secret::new(KEK.into())).unwrap()
}

fn payments_config(config: &mut Config) {
    config.keys.encryption_key = Some(eid_core::Secret::new(KEK.into()));
    config.payments.fps = Some(FpsSettings {
        provider_id: "fps".into(),
        proxy: payment_core::fps::Proxy::FpsId("1234567".into()),
        clearing_code: Some("004".into()),
        merchant_name: "Lands Department".into(),
        merchant_city: "Hong Kong".into(),
        merchant_category: "9399".into(),
        bank_public_keys: Vec::new(),
        sandbox_seed: Some(eid_core::Secret::new(b64(&[7u8; 32]))),
        tolerance_secs: 300,
        fee: FeeSettings {
            fixed_cents: 0,
            basis_points: 50,
        },
    });
    config.payments.pps = Some(PpsSettings {
        provider_id: "pps".into(),
        pay_url: None,
        merchant_code: "9123".into(),
        key: eid_core::Secret::new(b64(&[9u8; 32])),
        sandbox: true,
        tolerance_secs: 300,
        fee: FeeSettings {
            fixed_cents: 150,
            basis_points: 0,
        },
    });
}

async fn setup(backend: Backend) -> Option<Pay> {
    let db = match backend {
        Backend::Sqlite => crate::support::sqlite().await,
        Backend::Postgres => crate::support::postgres().await?,
    };
    let mut config = db.config.clone();
    payments_config(&mut config);
    // 2026-11-28 10:00 Hong Kong.
    let clock = Arc::new(TestClock(Mutex::new(
        time::macros::datetime!(2026-11-28 02:00 UTC),
    )));
    let state = AppState::with_clock(db.db.clone(), config, clock.clone());
    assert!(state.payments().is_some(), "the payment settings are good");
    Some(department_of(db, state, clock).await)
}

/// A department with a test API key and a webhook endpoint (a
/// [`Receiver`]) on `state`.
async fn department_of(db: TestDb, state: AppState, clock: Arc<TestClock>) -> Pay {
    let dept = crate::par::department(&state).await;
    let (key, stored) =
        gateway::api_keys::generate(&dept.client_id, gateway::api_keys::Mode::Test, state.now())
            .unwrap();
    state.db().insert_api_key(&stored).await.unwrap();
    let receiver = Receiver::default();
    let url = receiver.start().await;
    state
        .db()
        .set_webhook_endpoint(
            &WebhookEndpoint {
                client_id: dept.client_id.clone(),
                url,
                secrets: vec![SECRET.into()],
            },
            &kek(),
            0,
        )
        .await
        .unwrap();
    Pay {
        app: gateway::app(state.clone()),
        state,
        db,
        clock,
        key,
        client_id: dept.client_id,
        receiver,
        deliverer: Deliverer::new(std::time::Duration::from_secs(5), 72, Some(Arc::new(kek()))),
    }
}

fn bill_body(reference: &str, amount: &str) -> Value {
    json!({
        "reference": reference,
        "amount": amount,
        "description": { "en": "Government rent", "zh": "地租" },
        "due_date": "2026-12-31",
        "methods": ["fps", "pps"],
        "return_url": "https://lands.gov.hk/paid",
        "metadata": { "account": "7788-1" },
    })
}

impl Pay {
    fn request(
        &self,
        method: &str,
        uri: &str,
        body: Option<&Value>,
        key: Option<&str>,
    ) -> Request<Body> {
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.key));
        if let Some(key) = key {
            builder = builder.header("idempotency-key", key);
        }
        match body {
            Some(b) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string()))
                .unwrap(),
            None => builder.body(Body::empty()).unwrap(),
        }
    }

    async fn call(
        &self,
        method: &str,
        uri: &str,
        body: Option<&Value>,
        key: Option<&str>,
    ) -> (StatusCode, Value) {
        let response = send(&self.app, self.request(method, uri, body, key)).await;
        let status = response.status();
        let text = crate::support::text(response).await;
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn create(&self, reference: &str, amount: &str) -> Value {
        let (status, bill) = self
            .call(
                "POST",
                "/v1/bills",
                Some(&bill_body(reference, amount)),
                Some(reference),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{bill}");
        bill
    }

    async fn bill_count(&self) -> usize {
        let (status, list) = self.call("GET", "/v1/bills?limit=100", None, None).await;
        assert_eq!(status, StatusCode::OK);
        list["data"].as_array().unwrap().len()
    }

    async fn work(&self) -> gateway::payments::webhooks::Round {
        work_once(&self.state, &self.deliverer).await
    }

    /// Starts an FPS attempt and has the sandbox bank's customer pay it.
    async fn pay_by_fps(&self, bill_id: &str) -> String {
        let payments = self.state.payments().unwrap();
        let attempt = payments
            .start(
                self.state.db(),
                bill_id,
                Method::Fps,
                Default::default(),
                self.state.now(),
            )
            .await
            .unwrap();
        let NextStep::ShowQr { payload } =
            serde_json::from_str(attempt.next_step.as_deref().unwrap()).unwrap()
        else {
            panic!("FPS shows a QR code")
        };
        payments
            .fps_bank()
            .unwrap()
            .pay(&payload, self.state.now())
            .unwrap();
        attempt.id
    }

    async fn finish(self) {
        self.db.finish().await;
    }
}

/// The cookie a page sets (`name=value`), to send back.
fn cookie_of(response: &axum::http::Response<Body>) -> String {
    response.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// A form POST with `cookie`, as a browser sends it.
fn form_post(uri: &str, cookie: &str, pairs: &[(&str, &str)]) -> Request<Body> {
    Request::post(uri)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(
            form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish(),
        ))
        .unwrap()
}

fn verify(receiver: &Receiver, now: OffsetDateTime) {
    for (id, signature, body) in receiver.got.lock().unwrap().iter() {
        sdk::webhook::verify(
            signature,
            body.as_bytes(),
            &[SECRET.as_bytes()],
            now.unix_timestamp(),
            300,
        )
        .unwrap_or_else(|e| panic!("webhook {id} does not verify: {e}"));
        let parsed: Value = serde_json::from_str(body).unwrap();
        assert_eq!(parsed["id"], *id);
    }
}

mod end_to_end {
    use super::*;

    #[tokio::test]
    async fn bills_are_paid_refunded_and_reported_on_sqlite() {
        run(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn bills_are_paid_refunded_and_reported_on_postgres() {
        run(Backend::Postgres).await;
    }

    async fn run(backend: Backend) {
        let Some(p) = setup(backend).await else {
            return;
        };

        // Create, with a replay and a reuse of the key.
        let bill = p.create("RATES-2026-0001", "1234.50").await;
        let bill_id = bill["id"].as_str().unwrap().to_owned();
        assert_eq!(bill["status"], "open");
        assert_eq!(bill["amount"], "1234.50");
        assert_eq!(bill["mode"], "test");
        assert!(
            bill["pay_url"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/pay/{bill_id}"))
        );
        let replay = send(
            &p.app,
            p.request(
                "POST",
                "/v1/bills",
                Some(&bill_body("RATES-2026-0001", "1234.50")),
                Some("RATES-2026-0001"),
            ),
        )
        .await;
        assert_eq!(replay.status(), StatusCode::CREATED);
        assert_eq!(replay.headers()["idempotent-replayed"], "true");
        assert_eq!(body_json(replay).await["id"], bill_id.as_str());
        let (status, error) = p
            .call(
                "POST",
                "/v1/bills",
                Some(&bill_body("RATES-2026-0001", "99.00")),
                Some("RATES-2026-0001"),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error["error"], "idempotency_key_reused");
        let (status, error) = p
            .call(
                "POST",
                "/v1/bills",
                Some(&bill_body("RATES-2026-0001", "1234.50")),
                Some("another-key"),
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "one bill per reference");
        assert_eq!(error["error"], "duplicate_reference");
        assert_eq!(p.bill_count().await, 1);

        // Pay by FPS: the bank's notification goes through the callback's
        // verification; one signed webhook reaches the department.
        let payment_id = p.pay_by_fps(&bill_id).await;
        let round = p.work().await;
        assert_eq!(round.delivered, 1);
        let (_, paid) = p
            .call("GET", &format!("/v1/bills/{bill_id}"), None, None)
            .await;
        assert_eq!(paid["status"], "paid");
        assert_eq!(paid["amount_paid"], "1234.50");
        assert_eq!(paid["payments"][0]["id"], payment_id.as_str());
        assert_eq!(paid["payments"][0]["status"], "succeeded");
        crate::openapi::assert_fits(&bill, "Bill");
        crate::openapi::assert_fits(&paid, "Bill");
        let events = p.receiver.events();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["type"], "payment.succeeded");
        assert_eq!(events[0]["data"]["payment"]["id"], payment_id.as_str());
        assert_eq!(events[0]["data"]["bill"]["metadata"]["account"], "7788-1");
        verify(&p.receiver, p.state.now());
        // Nothing more to deliver.
        assert_eq!(p.work().await, Default::default());

        // Refunds: partial, replayed, too large, the rest, nothing left.
        let refunds = format!("/v1/payments/{payment_id}/refunds");
        let (status, first) = p
            .call(
                "POST",
                &refunds,
                Some(&json!({"amount": "200.00", "reason": "overcharged"})),
                Some("r1"),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{first}");
        assert_eq!(first["status"], "succeeded");
        let (_, again) = p
            .call(
                "POST",
                &refunds,
                Some(&json!({"amount": "200.00", "reason": "overcharged"})),
                Some("r1"),
            )
            .await;
        assert_eq!(
            again["id"], first["id"],
            "a replayed refund is the same refund"
        );
        let (status, error) = p
            .call(
                "POST",
                &refunds,
                Some(&json!({"amount": "1034.51"})),
                Some("r2"),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(error["error"], "invalid_refund");
        let (status, rest) = p.call("POST", &refunds, None, Some("r3")).await;
        assert_eq!(status, StatusCode::CREATED, "{rest}");
        assert_eq!(rest["amount"], "1034.50");
        let (status, _) = p.call("POST", &refunds, None, Some("r4")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (_, payment) = p
            .call("GET", &format!("/v1/payments/{payment_id}"), None, None)
            .await;
        assert_eq!(payment["amount_refunded"], "1234.50");
        assert_eq!(payment["refunds"].as_array().unwrap().len(), 2);
        crate::openapi::assert_fits(&payment, "Payment");
        crate::openapi::assert_fits(&first, "Refund");
        let refund_id = first["id"].as_str().unwrap();
        let (status, refund) = p
            .call("GET", &format!("/v1/refunds/{refund_id}"), None, None)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(refund["amount"], "200.00");

        // A second bill, paid by PPS through the sandbox page and the
        // citizen's browser.
        p.clock.advance(60);
        let second = p.create("RATES-2026-0002", "88.80").await;
        let second_id = second["id"].as_str().unwrap();
        let payments = p.state.payments().unwrap();
        let attempt = payments
            .start(
                p.state.db(),
                second_id,
                Method::Pps,
                Default::default(),
                p.state.now(),
            )
            .await
            .unwrap();
        let NextStep::Redirect { url } =
            serde_json::from_str(attempt.next_step.as_deref().unwrap()).unwrap()
        else {
            panic!("PPS redirects")
        };
        let (back, form) = payments
            .pps_sandbox()
            .unwrap()
            .finish(&url, PpsOutcome::Approve, p.state.now())
            .unwrap();
        let path = back.split_once("://").unwrap().1;
        let path = &path[path.find('/').unwrap()..];
        assert_eq!(path, format!("/pay/return/{}", attempt.id));
        let returned = send(
            &p.app,
            Request::post(path)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form.clone()))
                .unwrap(),
        )
        .await;
        assert_eq!(returned.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            returned.headers()[header::LOCATION],
            format!("/pay/{second_id}?lang=en"),
            "back to the bill, in the browser's language"
        );
        // A provider that returns by a plain redirect: the citizen waits on
        // the gateway's page; nothing in the URL is believed.
        let plain = send(
            &p.app,
            crate::support::get(&format!("{path}?lang=zh-HK&status=succeeded")),
        )
        .await;
        assert_eq!(plain.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            plain.headers()[header::LOCATION],
            format!("/pay/{second_id}/payment/{}?lang=zh-HK", attempt.id)
        );
        // The browser's back button sends it again: nothing changes.
        let again = send(
            &p.app,
            Request::post(path)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form))
                .unwrap(),
        )
        .await;
        assert_eq!(again.status(), StatusCode::SEE_OTHER);
        p.work().await;
        // Delivery order is not promised (at least once, each on its own).
        let mut types: Vec<String> = p
            .receiver
            .events()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_owned())
            .collect();
        types.sort();
        assert_eq!(
            types,
            [
                "payment.succeeded",
                "payment.succeeded",
                "refund.succeeded",
                "refund.succeeded"
            ]
        );
        verify(&p.receiver, p.state.now());

        // The daily report agrees with the ledger, line by line.
        let (status, report) = p
            .call("GET", "/v1/reports/daily?date=2026-11-28", None, None)
            .await;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!(report["methods"]["fps"]["collected"], "1234.50");
        assert_eq!(report["methods"]["fps"]["refunded"], "1234.50");
        assert_eq!(report["methods"]["fps"]["fees"], "6.17", "50 basis points");
        assert_eq!(report["methods"]["fps"]["net"], "-6.17");
        assert_eq!(report["methods"]["pps"]["collected"], "88.80");
        assert_eq!(report["methods"]["pps"]["fees"], "1.50");
        assert_eq!(report["total"]["payments"], 2);
        crate::openapi::assert_fits(&report, "DailyReport");
        let lines = p
            .state
            .db()
            .ledger_of_day(&p.client_id, "2026-11-28")
            .await
            .unwrap();
        let sum = |kind: &str, side: &str, account: &str| -> i64 {
            lines
                .iter()
                .filter(|l| l.kind == kind && l.side == side && l.account.starts_with(account))
                .map(|l| l.amount_cents)
                .sum()
        };
        let debits: i64 = lines
            .iter()
            .filter(|l| l.side == "debit")
            .map(|l| l.amount_cents)
            .sum();
        let credits: i64 = lines
            .iter()
            .filter(|l| l.side == "credit")
            .map(|l| l.amount_cents)
            .sum();
        assert_eq!(debits, credits, "the books balance");
        let net = sum("payment", "credit", "department_payable")
            - sum("refund", "debit", "department_payable")
            - sum("fee", "debit", "department_fees");
        assert_eq!(
            gateway::payments::format_cents(net),
            report["total"]["net"].as_str().unwrap()
        );
        let csv = send(
            &p.app,
            p.request(
                "GET",
                "/v1/reports/daily?date=2026-11-28&format=csv",
                None,
                None,
            ),
        )
        .await;
        assert_eq!(
            csv.headers()[header::CONTENT_TYPE],
            "text/csv; charset=utf-8"
        );
        let csv = crate::support::text(csv).await;
        let rows: Vec<&str> = csv.lines().collect();
        assert_eq!(
            rows[0],
            "date,method,payments,collected,refunded,fees,net,held_for_refund"
        );
        assert!(
            rows.contains(&"2026-11-28,fps,1,1234.50,1234.50,6.17,-6.17,0.00"),
            "{csv}"
        );
        assert_eq!(
            *rows.last().unwrap(),
            "2026-11-28,total,2,1323.30,1234.50,7.67,81.13,0.00"
        );

        // Listing, filtered and paged.
        let (_, page) = p.call("GET", "/v1/bills?limit=1", None, None).await;
        assert_eq!(page["data"][0]["reference"], "RATES-2026-0002");
        assert_eq!(page["has_more"], true);
        let cursor = page["next_cursor"].as_str().unwrap();
        let (_, next) = p
            .call(
                "GET",
                &format!("/v1/bills?limit=1&cursor={cursor}"),
                None,
                None,
            )
            .await;
        assert_eq!(next["data"][0]["reference"], "RATES-2026-0001");
        assert_eq!(next["has_more"], false);
        crate::openapi::assert_fits(&page, "BillList");
        crate::openapi::assert_fits(&next, "BillList");
        let (_, filtered) = p
            .call(
                "GET",
                "/v1/bills?reference=RATES-2026-0002&status=paid",
                None,
                None,
            )
            .await;
        assert_eq!(filtered["data"].as_array().unwrap().len(), 1);
        let (_, none) = p.call("GET", "/v1/bills?status=open", None, None).await;
        assert_eq!(none["data"].as_array().unwrap().len(), 0);
        p.finish().await;
    }
}

mod reliability {
    use super::*;

    #[tokio::test]
    async fn two_hundred_duplicate_notifications_make_one_success_on_sqlite() {
        run(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn two_hundred_duplicate_notifications_make_one_success_on_postgres() {
        run(Backend::Postgres).await;
    }

    async fn run(backend: Backend) {
        let Some(p) = setup(backend).await else {
            return;
        };
        let bill = p.create("WATER-0001", "456.70").await;
        let bill_id = bill["id"].as_str().unwrap();
        let payment_id = p.pay_by_fps(bill_id).await;
        let bank = p.state.payments().unwrap().fps_bank().unwrap().clone();
        let delivery = bank.deliveries(p.state.now()).remove(0);
        let mut tasks = Vec::new();
        for _ in 0..200 {
            let app = p.app.clone();
            let delivery = delivery.clone();
            tasks.push(tokio::spawn(async move {
                let mut request = Request::post("/callbacks/fps");
                for (name, value) in &delivery.headers {
                    request = request.header(name, value);
                }
                let response = send(&app, request.body(Body::from(delivery.body)).unwrap()).await;
                let status = response.status();
                (status, body_json(response).await)
            }));
        }
        let mut outcomes: HashMap<String, usize> = HashMap::new();
        for task in tasks {
            let (status, body) = task.await.unwrap();
            assert_eq!(status, StatusCode::OK, "{body}");
            *outcomes
                .entry(body["outcome"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
        assert_eq!(outcomes.get("applied"), Some(&1), "{outcomes:?}");
        assert_eq!(outcomes.get("duplicate"), Some(&199), "{outcomes:?}");
        let ledger = p.state.db().ledger_of_payment(&payment_id).await.unwrap();
        assert_eq!(
            ledger.len(),
            4,
            "one payment and one fee transaction, two lines each"
        );
        let events = p
            .state
            .db()
            .webhook_events_of(&p.client_id, None, 100)
            .await
            .unwrap();
        assert_eq!(events.len(), 1);
        p.work().await;
        assert_eq!(p.receiver.events().len(), 1);
        p.finish().await;
    }

    #[tokio::test]
    async fn webhooks_wait_for_a_department_that_is_down_then_give_up_visibly() {
        let Some(p) = setup(Backend::Sqlite).await else {
            return;
        };
        p.receiver.down.store(true, Ordering::SeqCst);
        let bill = p.create("RENT-0001", "10.00").await;
        p.pay_by_fps(bill["id"].as_str().unwrap()).await;
        let round = p.work().await;
        assert_eq!(round.retrying, 1);
        let (_, listed) = p.call("GET", "/v1/webhooks/events", None, None).await;
        assert_eq!(listed["data"][0]["status"], "pending");
        assert_eq!(listed["data"][0]["attempts"], 1);
        assert_eq!(listed["data"][0]["last_error"], "HTTP 503");
        // Not due yet: nothing is sent.
        assert_eq!(p.work().await, Default::default());
        // Down for an hour, with retries; then back.
        for _ in 0..6 {
            p.clock.advance(600);
            p.work().await;
        }
        assert!(p.receiver.events().is_empty());
        p.receiver.down.store(false, Ordering::SeqCst);
        p.clock.advance(3600);
        assert_eq!(p.work().await.delivered, 1);
        assert_eq!(p.receiver.events().len(), 1);
        verify(&p.receiver, p.state.now());

        // Another event, with the department down for good: retried with
        // growing gaps for 72 hours, then failed and listed as failed.
        p.receiver.down.store(true, Ordering::SeqCst);
        let bill = p.create("RENT-0002", "10.00").await;
        p.pay_by_fps(bill["id"].as_str().unwrap()).await;
        let mut attempts = 0;
        for _ in 0..200 {
            let round = p.work().await;
            attempts += round.retrying + round.failed;
            if round.failed == 1 {
                break;
            }
            p.clock.advance(1800);
        }
        assert!(
            (10..=40).contains(&attempts),
            "{attempts} attempts in 72 hours"
        );
        let (_, failed) = p
            .call("GET", "/v1/webhooks/events?status=failed", None, None)
            .await;
        crate::openapi::assert_fits(&failed, "EventList");
        let failed = failed["data"].as_array().unwrap().clone();
        assert_eq!(failed.len(), 1);
        let id = failed[0]["id"].as_str().unwrap();
        // Redelivery on request, once the department is back.
        p.receiver.down.store(false, Ordering::SeqCst);
        let (status, _) = p
            .call(
                "POST",
                &format!("/v1/webhooks/events/{id}/redeliver"),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(p.work().await.delivered, 1);
        assert_eq!(p.receiver.events().len(), 2);
        let (status, _) = p
            .call(
                "POST",
                "/v1/webhooks/events/evt_0123456789abcdef0123/redeliver",
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        p.finish().await;
    }

    #[tokio::test]
    async fn two_deliverers_on_one_postgres_send_each_webhook_once() {
        let Some(p) = setup(Backend::Postgres).await else {
            return;
        };
        for i in 0..12 {
            let bill = p.create(&format!("MULTI-{i:04}"), "5.00").await;
            p.pay_by_fps(bill["id"].as_str().unwrap()).await;
        }
        // The bank's notifications, recorded without delivering.
        let payments = p.state.payments().unwrap();
        let bank = payments.fps_bank().unwrap();
        for d in bank.deliveries(p.state.now()) {
            payments
                .notify(p.state.db(), "fps", &d.headers, &d.body, p.state.now())
                .await
                .unwrap();
        }
        // A second "process": its own pool on the same database.
        let other = gateway::Db::connect(&p.db.config.database).await.unwrap();
        let a = Deliverer::new(std::time::Duration::from_secs(5), 72, Some(Arc::new(kek())));
        let b = Deliverer::new(std::time::Duration::from_secs(5), 72, Some(Arc::new(kek())));
        let now = p.state.now();
        let (ra, rb) = tokio::join!(
            async {
                let mut n = 0;
                for _ in 0..5 {
                    n += a.round(p.state.db(), now).await.unwrap().delivered;
                }
                n
            },
            async {
                let mut n = 0;
                for _ in 0..5 {
                    n += b.round(&other, now).await.unwrap().delivered;
                }
                n
            }
        );
        assert_eq!(ra + rb, 12);
        let mut ids: Vec<String> = p
            .receiver
            .got
            .lock()
            .unwrap()
            .iter()
            .map(|g| g.0.clone())
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 12);
        assert_eq!(p.receiver.got.lock().unwrap().len(), 12, "each once");
        other.close().await;
        p.finish().await;
    }

    #[tokio::test]
    async fn attempts_expire_and_late_money_is_recorded_and_flagged() {
        let Some(p) = setup(Backend::Sqlite).await else {
            return;
        };
        let payments = p.state.payments().unwrap();
        let bank = payments.fps_bank().unwrap().clone();
        // An attempt that expires; its money arrives late, the bill still
        // open: it pays the bill, flagged late for reconciliation.
        let bill = p.create("LATE-0001", "30.00").await;
        let bill_id = bill["id"].as_str().unwrap().to_owned();
        let attempt = payments
            .start(
                p.state.db(),
                &bill_id,
                Method::Fps,
                Default::default(),
                p.state.now(),
            )
            .await
            .unwrap();
        let NextStep::ShowQr { payload } =
            serde_json::from_str(attempt.next_step.as_deref().unwrap()).unwrap()
        else {
            panic!()
        };
        bank.pay(&payload, p.state.now()).unwrap();
        bank.set_behaviour(payment_core::adapters::fps::sandbox::Behaviour {
            hold: true,
            ..Default::default()
        });
        // The bank holds the credit notification past the attempt's expiry.
        let held = bank.deliveries(p.state.now());
        assert!(held.is_empty(), "held");
        p.clock.advance(16 * 60);
        p.work().await;
        let (_, view) = p
            .call("GET", &format!("/v1/payments/{}", attempt.id), None, None)
            .await;
        assert_eq!(view["status"], "expired");
        let late = bank.release(p.state.now());
        assert_eq!(late.len(), 1);
        let (recorded, _) = payments
            .notify(
                p.state.db(),
                "fps",
                &late[0].headers,
                &late[0].body,
                p.state.now(),
            )
            .await
            .unwrap();
        assert_eq!(recorded, Recorded::Applied);
        let (_, view) = p
            .call("GET", &format!("/v1/payments/{}", attempt.id), None, None)
            .await;
        assert_eq!(view["status"], "succeeded");
        assert_eq!(view["late"], true);

        // Money for a cancelled bill: recorded, flagged for refund, held
        // in suspense (not in the department's net), refundable.
        let bill = p.create("CANCEL-0001", "40.00").await;
        let bill_id = bill["id"].as_str().unwrap().to_owned();
        let attempt = payments
            .start(
                p.state.db(),
                &bill_id,
                Method::Fps,
                Default::default(),
                p.state.now(),
            )
            .await
            .unwrap();
        let NextStep::ShowQr { payload } =
            serde_json::from_str(attempt.next_step.as_deref().unwrap()).unwrap()
        else {
            panic!()
        };
        let (status, cancelled) = p
            .call("POST", &format!("/v1/bills/{bill_id}/cancel"), None, None)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(cancelled["status"], "cancelled");
        bank.pay(&payload, p.state.now()).unwrap();
        let d = bank.release(p.state.now());
        let (recorded, _) = payments
            .notify(
                p.state.db(),
                "fps",
                &d[0].headers,
                &d[0].body,
                p.state.now(),
            )
            .await
            .unwrap();
        assert_eq!(recorded, Recorded::NeedsRefund);
        let (_, view) = p
            .call("GET", &format!("/v1/payments/{}", attempt.id), None, None)
            .await;
        assert_eq!(view["flagged_for_refund"], true);
        let (_, report) = p
            .call("GET", "/v1/reports/daily?date=2026-11-28", None, None)
            .await;
        assert_eq!(report["methods"]["fps"]["held_for_refund"], "40.00");
        assert_eq!(report["methods"]["fps"]["collected"], "30.00");
        let (status, refund) = p
            .call(
                "POST",
                &format!("/v1/payments/{}/refunds", attempt.id),
                None,
                Some("back"),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{refund}");
        let (_, report) = p
            .call("GET", "/v1/reports/daily?date=2026-11-28", None, None)
            .await;
        assert_eq!(report["methods"]["fps"]["held_for_refund"], "0.00");
        // A cancelled bill cannot be paid again, or cancelled into paid.
        let started = payments
            .start(
                p.state.db(),
                &bill_id,
                Method::Fps,
                Default::default(),
                p.state.now(),
            )
            .await;
        assert!(started.is_err());
        p.finish().await;
    }
}

mod hostile {
    use super::*;

    #[tokio::test]
    async fn bad_requests_get_clear_errors_and_change_nothing() {
        let Some(p) = setup(Backend::Sqlite).await else {
            return;
        };
        let good = p.create("GOOD-0001", "12.30").await;
        let good_id = good["id"].as_str().unwrap().to_owned();
        let mut n = 0;
        let mut refused = |body: Value, code: &'static str| {
            n += 1;
            (body, code, format!("bad-{n}"))
        };
        let cases = [
            refused(json!({"amount": "12.345"}), "invalid_request"),
            refused(json!({"amount": "-5.00"}), "invalid_request"),
            refused(json!({"amount": "99999999999999.00"}), "invalid_request"),
            refused(json!({"amount": "0.00"}), "invalid_bill"),
            refused(json!({"methods": ["cash"]}), "invalid_request"),
            refused(json!({"methods": ["card"]}), "method_unavailable"),
            refused(json!({"reference": "bad reference!"}), "invalid_bill"),
            refused(json!({"return_url": "javascript:alert(1)"}), "invalid_bill"),
            refused(json!({"due_date": "2020-01-01"}), "invalid_bill"),
            refused(json!({"unexpected": true}), "invalid_request"),
        ];
        for (change, code, key) in cases {
            let mut body = bill_body("BAD-0001", "10.00");
            for (k, v) in change.as_object().unwrap() {
                body[k] = v.clone();
            }
            let (status, error) = p.call("POST", "/v1/bills", Some(&body), Some(&key)).await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{change}: {error}"
            );
            assert_eq!(error["error"], code, "{change}: {error}");
            assert!(!error["message"].as_str().unwrap().is_empty());
        }
        let (status, error) = p
            .call(
                "POST",
                "/v1/bills",
                Some(&bill_body("BAD-0002", "1.00")),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(error["error"], "idempotency_key_required");
        let long_key = "k".repeat(300);
        let (status, _) = p
            .call(
                "POST",
                "/v1/bills",
                Some(&bill_body("BAD-0003", "1.00")),
                Some(&long_key),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let response = send(
            &p.app,
            Request::post("/v1/bills")
                .header(header::AUTHORIZATION, format!("Bearer {}", p.key))
                .header("idempotency-key", "big")
                .body(Body::from(vec![b'{'; 2 * 1024 * 1024]))
                .unwrap(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let (status, _) = p
            .call(
                "POST",
                "/v1/bills",
                Some(&json!("not an object")),
                Some("bad-x"),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        // No key, another department's key, foreign and malformed ids.
        let anonymous = send(
            &p.app,
            Request::get(format!("/v1/bills/{good_id}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
        let other = crate::par::department(&p.state).await;
        let (other_key, stored) = gateway::api_keys::generate(
            &other.client_id,
            gateway::api_keys::Mode::Test,
            p.state.now(),
        )
        .unwrap();
        p.state.db().insert_api_key(&stored).await.unwrap();
        for uri in [
            format!("/v1/bills/{good_id}"),
            "/v1/bills/bill_00000000000000000000000000000000".to_owned(),
            "/v1/bills/..%2F..%2Fetc".to_owned(),
            "/v1/payments/pay_000000000000000000000000".to_owned(),
            "/v1/refunds/re_000000000000000000000000".to_owned(),
        ] {
            let response = send(
                &p.app,
                Request::get(&uri)
                    .header(header::AUTHORIZATION, format!("Bearer {other_key}"))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{uri}");
        }
        let cancel = send(
            &p.app,
            Request::post(format!("/v1/bills/{good_id}/cancel"))
                .header(header::AUTHORIZATION, format!("Bearer {other_key}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(
            cancel.status(),
            StatusCode::NOT_FOUND,
            "not another department's bill"
        );
        for query in [
            "status=nonsense",
            "limit=0",
            "limit=1000",
            "cursor=%00%01",
            "from=yesterday",
            "extra=1",
        ] {
            let (status, error) = p
                .call("GET", &format!("/v1/bills?{query}"), None, None)
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {error}");
        }
        for query in ["", "?date=28-11-2026", "?date=2026-11-28&format=xml"] {
            let (status, _) = p
                .call("GET", &format!("/v1/reports/daily{query}"), None, None)
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        }

        // Callbacks: forged, stale, oversized, unknown provider; nothing changes.
        let payment_id = p.pay_by_fps(&good_id).await;
        let bank = p.state.payments().unwrap().fps_bank().unwrap().clone();
        let real = bank.deliveries(p.state.now()).remove(0);
        let post = |headers: Vec<(String, String)>, body: Vec<u8>, provider: &str| {
            let mut request = Request::post(format!("/callbacks/{provider}"));
            for (name, value) in headers {
                request = request.header(name, value);
            }
            request.body(Body::from(body)).unwrap()
        };
        let mut altered = String::from_utf8(real.body.clone()).unwrap();
        altered = altered.replace("12.30", "1.00");
        let forged = send(
            &p.app,
            post(real.headers.clone(), altered.into_bytes(), "fps"),
        )
        .await;
        assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(body_json(forged).await["error"], "invalid_signature");
        let stale = bank.sign_body(&real.body, p.state.now() - time::Duration::minutes(10));
        let response = send(&p.app, post(stale.headers, stale.body, "fps")).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let unsigned = send(&p.app, post(vec![], real.body.clone(), "fps")).await;
        assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
        let huge = bank.sign_body(&vec![b' '; 70 * 1024], p.state.now());
        let response = send(&p.app, post(huge.headers, huge.body, "fps")).await;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let garbage = bank.sign_body(b"{\"not\": \"a credit\"}", p.state.now());
        let response = send(&p.app, post(garbage.headers, garbage.body, "fps")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let response = send(
            &p.app,
            post(real.headers.clone(), real.body.clone(), "nope"),
        )
        .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let (_, view) = p
            .call("GET", &format!("/v1/payments/{payment_id}"), None, None)
            .await;
        assert_eq!(view["status"], "pending", "nothing was recorded");
        assert!(
            p.state
                .db()
                .ledger_of_payment(&payment_id)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            p.state
                .db()
                .webhook_events_of(&p.client_id, None, 10)
                .await
                .unwrap()
                .is_empty()
        );
        // The real one, replayed later than the tolerance, is refused too.
        p.clock.advance(301);
        let replayed = send(&p.app, post(real.headers.clone(), real.body.clone(), "fps")).await;
        assert_eq!(replayed.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(p.bill_count().await, 1, "no bad request made a bill");
        p.finish().await;
    }
}

mod pages {
    use super::*;

    #[tokio::test]
    async fn a_citizen_pays_by_fps_and_pps_on_the_pages_in_both_languages() {
        let Some(p) = setup(Backend::Sqlite).await else {
            return;
        };
        let bill = p.create("PAGE-0001", "1234.50").await;
        let bill_id = bill["id"].as_str().unwrap().to_owned();

        // The bill page, in Chinese, sets the pay cookie.
        let page = send(
            &p.app,
            crate::support::get(&format!("/pay/{bill_id}?lang=zh-HK")),
        )
        .await;
        assert_eq!(page.status(), StatusCode::OK);
        let cookie = cookie_of(&page);
        assert!(cookie.starts_with("eid_pay="));
        let html = crate::support::text(page).await;
        assert!(html.contains("lang=\"zh-Hant-HK\""));
        assert!(html.contains("HK$1,234.50"));
        assert!(html.contains("地租") && html.contains("轉數快") && html.contains("繳費靈"));
        assert!(html.contains("Lands Department"), "the department's name");
        let csrf = crate::support::csrf_of(&html);

        // Without the cookie's token: refused, nothing started.
        let forged = send(
            &p.app,
            form_post(
                &format!("/pay/{bill_id}/start"),
                &cookie,
                &[("csrf", "x"), ("method", "fps")],
            ),
        )
        .await;
        assert_eq!(forged.status(), StatusCode::FORBIDDEN);
        let no_cookie = send(
            &p.app,
            form_post(
                &format!("/pay/{bill_id}/start"),
                "",
                &[("csrf", &csrf), ("method", "fps")],
            ),
        )
        .await;
        assert_eq!(no_cookie.status(), StatusCode::FORBIDDEN);
        assert!(p.state.db().attempts_of(&bill_id).await.unwrap().is_empty());

        // FPS: the code, the sandbox bank, the receipt.
        let started = send(
            &p.app,
            form_post(
                &format!("/pay/{bill_id}/start"),
                &cookie,
                &[("csrf", &csrf), ("method", "fps"), ("lang", "en")],
            ),
        )
        .await;
        assert_eq!(started.status(), StatusCode::SEE_OTHER);
        let fps_url = started.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            fps_url.starts_with(&format!("/pay/{bill_id}/fps/pay_")),
            "{fps_url}"
        );
        let fps = send(&p.app, crate::support::get(&fps_url)).await;
        assert_eq!(fps.status(), StatusCode::OK);
        let html = crate::support::text(fps).await;
        assert!(html.contains("<svg"), "the QR code is inline");
        assert!(html.contains("/static/pay.js"));
        assert!(html.contains("Pay with the sandbox bank"));
        let payment_id = fps_url
            .split('/')
            .nth(4)
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .to_owned();
        let png = send(
            &p.app,
            crate::support::get(&format!("/pay/{bill_id}/fps/{payment_id}/qr.png")),
        )
        .await;
        assert_eq!(png.headers()[header::CONTENT_TYPE], "image/png");
        let status_url = format!("/pay/{bill_id}/status?payment={payment_id}");
        let status = body_json(send(&p.app, crate::support::get(&status_url)).await).await;
        assert_eq!(status["payment"], "pending");
        // The bill page now offers to continue with the open code.
        let html = crate::support::text(
            send(&p.app, crate::support::get(&format!("/pay/{bill_id}"))).await,
        )
        .await;
        assert!(html.contains(&payment_id));
        let paid = send(
            &p.app,
            form_post(
                &format!("/pay/{bill_id}/fps/{payment_id}/sandbox"),
                &cookie,
                &[("csrf", &csrf), ("lang", "en")],
            ),
        )
        .await;
        assert_eq!(paid.status(), StatusCode::SEE_OTHER);
        p.work().await;
        let status = body_json(send(&p.app, crate::support::get(&status_url)).await).await;
        assert_eq!(status["payment"], "succeeded");
        assert_eq!(status["bill"], "paid");
        let done = send(&p.app, crate::support::get(&fps_url)).await;
        assert_eq!(
            done.status(),
            StatusCode::SEE_OTHER,
            "the paid code's page sends to the receipt"
        );
        let receipt = send(
            &p.app,
            crate::support::get(&format!("/pay/{bill_id}/receipt?lang=zh-HK")),
        )
        .await;
        let html = crate::support::text(receipt).await;
        assert!(
            html.contains("收據") && html.contains(&payment_id) && html.contains("HK$1,234.50")
        );
        assert!(
            html.contains(&format!("/pay/{bill_id}/receipt")),
            "how to verify it"
        );
        let html = crate::support::text(
            send(
                &p.app,
                crate::support::get(&format!("/pay/{bill_id}?lang=en")),
            )
            .await,
        )
        .await;
        assert!(html.contains("This bill has been paid"));
        assert!(!html.contains("name=\"method\""), "no way to pay twice");
        assert_eq!(p.receiver.events().len(), 1);

        // PPS, through the sandbox page and back.
        let bill = p.create("PAGE-0002", "20.00").await;
        let bill_id = bill["id"].as_str().unwrap().to_owned();
        let started = send(
            &p.app,
            form_post(
                &format!("/pay/{bill_id}/start"),
                &cookie,
                &[("csrf", &csrf), ("method", "pps")],
            ),
        )
        .await;
        assert_eq!(started.status(), StatusCode::SEE_OTHER);
        let pps = started.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .to_owned();
        let pps_path = &pps[pps.find("/sandbox/pps").unwrap()..];
        let html = crate::support::text(send(&p.app, crate::support::get(pps_path)).await).await;
        assert!(html.contains("HK$20.00"));
        let query = pps_path.split_once('?').unwrap().1;
        let finished = send(
            &p.app,
            form_post(
                "/sandbox/pps",
                "",
                &[("query", query), ("outcome", "approve")],
            ),
        )
        .await;
        let html = crate::support::text(finished).await;
        let action = html
            .split("action=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let action = &action[action.find("/pay/return/").unwrap()..];
        let fields: Vec<(String, String)> = html
            .split("<input type=\"hidden\" name=\"")
            .skip(1)
            .map(|part| {
                let (name, rest) = part.split_once("\" value=\"").unwrap();
                let value = rest.split('"').next().unwrap();
                (
                    name.to_owned(),
                    value.replace("&#x2b;", "+").replace("&#43;", "+"),
                )
            })
            .collect();
        let pairs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let back = send(&p.app, form_post(action, "", &pairs)).await;
        assert_eq!(
            back.status(),
            StatusCode::SEE_OTHER,
            "{}",
            crate::support::text(back).await
        );
        let (_, bill) = p
            .call("GET", &format!("/v1/bills/{bill_id}"), None, None)
            .await;
        assert_eq!(bill["status"], "paid");

        // Cancelled and unknown bills are explained.
        let bill = p.create("PAGE-0003", "5.00").await;
        let cancelled_id = bill["id"].as_str().unwrap();
        p.call(
            "POST",
            &format!("/v1/bills/{cancelled_id}/cancel"),
            None,
            None,
        )
        .await;
        let html = crate::support::text(
            send(&p.app, crate::support::get(&format!("/pay/{cancelled_id}"))).await,
        )
        .await;
        assert!(html.contains("cancelled this bill"));
        let unknown = send(
            &p.app,
            crate::support::get("/pay/bill_00000000000000000000000000000000"),
        )
        .await;
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
        let hostile = send(&p.app, crate::support::get("/pay/%3Cscript%3E")).await;
        assert_eq!(hostile.status(), StatusCode::NOT_FOUND);
        p.finish().await;
    }
}

mod reconciliation {
    use super::*;

    #[tokio::test]
    async fn a_settlement_file_is_compared_with_the_ledger() {
        let Some(p) = setup(Backend::Sqlite).await else {
            return;
        };
        let mut references = Vec::new();
        for (reference, amount) in [("REC-0001", "100.00"), ("REC-0002", "250.00")] {
            let bill = p.create(reference, amount).await;
            let payment = p.pay_by_fps(bill["id"].as_str().unwrap()).await;
            p.work().await;
            let ledger = p.state.db().ledger_of_payment(&payment).await.unwrap();
            references.push(
                ledger[0]
                    .transaction_id
                    .splitn(3, ':')
                    .nth(2)
                    .unwrap()
                    .to_owned(),
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let run = |lines: &[String]| {
            let file = dir.path().join("settlement.csv");
            let mut text = String::from("provider_reference,kind,amount,settlement_date\n");
            for line in lines {
                text.push_str(line);
                text.push('\n');
            }
            std::fs::write(&file, text).unwrap();
            crate::support::gateway_command(dir.path())
                .args(["reconcile", "--provider", "fps"])
                .arg(&file)
                .env("GATEWAY_DATABASE__URL", &p.db.config.database.url)
                .output()
                .unwrap()
        };
        let (a, b) = (&references[0], &references[1]);
        // Fees (50 basis points) settle too.
        let clean = run(&[
            format!("{a},payment,100.00,2026-11-28"),
            format!("{a},fee,0.50,2026-11-28"),
            format!("{b},payment,250.00,2026-11-28"),
            format!("{b},fee,1.25,2026-11-28"),
        ]);
        let out = String::from_utf8_lossy(&clean.stdout);
        assert_eq!(
            clean.status.code(),
            Some(0),
            "{out}{}",
            String::from_utf8_lossy(&clean.stderr)
        );
        assert!(
            out.contains("matched 4, missing 0, unexpected 0, mismatched 0, duplicated 0"),
            "{out}"
        );
        let differs = run(&[
            format!("{a},payment,100.00,2026-11-28"),
            format!("{a},payment,100.00,2026-11-28"),
            format!("{b},payment,249.00,2026-11-28"),
            "FUNKNOWN0001,payment,9.99,2026-11-28".to_owned(),
        ]);
        let out = String::from_utf8_lossy(&differs.stdout);
        assert_eq!(differs.status.code(), Some(1), "{out}");
        assert!(
            out.contains("matched 1, missing 2, unexpected 1, mismatched 1, duplicated 1"),
            "{out}"
        );
        assert!(
            out.contains(&format!("mismatched payment {b} ledger 250.00 file 249.00")),
            "{out}"
        );
        assert!(
            out.contains("unexpected payment FUNKNOWN0001 9.99"),
            "{out}"
        );
        let malformed = run(&[format!("{a},payment,100.001,2026-11-28")]);
        assert_eq!(malformed.status.code(), Some(2));
        assert!(
            String::from_utf8_lossy(&malformed.stderr).contains("line 2"),
            "{malformed:?}"
        );
        p.finish().await;
    }
}

mod crash {
    use super::*;

    fn serve(dir: &std::path::Path, config: &std::path::Path, port: u16) -> std::process::Child {
        crate::support::gateway_command(dir)
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--config",
            ])
            .arg(config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }

    async fn wait_ready(base: &str) {
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if http
                .get(format!("{base}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the gateway did not start");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_success_recorded_before_a_sigkill_is_delivered_after_the_restart() {
        let Some(p) = setup(Backend::Sqlite).await else {
            return;
        };
        // The binary reads the system clock: so does this test.
        *p.clock.0.lock().unwrap() = OffsetDateTime::now_utc();
        let dir = tempfile::tempdir().unwrap();
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let base = format!("http://127.0.0.1:{port}");
        let settings = |interval_ms: u64| {
            let mut config = p.state.config().clone();
            config.payments.worker_interval_ms = interval_ms;
            let mut text = toml_of(&config);
            text.push('\n');
            let path = dir.path().join(format!("gateway-{interval_ms}.toml"));
            std::fs::write(&path, text).unwrap();
            path
        };
        // The worker runs once at start, then not for ten minutes: the
        // success is recorded and its webhook waits in the outbox.
        let mut first = serve(dir.path(), &settings(600_000), port);
        wait_ready(&base).await;
        let bill = p.create("CRASH-0001", "77.00").await;
        let payments = p.state.payments().unwrap();
        let attempt = payments
            .start(
                p.state.db(),
                bill["id"].as_str().unwrap(),
                Method::Fps,
                Default::default(),
                p.state.now(),
            )
            .await
            .unwrap();
        let NextStep::ShowQr { payload } =
            serde_json::from_str(attempt.next_step.as_deref().unwrap()).unwrap()
        else {
            panic!()
        };
        // The bank (same key as the gateway's sandbox) notifies the
        // running process over HTTP, signed now.
        let bank = payments.fps_bank().unwrap();
        bank.pay(&payload, OffsetDateTime::now_utc()).unwrap();
        let delivery = bank.deliveries(OffsetDateTime::now_utc()).remove(0);
        let mut request = reqwest::Client::new().post(format!("{base}/callbacks/fps"));
        for (name, value) in &delivery.headers {
            request = request.header(name, value);
        }
        let answer = request.body(delivery.body).send().await.unwrap();
        assert_eq!(answer.status(), 200);
        let events = p
            .state
            .db()
            .webhook_events_of(&p.client_id, None, 10)
            .await
            .unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].status, "pending");
        assert!(p.receiver.events().is_empty());
        // SIGKILL: no shutdown of any kind.
        first.kill().unwrap();
        first.wait().unwrap();
        // Restarted, the worker finds the event and delivers it, once.
        let mut second = serve(dir.path(), &settings(200), port);
        wait_ready(&base).await;
        for _ in 0..100 {
            if !p.receiver.events().is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        second.kill().unwrap();
        second.wait().unwrap();
        let got = p.receiver.events();
        assert_eq!(got.len(), 1, "delivered once after the restart");
        assert_eq!(got[0]["type"], "payment.succeeded");
        assert_eq!(got[0]["id"], events[0].id.as_str());
        p.finish().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_gateway_processes_on_one_postgres_deliver_each_webhook_once() {
        let Some(p) = setup(Backend::Postgres).await else {
            return;
        };
        *p.clock.0.lock().unwrap() = OffsetDateTime::now_utc();
        // Twenty successes recorded, their webhooks waiting in the outbox.
        let payments = p.state.payments().unwrap();
        for i in 0..20 {
            let bill = p.create(&format!("TWO-{i:04}"), "3.00").await;
            p.pay_by_fps(bill["id"].as_str().unwrap()).await;
        }
        let bank = payments.fps_bank().unwrap();
        for d in bank.deliveries(p.state.now()) {
            payments
                .notify(p.state.db(), "fps", &d.headers, &d.body, p.state.now())
                .await
                .unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let mut config = p.state.config().clone();
        config.payments.worker_interval_ms = 50;
        let path = dir.path().join("gateway.toml");
        std::fs::write(&path, toml_of(&config)).unwrap();
        let mut children = Vec::new();
        for _ in 0..2 {
            let port = {
                let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                probe.local_addr().unwrap().port()
            };
            children.push(serve(dir.path(), &path, port));
            wait_ready(&format!("http://127.0.0.1:{port}")).await;
        }
        for _ in 0..100 {
            if p.receiver.events().len() >= 20 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        // A little longer, for any second delivery to show.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        for mut child in children {
            child.kill().unwrap();
            child.wait().unwrap();
        }
        let got = p.receiver.got.lock().unwrap().clone();
        let mut ids: Vec<String> = got.iter().map(|g| g.0.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 20, "every webhook delivered");
        assert_eq!(got.len(), 20, "each once");
        p.finish().await;
    }

    /// The settings as a TOML file the binary reads.
    fn toml_of(config: &Config) -> String {
        let fps = config.payments.fps.as_ref().unwrap();
        let pps = config.payments.pps.as_ref().unwrap();
        format!(
            "[database]\nurl = {url:?}\n\n[keys]\nencryption_key = {kek:?}\n\n[payments]\nworker_interval_ms = {interval}\n\n\
             [payments.fps]\nprovider_id = \"fps\"\nproxy = {{ fps_id = \"1234567\" }}\n\
             clearing_code = \"004\"\nmerchant_name = {name:?}\nsandbox_seed = {seed:?}\n\
             fee = {{ basis_points = 50 }}\n\n\
             [payments.pps]\nprovider_id = \"pps\"\nmerchant_code = \"9123\"\nkey = {key:?}\nsandbox = true\n",
            url = config.database.url,
            kek = KEK,
            interval = config.payments.worker_interval_ms,
            name = fps.merchant_name,
            seed = fps.sandbox_seed.as_ref().unwrap().expose(),
            key = pps.key.expose(),
        )
    }
}

pub mod card {
    //! Cards through the `localstripe` emulator: the gateway listens on
    //! loopback so that the emulator's signed webhooks reach its callback.
    use super::*;
    use gateway::config::StripeSettings;

    const WEBHOOK_SECRET: &str = "whsec_gateway_card_test";

    pub struct Emulator {
        child: std::process::Child,
        pub base: String,
    }

    impl Drop for Emulator {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    pub async fn emulator() -> Option<Emulator> {
        let program = std::env::var("LOCALSTRIPE").unwrap_or_else(|_| "localstripe".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = match std::process::Command::new(&program)
            .args(["--port", &port.to_string(), "--from-scratch"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) => {
                let why = format!(
                    "card payments test skipped: cannot run {program} ({e}); pip install localstripe"
                );
                assert!(std::env::var_os("CI").is_none(), "{why} (CI must not skip)");
                eprintln!("{why}");
                return None;
            }
        };
        let emulator = Emulator {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        for _ in 0..300 {
            if http
                .get(format!("{}/v1/balance", emulator.base))
                .bearer_auth("sk_test_gateway")
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Some(emulator);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("localstripe did not start");
    }

    /// What Stripe.js does in the citizen's browser: tokenises a test card.
    async fn payment_method(base: &str, number: &str) -> String {
        let body: Value = reqwest::Client::new()
            .post(format!("{base}/v1/payment_methods"))
            .bearer_auth("sk_test_gateway")
            .form(&[
                ("type", "card"),
                ("card[number]", number),
                ("card[exp_month]", "12"),
                ("card[exp_year]", "2030"),
                ("card[cvc]", "123"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["id"].as_str().unwrap().to_owned()
    }

    /// The card provider of the emulator's account, reached at `api_base`.
    fn card_settings(
        stripe: &Emulator,
        api_base: &str,
        timeout_secs: u64,
        fee: FeeSettings,
    ) -> StripeSettings {
        StripeSettings {
            provider_id: "stripe-card".into(),
            api_base: api_base.to_owned(),
            secret_key: eid_core::Secret::new("sk_test_gateway".into()),
            publishable_key: "pk_test_gateway".into(),
            js_url: format!("{}/js.stripe.com/v3/", stripe.base),
            webhook_secrets: vec![eid_core::Secret::new(WEBHOOK_SECRET.into())],
            timeout_secs,
            fee,
        }
    }

    /// Serves `state` on loopback and points the emulator's webhooks at its
    /// card callback.
    async fn serve_for_webhooks(state: &AppState, stripe: &Emulator) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gateway_base = format!("http://{}", listener.local_addr().unwrap());
        let router = gateway::app(state.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let configured = reqwest::Client::new()
            .post(format!("{}/_config/webhooks/gateway", stripe.base))
            .form(&[
                (
                    "url",
                    format!("{gateway_base}/callbacks/stripe-card").as_str(),
                ),
                ("secret", WEBHOOK_SECRET),
            ])
            .send()
            .await
            .unwrap();
        assert!(configured.status().is_success());
    }

    /// A new department's bill that only a card can pay.
    async fn card_bill(
        state: &AppState,
        reference: &str,
        amount: &str,
    ) -> (crate::par::Dept, gateway::payments::StoredBill) {
        let dept = crate::par::department(state).await;
        let mut request: payment_core::bill::BillRequest =
            serde_json::from_value(bill_body(reference, amount)).unwrap();
        request.methods = vec![Method::Card];
        let bill = state
            .payments()
            .unwrap()
            .create_bill(state.db(), &dept.client_id, "test", request, state.now())
            .await
            .unwrap();
        (dept, bill)
    }

    async fn run(backend: Backend) {
        let Some(stripe) = emulator().await else {
            return;
        };
        let db = match backend {
            Backend::Sqlite => crate::support::sqlite().await,
            Backend::Postgres => match crate::support::postgres().await {
                Some(db) => db,
                None => return,
            },
        };
        let mut config = db.config.clone();
        payments_config(&mut config);
        config.payments.card = Some(card_settings(
            &stripe,
            &stripe.base,
            10,
            FeeSettings {
                fixed_cents: 200,
                basis_points: 0,
            },
        ));
        // E-wallets on the same Stripe account (one webhook endpoint).
        config.payments.ewallet = Some(StripeSettings {
            provider_id: "stripe-ewallet".into(),
            fee: FeeSettings::default(),
            ..config.payments.card.clone().unwrap()
        });
        // The real clock: the emulator signs its webhooks now.
        let clock = Arc::new(TestClock(Mutex::new(OffsetDateTime::now_utc())));
        let state = AppState::with_clock(db.db.clone(), config, clock.clone());
        serve_for_webhooks(&state, &stripe).await;
        let p = department_of(db, state, clock).await;
        let mut body = bill_body("CARD-0001", "150.00");
        body["methods"] = json!(["card"]);
        let (status, bill) = p
            .call("POST", "/v1/bills", Some(&body), Some("card-1"))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{bill}");
        let bill_id = bill["id"].as_str().unwrap().to_owned();
        let payments = p.state.payments().unwrap();

        // A declined card: a clear refusal; the bill stays open.
        let declined = payment_method(&stripe.base, "4000000000000341").await;
        let error = payments
            .start(
                p.state.db(),
                &bill_id,
                Method::Card,
                gateway::payments::StartOptions {
                    payment_method: Some(declined),
                    ..Default::default()
                },
                p.state.now(),
            )
            .await
            .unwrap_err();
        let api = gateway::http::payments::pay_error(error);
        assert_eq!(api.status, StatusCode::PAYMENT_REQUIRED);
        assert_eq!(api.code, "payment_declined");
        // The declined attempt is on record, failed, with nothing taken.
        let (_, after) = p
            .call("GET", &format!("/v1/bills/{bill_id}"), None, None)
            .await;
        assert_eq!(after["status"], "open");
        assert_eq!(after["payments"][0]["status"], "failed", "{after}");
        assert_eq!(after["payments"][0]["amount_paid"], "0.00");

        // A card with a 3-D Secure challenge, passed: the emulator's signed
        // webhook pays the bill.
        let three_ds = payment_method(&stripe.base, "4000002760003184").await;
        let attempt = payments
            .start(
                p.state.db(),
                &bill_id,
                Method::Card,
                gateway::payments::StartOptions {
                    payment_method: Some(three_ds),
                    ..Default::default()
                },
                p.state.now(),
            )
            .await
            .unwrap();
        let NextStep::AcquirerAction { client_secret } =
            serde_json::from_str(attempt.next_step.as_deref().unwrap()).unwrap()
        else {
            panic!("a 3-D Secure step: {:?}", attempt.next_step)
        };
        let intent = attempt.provider_reference.clone().unwrap();
        let challenged = reqwest::Client::new()
            .post(format!(
                "{}/v1/payment_intents/{intent}/_authenticate",
                stripe.base
            ))
            .form(&[
                ("key", "pk_test_gateway"),
                ("client_secret", client_secret.as_str()),
                ("success", "true"),
            ])
            .send()
            .await
            .unwrap();
        assert!(challenged.status().is_success());
        let mut paid = Value::Null;
        for _ in 0..100 {
            let (_, now) = p
                .call("GET", &format!("/v1/bills/{bill_id}"), None, None)
                .await;
            if now["status"] == "paid" {
                paid = now;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(
            paid["status"], "paid",
            "the emulator's webhook paid the bill"
        );
        crate::openapi::assert_fits(&paid, "Bill");
        p.work().await;
        let events = p.receiver.events();
        assert_eq!(events.len(), 1, "one webhook to the department");
        assert_eq!(events[0]["data"]["payment"]["method"], "card");
        verify(&p.receiver, p.state.now());

        // A partial refund at the acquirer, then the report.
        let (status, refund) = p
            .call(
                "POST",
                &format!("/v1/payments/{}/refunds", attempt.id),
                Some(&json!({"amount": "50.00"})),
                Some("card-r1"),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{refund}");
        assert_eq!(refund["status"], "succeeded");
        let today = payment_core::hong_kong_date(p.state.now()).to_string();
        let (_, report) = p
            .call(
                "GET",
                &format!("/v1/reports/daily?date={today}"),
                None,
                None,
            )
            .await;
        assert_eq!(report["methods"]["card"]["collected"], "150.00", "{report}");
        assert_eq!(report["methods"]["card"]["refunded"], "50.00");
        assert_eq!(report["methods"]["card"]["fees"], "2.00");
        assert_eq!(report["methods"]["card"]["net"], "98.00");

        // Google Pay (a tokenised card): its webhook arrives at the card
        // provider's callback (one Stripe account) and pays the bill.
        let mut body = bill_body("WALLET-0001", "80.00");
        body["methods"] = json!(["ewallet"]);
        let (status, bill) = p
            .call("POST", "/v1/bills", Some(&body), Some("wallet-1"))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{bill}");
        let wallet_bill = bill["id"].as_str().unwrap().to_owned();
        let token = payment_method(&stripe.base, "4242424242424242").await;
        let attempt = payments
            .start(
                p.state.db(),
                &wallet_bill,
                Method::Ewallet,
                gateway::payments::StartOptions {
                    payment_method: Some(token),
                    wallet: Some(payment_core::adapters::Wallet::GooglePay),
                    ..Default::default()
                },
                p.state.now(),
            )
            .await
            .unwrap();
        assert_eq!(attempt.provider, "stripe-ewallet");
        let mut status = Value::Null;
        for _ in 0..100 {
            let (_, now) = p
                .call("GET", &format!("/v1/bills/{wallet_bill}"), None, None)
                .await;
            if now["status"] == "paid" {
                status = now["status"].clone();
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(status, "paid", "the wallet payment's webhook paid the bill");
        let (_, report) = p
            .call(
                "GET",
                &format!("/v1/reports/daily?date={today}"),
                None,
                None,
            )
            .await;
        assert_eq!(
            report["methods"]["ewallet"]["collected"], "80.00",
            "{report}"
        );
        // One signed webhook for the wallet payment too, then a full refund.
        p.work().await;
        let succeeded = p
            .receiver
            .events()
            .iter()
            .filter(|e| e["type"] == "payment.succeeded")
            .count();
        assert_eq!(succeeded, 2, "one per paid bill");
        verify(&p.receiver, p.state.now());
        let (status, refund) = p
            .call(
                "POST",
                &format!("/v1/payments/{}/refunds", attempt.id),
                None,
                Some("wallet-r1"),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{refund}");
        assert_eq!(refund["amount"], "80.00");
        let (_, report) = p
            .call(
                "GET",
                &format!("/v1/reports/daily?date={today}"),
                None,
                None,
            )
            .await;
        assert_eq!(report["methods"]["ewallet"]["refunded"], "80.00");
        assert_eq!(report["methods"]["ewallet"]["net"], "0.00");
        p.finish().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bills_are_paid_by_card_with_3_d_secure_and_by_e_wallet_on_sqlite() {
        run(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bills_are_paid_by_card_with_3_d_secure_and_by_e_wallet_on_postgres() {
        run(Backend::Postgres).await;
    }

    /// A proxy to `upstream` that, while `hang` is set, takes connections
    /// and says nothing.
    async fn flaky_proxy(upstream: String, hang: Arc<AtomicBool>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_owned();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                if hang.load(Ordering::SeqCst) {
                    held.push(socket);
                    continue;
                }
                let upstream = upstream.clone();
                let hang = hang.clone();
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let Ok(remote) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (mut client_read, mut client_write) = socket.into_split();
                    let (mut remote_read, mut remote_write) = remote.into_split();
                    // Requests on a kept-alive connection are swallowed too
                    // while hanging.
                    tokio::spawn(async move {
                        let mut buffer = [0u8; 8192];
                        loop {
                            let n = match client_read.read(&mut buffer).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            if hang.load(Ordering::SeqCst) {
                                std::future::pending::<()>().await;
                            }
                            if remote_write.write_all(&buffer[..n]).await.is_err() {
                                break;
                            }
                        }
                    });
                    let _ = tokio::io::copy(&mut remote_read, &mut client_write).await;
                });
            }
        });
        base
    }

    /// The acquirer does not answer a refund: it stays pending, and the
    /// worker asks again (same refund id, so never twice) until it is
    /// settled; the ledger then has it once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refund_without_an_answer_is_asked_again_until_settled() {
        let Some(stripe) = emulator().await else {
            return;
        };
        let hang = Arc::new(AtomicBool::new(false));
        let proxy = flaky_proxy(stripe.base.clone(), hang.clone()).await;
        let db = crate::support::sqlite().await;
        let mut config = db.config.clone();
        payments_config(&mut config);
        config.payments.card = Some(card_settings(&stripe, &proxy, 1, FeeSettings::default()));
        let clock = Arc::new(TestClock(Mutex::new(OffsetDateTime::now_utc())));
        let state = AppState::with_clock(db.db.clone(), config, clock.clone());
        serve_for_webhooks(&state, &stripe).await;
        let (dept, bill) = card_bill(&state, "REFUND-0001", "60.00").await;
        let payments = state.payments().unwrap();
        let token = payment_method(&stripe.base, "4242424242424242").await;
        let attempt = payments
            .start(
                state.db(),
                &bill.row.id,
                Method::Card,
                gateway::payments::StartOptions {
                    payment_method: Some(token),
                    ..Default::default()
                },
                state.now(),
            )
            .await
            .unwrap();
        for _ in 0..100 {
            if state.db().bill(&bill.row.id).await.unwrap().unwrap().status == "paid" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(
            state.db().bill(&bill.row.id).await.unwrap().unwrap().status,
            "paid"
        );

        // The acquirer goes silent: the refund is on record, pending.
        hang.store(true, Ordering::SeqCst);
        let refund = payments
            .refund(
                state.db(),
                &dept.client_id,
                &attempt.id,
                Some(payment_core::Money::parse("10.00").unwrap()),
                None,
                state.now(),
            )
            .await
            .unwrap();
        assert_eq!(refund.status, "pending");
        assert!(refund.failure.is_some());
        assert_eq!(
            payments
                .settle_pending_refunds(state.db(), state.now())
                .await
                .unwrap(),
            0,
            "not asked again within the minute"
        );
        // Back, a minute later: asked again and settled, once.
        hang.store(false, Ordering::SeqCst);
        clock.advance(61);
        assert_eq!(
            payments
                .settle_pending_refunds(state.db(), state.now())
                .await
                .unwrap(),
            1
        );
        let settled = state.db().refund(&refund.id).await.unwrap().unwrap();
        assert_eq!(settled.status, "succeeded");
        assert!(settled.failure.is_none());
        clock.advance(61);
        assert_eq!(
            payments
                .settle_pending_refunds(state.db(), state.now())
                .await
                .unwrap(),
            0
        );
        let refunds: Vec<_> = state
            .db()
            .ledger_of_payment(&attempt.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|l| l.kind == "refund")
            .collect();
        assert_eq!(refunds.len(), 2, "one refund transaction, two lines");
        assert!(refunds.iter().all(|l| l.amount_cents == 1000));
        db.finish().await;
    }

    /// The acquirer takes the request and never answers (a timeout: the
    /// money may have moved). The attempt stays on record; when the
    /// acquirer's webhook comes, naming our attempt id in its metadata, the
    /// payment is recorded.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unanswered_card_start_is_settled_by_its_webhook() {
        let Some(stripe) = emulator().await else {
            return;
        };
        // Accepts connections and says nothing.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent_base = format!("http://{}", silent.local_addr().unwrap());
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = silent.accept().await {
                held.push(socket);
            }
        });
        let db = crate::support::sqlite().await;
        let mut config = db.config.clone();
        payments_config(&mut config);
        config.payments.card = Some(card_settings(
            &stripe,
            &silent_base,
            1,
            FeeSettings::default(),
        ));
        let state = AppState::new(db.db.clone(), config);
        serve_for_webhooks(&state, &stripe).await;
        let (_, bill) = card_bill(&state, "SILENT-0001", "42.00").await;
        let payments = state.payments().unwrap();
        let token = payment_method(&stripe.base, "4242424242424242").await;
        let error = payments
            .start(
                state.db(),
                &bill.row.id,
                Method::Card,
                gateway::payments::StartOptions {
                    payment_method: Some(token.clone()),
                    ..Default::default()
                },
                state.now(),
            )
            .await
            .unwrap_err();
        let answer = gateway::http::payments::pay_error(error);
        assert_eq!(answer.status, StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(answer.code, "outcome_unknown", "not told to pay again");
        // The same through the card page, as card.js does it.
        let app = gateway::app(state.clone());
        let page = send(
            &app,
            crate::support::get(&format!("/pay/{}/card?lang=en", bill.row.id)),
        )
        .await;
        assert_eq!(page.status(), StatusCode::OK);
        let cookie = cookie_of(&page);
        let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains(&format!("script-src 'self' {}", stripe.base)),
            "{csp}"
        );
        let html = crate::support::text(page).await;
        assert!(
            !html.contains("name=\"card"),
            "card fields are never posted to the gateway"
        );
        let csrf = html
            .split("data-csrf=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned();
        let answer = send(
            &app,
            form_post(
                &format!("/pay/{}/card", bill.row.id),
                &cookie,
                &[
                    ("csrf", csrf.as_str()),
                    ("payment_method", token.as_str()),
                    ("lang", "en"),
                ],
            ),
        )
        .await;
        // No answer from the acquirer: the citizen is sent to wait for the
        // outcome, not told that nothing was taken.
        assert_eq!(answer.status(), StatusCode::OK);
        let answer = body_json(answer).await;
        let wait = answer["wait_url"].as_str().unwrap().to_owned();
        let waiting = crate::support::text(send(&app, crate::support::get(&wait)).await).await;
        assert!(
            waiting.contains("Waiting for the confirmation"),
            "{waiting}"
        );
        let attempt = state
            .db()
            .attempts_of(&bill.row.id)
            .await
            .unwrap()
            .remove(0);
        assert_eq!(attempt.state, "created", "on record, outcome unknown");
        assert!(attempt.provider_reference.is_none());
        // What the acquirer did with the request it never answered.
        let intent: Value = reqwest::Client::new()
            .post(format!("{}/v1/payment_intents", stripe.base))
            .bearer_auth("sk_test_gateway")
            .form(&[
                ("amount", "4200"),
                ("currency", "hkd"),
                ("confirm", "true"),
                ("payment_method", token.as_str()),
                ("payment_method_types[]", "card"),
                ("metadata[attempt_id]", attempt.id.as_str()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(intent["status"], "succeeded", "{intent}");
        let mut settled = None;
        for _ in 0..100 {
            let now = state.db().attempt(&attempt.id).await.unwrap().unwrap();
            if now.state == "succeeded" {
                settled = Some(now);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let settled = settled.expect("the webhook settled the attempt");
        assert_eq!(settled.provider_reference.as_deref(), intent["id"].as_str());
        let bill = state.db().bill(&bill.row.id).await.unwrap().unwrap();
        assert_eq!(bill.status, "paid");
        db.finish().await;
    }
}

mod history {
    use super::*;
    use eid_core::oidc::grant::Authentication;
    use gateway::signin::{BoxFuture, SessionSource};

    /// The citizen whose cookie says `who=NAME` is signed in.
    #[derive(Debug)]
    struct ByCookie;

    impl SessionSource for ByCookie {
        fn current<'a>(
            &'a self,
            headers: &'a axum::http::HeaderMap,
        ) -> BoxFuture<'a, Option<Authentication>> {
            Box::pin(async move {
                let who = gateway::signin::cookie(headers, "who")?;
                Some(Authentication {
                    citizen_id: who.to_owned(),
                    auth_time: OffsetDateTime::now_utc(),
                    acr: "urn:eid-gateway:loa:substantial".into(),
                    amr: vec!["hwk".into()],
                    session_id: format!("sid-{who}"),
                })
            })
        }
    }

    #[tokio::test]
    async fn signed_in_citizens_see_their_own_payments_only() {
        let Some(base) = setup(Backend::Sqlite).await else {
            return;
        };
        let state = AppState::with_parts(
            base.state.db().clone(),
            base.state.config().clone(),
            base.clock.clone(),
            Arc::new(ByCookie),
        );
        let app = gateway::app(state.clone());
        let bill = base.create("HIST-0001", "45.60").await;
        let bill_id = bill["id"].as_str().unwrap().to_owned();
        // Chan Tai Man starts an FPS payment on the page, signed in.
        let page = send(
            &app,
            Request::get(format!("/pay/{bill_id}"))
                .header(header::COOKIE, "who=chan")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        let pay_cookie = cookie_of(&page);
        let csrf = crate::support::csrf_of(&crate::support::text(page).await);
        let started = send(
            &app,
            form_post(
                &format!("/pay/{bill_id}/start"),
                &format!("who=chan; {pay_cookie}"),
                &[("csrf", csrf.as_str()), ("method", "fps"), ("lang", "en")],
            ),
        )
        .await;
        assert_eq!(started.status(), StatusCode::SEE_OTHER);
        let mine = |who: &str| {
            Request::get("/account/payments?lang=en")
                .header(header::COOKIE, format!("who={who}"))
                .body(Body::empty())
                .unwrap()
        };
        let html = crate::support::text(send(&app, mine("chan")).await).await;
        assert!(
            html.contains("HIST-0001") && html.contains("HK$45.60") && html.contains("Waiting"),
            "{html}"
        );
        let other = crate::support::text(send(&app, mine("wong")).await).await;
        assert!(
            !other.contains("HIST-0001"),
            "another citizen sees none of it"
        );
        assert!(other.contains("You have no payments"));
        let anonymous = crate::support::text(
            send(&app, crate::support::get("/account/payments?lang=zh-HK")).await,
        )
        .await;
        assert!(anonymous.contains("請登入"));
        // Paid: the history links to the receipt.
        let payments = state.payments().unwrap();
        let attempt = state.db().attempts_of(&bill_id).await.unwrap().remove(0);
        let NextStep::ShowQr { payload } =
            serde_json::from_str(attempt.next_step.as_deref().unwrap()).unwrap()
        else {
            panic!()
        };
        payments
            .fps_bank()
            .unwrap()
            .pay(&payload, state.now())
            .unwrap();
        work_once(&state, &base.deliverer).await;
        let html = crate::support::text(send(&app, mine("chan")).await).await;
        assert!(
            html.contains("Paid") && html.contains(&format!("/pay/{bill_id}/receipt")),
            "{html}"
        );
        base.finish().await;
    }
}

/// Concurrent bill creation is written in batches (group commit); what each
/// request is told must be what it would be told alone.
mod batched_creation {
    use super::*;
    use gateway::store::bill_batch::NewBill;
    use gateway::store::payments::InsertError;
    use payment_core::idempotency::{Begin, IdempotencyKey, IdempotencyStore};

    #[tokio::test]
    async fn a_batch_stores_new_bills_and_refers_the_rest_on_sqlite() {
        outcomes(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn a_batch_stores_new_bills_and_refers_the_rest_on_postgres() {
        outcomes(Backend::Postgres).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_are_answered_as_if_alone_on_sqlite() {
        concurrent(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_are_answered_as_if_alone_on_postgres() {
        concurrent(Backend::Postgres).await;
    }

    /// The batch statement's cached (generic) plan, as PostgreSQL makes it
    /// for a young table with no statistics, looks bills up by index:
    /// never a scan of every bill per batch, which is what a NOT EXISTS
    /// became (throughput fell from 5,000 to 1,600 bills/s within 20 s).
    #[tokio::test]
    async fn the_batch_statement_never_scans_all_bills() {
        let Some(db) = crate::support::postgres().await else {
            return;
        };
        let gateway::store::Db::Postgres(pool) = &db.db else {
            unreachable!("a PostgreSQL test database")
        };
        let mut conn = pool.acquire().await.unwrap();
        sqlx::raw_sql("SET plan_cache_mode = force_generic_plan")
            .execute(&mut *conn)
            .await
            .unwrap();
        sqlx::raw_sql(&format!(
            "PREPARE batch AS {}",
            gateway::store::bill_batch::BATCH_SQL
        ))
        .execute(&mut *conn)
        .await
        .unwrap();
        let rows: Vec<(String,)> = sqlx::query_as(&format!(
            "EXPLAIN (COSTS OFF) EXECUTE batch({})",
            vec!["'{}'"; 17].join(", ")
        ))
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        let plan: Vec<String> = rows.into_iter().map(|(line,)| line).collect();
        let plan = plan.join("\n");
        assert!(plan.contains("Insert on bills"), "{plan}");
        assert!(plan.contains("Index"), "{plan}");
        assert!(!plan.contains("Seq Scan"), "{plan}");
        drop(conn);
        db.finish().await;
    }

    fn new_bill(p: &Pay, key: &str, reference: &str, amount: &str) -> NewBill {
        let request = serde_json::from_value(bill_body(reference, amount)).unwrap();
        let stored = p
            .state
            .payments()
            .unwrap()
            .new_bill(&p.client_id, "test", request, p.state.now())
            .unwrap();
        NewBill {
            key: IdempotencyKey {
                department: p.client_id.clone(),
                operation: "create_bill".into(),
                key: key.into(),
            },
            request_hash: format!("{reference}/{amount}").into_bytes(),
            bill: stored.row,
            status: 201,
            body: b"{}".to_vec(),
        }
    }

    fn verdict(outcome: &Result<bool, InsertError>) -> &'static str {
        match outcome {
            Ok(true) => "stored",
            Ok(false) => "key used",
            Err(InsertError::Conflict) => "reference taken",
            Err(InsertError::Store(_)) => "store error",
        }
    }

    async fn outcomes(backend: Backend) {
        let Some(p) = setup(backend).await else {
            return;
        };
        let db = p.state.db();
        // Already there: a bill with reference TAKEN under key OLD.
        let old = new_bill(&p, "OLD", "TAKEN", "10.00");
        assert_eq!(verdict(&db.insert_bills_once(&[old]).await[0]), "stored");

        let batch = vec![
            new_bill(&p, "K1", "R1", "1.00"),
            // The same key again in the batch, another body.
            new_bill(&p, "K1", "R1-BIS", "2.00"),
            // Another key, the reference of the first.
            new_bill(&p, "K2", "R1", "3.00"),
            // A reference stored before.
            new_bill(&p, "K3", "TAKEN", "4.00"),
            // A key used before.
            new_bill(&p, "OLD", "R5", "5.00"),
            new_bill(&p, "K4", "R4", "6.00"),
        ];
        let ids: Vec<String> = batch.iter().map(|b| b.bill.id.clone()).collect();
        let got: Vec<&str> = db
            .insert_bills_once(&batch)
            .await
            .iter()
            .map(verdict)
            .collect();
        assert_eq!(
            got,
            [
                "stored",
                "key used",
                "reference taken",
                "reference taken",
                "key used",
                "stored"
            ]
        );
        // What is stored is exactly the two new bills (and the old one).
        let mut references: Vec<String> = Vec::new();
        for id in &ids {
            if let Some(row) = db.bill(id).await.unwrap() {
                references.push(row.reference);
            }
        }
        assert_eq!(references, ["R1", "R4"]);
        assert_eq!(p.bill_count().await, 3);
        // K2 and K3 were not claimed (their bills were refused): each is
        // free for a corrected request.
        for key in ["K2", "K3"] {
            let key = IdempotencyKey {
                department: p.client_id.clone(),
                operation: "create_bill".into(),
                key: key.into(),
            };
            assert_eq!(
                db.begin(&key, b"other", p.state.now()).await.unwrap(),
                Begin::Proceed,
                "{}",
                key.key
            );
        }
        // K1 holds the first bill's request, not the second's.
        let k1 = IdempotencyKey {
            department: p.client_id.clone(),
            operation: "create_bill".into(),
            key: "K1".into(),
        };
        assert!(matches!(
            db.begin(&k1, b"R1/1.00", p.state.now()).await.unwrap(),
            Begin::Replay(_)
        ));
        assert_eq!(
            db.begin(&k1, b"R1-BIS/2.00", p.state.now()).await.unwrap(),
            Begin::Mismatch
        );
        p.finish().await;
    }

    async fn concurrent(backend: Backend) {
        let Some(p) = setup(backend).await else {
            return;
        };
        let p = Arc::new(p);
        let mut tasks = Vec::new();
        let mut spawn = |kind: &'static str, key: String, reference: String| {
            let p = p.clone();
            tasks.push(tokio::spawn(async move {
                let (status, body) = p
                    .call(
                        "POST",
                        "/v1/bills",
                        Some(&bill_body(&reference, "12.30")),
                        Some(&key),
                    )
                    .await;
                (kind, status, body)
            }));
        };
        for n in 0..60 {
            spawn("new", format!("NEW-{n}"), format!("NEW-{n}"));
        }
        for _ in 0..20 {
            spawn("retry", "SAME".into(), "SAME".into());
        }
        for n in 0..10 {
            spawn("dup-ref", format!("DUP-{n}"), "DUP-REF".into());
        }
        for n in 0..10 {
            let reference = if n % 2 == 0 { "MIX-X" } else { "MIX-Y" };
            spawn("mix", "MIX".into(), reference.into());
        }
        let mut answers: HashMap<&str, Vec<(StatusCode, Value)>> = HashMap::new();
        for task in tasks {
            let (kind, status, body) = task.await.unwrap();
            answers.entry(kind).or_default().push((status, body));
        }
        let created = |kind: &str| {
            answers[kind]
                .iter()
                .filter(|(s, _)| *s == StatusCode::CREATED)
                .map(|(_, b)| b["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        let new = created("new");
        assert_eq!(new.len(), 60, "{:?}", answers["new"]);
        assert_eq!(
            new.iter().collect::<std::collections::HashSet<_>>().len(),
            60
        );
        // Every retry of one request gets the same bill.
        let retried = created("retry");
        assert_eq!(retried.len(), 20, "{:?}", answers["retry"]);
        assert!(retried.iter().all(|id| *id == retried[0]));
        // One reference, ten keys: one bill, nine refusals.
        assert_eq!(created("dup-ref").len(), 1);
        for (status, body) in answers["dup-ref"]
            .iter()
            .filter(|(s, _)| *s != StatusCode::CREATED)
        {
            assert_eq!(*status, StatusCode::CONFLICT, "{body}");
            assert_eq!(body["error"], "duplicate_reference");
        }
        // One key, two bodies: the first one stored wins; its retries get
        // its bill and the other body is told the key was used.
        let mixed = created("mix");
        assert!(!mixed.is_empty() && mixed.iter().all(|id| *id == mixed[0]));
        for (status, body) in answers["mix"]
            .iter()
            .filter(|(s, _)| *s != StatusCode::CREATED)
        {
            assert_eq!(*status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(body["error"], "idempotency_key_reused");
        }
        assert_eq!(p.bill_count().await, 60 + 1 + 1 + 1);
        Arc::into_inner(p).unwrap().finish().await;
    }
}

/// API keys are remembered for `api.key_cache_secs` (5 by default): a
/// revocation bites within that time, and every request's secret is still
/// checked.
mod key_cache {
    use super::*;

    #[tokio::test]
    async fn a_revoked_key_is_refused_once_the_cache_time_has_passed() {
        let Some(p) = setup(Backend::Sqlite).await else {
            return;
        };
        let list = |key: String| {
            Request::get("/v1/bills")
                .header(header::AUTHORIZATION, format!("Bearer {key}"))
                .body(Body::empty())
                .unwrap()
        };
        assert_eq!(
            send(&p.app, list(p.key.clone())).await.status(),
            StatusCode::OK
        );
        let key_id = &p.key["gw_test_".len().."gw_test_".len() + 16];
        assert!(
            p.state
                .db()
                .revoke_api_key(key_id, p.state.now())
                .await
                .unwrap()
        );
        // Remembered: still good for up to key_cache_secs...
        p.clock.advance(4);
        assert_eq!(
            send(&p.app, list(p.key.clone())).await.status(),
            StatusCode::OK
        );
        // ...but what is remembered is the secret's hash, not a verdict: the
        // key id with another secret is refused all the same.
        let mut forged = p.key.clone();
        let last = forged.pop().unwrap();
        forged.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(
            send(&p.app, list(forged)).await.status(),
            StatusCode::UNAUTHORIZED
        );
        // Then looked up again, and refused.
        p.clock.advance(1);
        let refused = send(&p.app, list(p.key.clone())).await;
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(body_json(refused).await["error"], "invalid_api_key");
        p.finish().await;
    }
}
