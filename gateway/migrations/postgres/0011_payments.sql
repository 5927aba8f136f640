-- Payments (issue 8). A bill row holds the department's bill and its
-- payment state (payment-core's BillPayments) as JSON, with a version that
-- every change bumps first: that UPDATE takes the row lock (PostgreSQL) or
-- runs inside BEGIN IMMEDIATE (SQLite), so changes to one bill are serial.
-- Amounts are in cents; times are Unix seconds; dates are Hong Kong dates.
CREATE TABLE bills (
    id           TEXT    PRIMARY KEY,
    department   TEXT    NOT NULL,
    mode         TEXT    NOT NULL,
    reference    TEXT    NOT NULL,
    amount_cents BIGINT  NOT NULL,
    status       TEXT    NOT NULL,
    bill         TEXT    NOT NULL,
    payments     TEXT    NOT NULL,
    version      BIGINT  NOT NULL,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    UNIQUE (department, mode, reference)
);
CREATE INDEX bills_by_department ON bills (department, created_at, id);

-- One row per payment attempt (the "payment" of the API): how a provider's
-- reference finds its bill, and what the pay page shows next.
CREATE TABLE payment_attempts (
    id                 TEXT    PRIMARY KEY,
    bill_id            TEXT    NOT NULL REFERENCES bills (id),
    department         TEXT    NOT NULL,
    idx                BIGINT  NOT NULL,
    method             TEXT    NOT NULL,
    provider           TEXT    NOT NULL,
    provider_reference TEXT,
    state              TEXT    NOT NULL,
    next_step          TEXT,
    late               BIGINT  NOT NULL,
    created_at         BIGINT  NOT NULL,
    expires_at         BIGINT  NOT NULL,
    updated_at         BIGINT  NOT NULL,
    citizen_id         TEXT,
    UNIQUE (bill_id, idx),
    UNIQUE (provider, provider_reference)
);
CREATE INDEX payment_attempts_open ON payment_attempts (state, expires_at);
-- A signed-in citizen's payment history.
CREATE INDEX payment_attempts_by_citizen ON payment_attempts (citizen_id, created_at);

-- Every provider notification acted on, once: the primary key is what makes
-- a duplicate a no-op, however many arrive at once.
CREATE TABLE provider_notifications (
    provider        TEXT   NOT NULL,
    notification_id TEXT   NOT NULL,
    payment_id      TEXT   NOT NULL,
    outcome         TEXT   NOT NULL,
    received_at     BIGINT NOT NULL,
    PRIMARY KEY (provider, notification_id)
);

-- Refunds of a payment.
CREATE TABLE refunds (
    id                 TEXT   PRIMARY KEY,
    payment_id         TEXT   NOT NULL REFERENCES payment_attempts (id),
    department         TEXT   NOT NULL,
    amount_cents       BIGINT NOT NULL,
    status             TEXT   NOT NULL,
    reason             TEXT,
    provider_refund_id TEXT,
    failure            TEXT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX refunds_by_payment ON refunds (payment_id);

-- The double-entry ledger (payment-core's Transaction), one row per line.
-- A transaction id names its cause (payment:PROVIDER:REF, refund:..., fee:...),
-- so the same money cannot be posted twice.
CREATE TABLE ledger_lines (
    transaction_id TEXT   NOT NULL,
    line           BIGINT NOT NULL,
    kind           TEXT   NOT NULL,
    department     TEXT   NOT NULL,
    bill_id        TEXT   NOT NULL,
    payment_id     TEXT   NOT NULL,
    provider       TEXT   NOT NULL,
    method         TEXT   NOT NULL,
    account        TEXT   NOT NULL,
    side           TEXT   NOT NULL,
    amount_cents   BIGINT NOT NULL,
    posted_at      BIGINT NOT NULL,
    posted_date    TEXT   NOT NULL,
    PRIMARY KEY (transaction_id, line)
);
CREATE INDEX ledger_by_department_date ON ledger_lines (department, posted_date);

-- The transactional outbox of webhooks to departments: written in the same
-- transaction as the change it reports, delivered at least once.
CREATE TABLE webhook_events (
    id              TEXT   PRIMARY KEY,
    department      TEXT   NOT NULL,
    event_type      TEXT   NOT NULL,
    body            TEXT   NOT NULL,
    status          TEXT   NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT NOT NULL,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT
);
CREATE INDEX webhook_events_due ON webhook_events (status, next_attempt_at);
CREATE INDEX webhook_events_by_department ON webhook_events (department, created_at);

-- Where a department receives webhooks, and the secrets they are signed
-- with (JSON list, newest first; two during a rotation).
CREATE TABLE webhook_endpoints (
    client_id  TEXT   PRIMARY KEY,
    url        TEXT   NOT NULL,
    secrets    TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);
