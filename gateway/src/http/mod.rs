//! The HTTP surface: [`app`] builds the router with its middleware stack.
//!
//! One module per area. The middleware order, outermost first:
//! request id, security headers, tracing span, metrics, error envelope,
//! panic catcher, timeout, body limit (enforced by the body extractors,
//! which stop reading at the limit); then the handler.

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::state::AppState;

pub mod admin;
pub mod card;
pub mod error;
pub mod flow;
pub mod formfill;
pub mod headers;
pub mod limit;
pub mod oidc;
pub mod openapi;
pub mod ops;
pub mod payments;
pub mod receipts;
pub mod request_id;
pub mod signin;

pub use error::ApiError;
pub use headers::Transport;
pub use request_id::{REQUEST_ID_HEADER, RequestId};

/// The gateway's router, with every route and the middleware stack.
pub fn app(state: AppState) -> Router {
    let admin = Router::new()
        .route("/admin/clients", get(admin::list).post(admin::create))
        .route(
            "/admin/clients/{client_id}/{action}",
            post(admin::set_enabled),
        )
        .route_layer(from_fn_with_state(state.clone(), admin::require_operator));

    let signin_routes = Router::new()
        .route(
            "/signin/passkey/register/begin",
            post(signin::register_begin),
        )
        .route(
            "/signin/passkey/register/finish",
            post(signin::register_finish),
        )
        .route("/signin/passkey/begin", post(signin::sign_in_begin))
        .route("/signin/passkey/finish", post(signin::sign_in_finish))
        .route("/signin/card/challenge", post(card::challenge))
        .route("/signin/card/finish", post(card::finish))
        .route("/signout", post(signin::sign_out))
        .route("/signin/continue", get(flow::resume))
        .route(
            "/account/passkeys",
            get(crate::pages::account::page).post(crate::pages::account::change),
        )
        .route("/account/signout", post(crate::pages::account::sign_out))
        .route(
            "/consent",
            get(crate::pages::consent::page).post(crate::pages::consent::decide),
        )
        .route("/account/consents/{id}/receipt", get(receipts::for_citizen))
        .route(
            "/account/consents",
            get(crate::pages::consents::page).post(crate::pages::consents::revoke),
        )
        .route(
            "/account/profile",
            get(crate::pages::profile::page).post(crate::pages::profile::save),
        )
        .route_layer(from_fn_with_state(state.clone(), limit::limit_signin));

    let routes = Router::new()
        .merge(admin)
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/csp-report", post(ops::csp_report))
        .route("/jwks", get(oidc::jwks))
        .merge(
            Router::new()
                .route("/v1/consents/{id}/receipt", get(receipts::for_department))
                .route("/v1/formfill", post(formfill::fill))
                .route(
                    "/v1/bills",
                    post(payments::create_bill).get(payments::list_bills),
                )
                .route("/v1/bills/{id}", get(payments::get_bill))
                .route("/v1/bills/{id}/cancel", post(payments::cancel_bill))
                .route("/v1/payments/{id}", get(payments::get_payment))
                .route("/v1/payments/{id}/refunds", post(payments::create_refund))
                .route("/v1/refunds/{id}", get(payments::get_refund))
                .route("/v1/reports/daily", get(payments::daily_report))
                .route("/v1/webhooks/events", get(payments::list_events))
                .route(
                    "/v1/webhooks/events/{id}/redeliver",
                    post(payments::redeliver),
                )
                .route_layer(from_fn_with_state(state.clone(), limit::limit_department)),
        )
        .route("/v1/openapi.json", get(openapi::serve))
        .route("/callbacks/{provider}", post(payments::callback))
        .route(
            "/pay/return/{payment}",
            post(payments::provider_return).get(payments::provider_return_get),
        )
        .route("/par", post(oidc::par))
        .route("/authorize", get(flow::authorize))
        .route("/token", post(flow::token))
        .route("/revoke", post(flow::revoke))
        .route("/logout", get(flow::logout).post(flow::logout))
        .route("/userinfo", get(flow::userinfo).post(flow::userinfo))
        .route("/.well-known/openid-configuration", get(flow::discovery))
        .merge(signin_routes)
        .route("/signin", get(crate::pages::sign_in))
        .route("/static/site.css", get(crate::pages::stylesheet))
        .route("/static/signin.js", get(crate::pages::signin_script))
        .route("/static/pay.js", get(crate::pages::pay::script))
        .route("/static/card.js", get(crate::pages::pay::card_script))
        .route(
            "/pay/{bill}/card",
            get(crate::pages::pay::card_page).post(crate::pages::pay::card_start),
        )
        .route(
            "/pay/{bill}/payment/{payment}",
            get(crate::pages::pay::fps_page),
        )
        .route("/pay/{bill}", get(crate::pages::pay::bill_page))
        .route("/pay/{bill}/start", post(crate::pages::pay::start))
        .route("/pay/{bill}/status", get(crate::pages::pay::status))
        .route("/pay/{bill}/receipt", get(crate::pages::pay::receipt))
        .route(
            "/pay/{bill}/fps/{payment}",
            get(crate::pages::pay::fps_page),
        )
        .route(
            "/pay/{bill}/fps/{payment}/qr.png",
            get(crate::pages::pay::fps_png),
        )
        .route(
            "/pay/{bill}/fps/{payment}/sandbox",
            post(crate::pages::pay::fps_sandbox_pay),
        )
        .route("/account/payments", get(crate::pages::pay::history))
        .route(
            "/sandbox/pps",
            get(crate::pages::pay::pps_page).post(crate::pages::pay::pps_finish),
        );
    with_middleware(routes, state)
}

/// The router of the smart-ID-card listener (the one that asks for a TLS
/// client certificate): the card sign-in, the stylesheet and the health
/// checks, with the same middleware stack as [`app`].
pub fn card_app(state: AppState) -> Router {
    let routes = Router::new()
        .route("/signin/card/tls", get(card::tls))
        .route_layer(from_fn_with_state(state.clone(), limit::limit_signin))
        .route("/healthz", get(ops::healthz))
        .route("/static/site.css", get(crate::pages::stylesheet));
    with_middleware(routes, state)
}

fn with_middleware(routes: Router<AppState>, state: AppState) -> Router {
    let config = state.config();
    let transport = Transport {
        tls: config.tls.is_some(),
    };
    let max_body = config.http.max_body_bytes;
    let timeout = config.request_timeout();

    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request| {
            let request_id = request
                .extensions()
                .get::<RequestId>()
                .map(|id| id.as_str().to_owned())
                .unwrap_or_default();
            // The matched route, never the raw path or query: those can
            // carry codes, tokens or personal data.
            let route = request
                .extensions()
                .get::<MatchedPath>()
                .map_or("unmatched", |p| p.as_str());
            tracing::info_span!(
                "request",
                method = %request.method(),
                route,
                request_id,
            )
        })
        .on_response(DefaultOnResponse::new().level(Level::INFO))
        // Every answer is logged once by on_response, with its status; the
        // causes of 5xx answers are logged where they arise.
        .on_failure(());

    routes
        .layer(
            ServiceBuilder::new()
                .layer(from_fn(request_id::assign_request_id))
                .layer(from_fn_with_state(transport, headers::security_headers))
                .layer(trace)
                .layer(from_fn_with_state(state.clone(), ops::record_metrics))
                .layer(from_fn(error::error_envelope))
                .layer(CatchPanicLayer::new())
                .layer(TimeoutLayer::with_status_code(
                    StatusCode::SERVICE_UNAVAILABLE,
                    timeout,
                ))
                .layer(DefaultBodyLimit::max(max_body)),
        )
        .with_state(state)
}
