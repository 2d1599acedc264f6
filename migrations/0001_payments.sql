-- Payments and their double-entry ledger. One transaction writes a payment
-- row and, when it is processed, its two ledger entries. The unique
-- idempotency key makes a replayed or concurrent duplicate request find the
-- first payment instead of charging twice: Aurora has one writer for both
-- Regions, so the key is unique globally.
CREATE TABLE payments (
  id              CHAR(32)     NOT NULL,
  idempotency_key VARCHAR(255) NOT NULL,
  request_hash    CHAR(64)     NOT NULL,
  amount          BIGINT       NOT NULL,
  currency        CHAR(3)      NOT NULL,
  merchant_ref    VARCHAR(64)  NOT NULL,
  customer_ref    VARCHAR(64)  NOT NULL,
  session_id      VARCHAR(160) NOT NULL,
  status          VARCHAR(16)  NOT NULL,
  failure_reason  VARCHAR(64)  NULL,
  region          VARCHAR(32)  NOT NULL,
  created_at      DATETIME(6)  NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_payments_idempotency_key (idempotency_key),
  CONSTRAINT ck_payments_amount_positive CHECK (amount > 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE ledger_entries (
  id         BIGINT      NOT NULL AUTO_INCREMENT,
  payment_id CHAR(32)    NOT NULL,
  account    VARCHAR(80) NOT NULL,
  direction  VARCHAR(6)  NOT NULL,
  amount     BIGINT      NOT NULL,
  currency   CHAR(3)     NOT NULL,
  created_at DATETIME(6) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY uq_ledger_payment_direction (payment_id, direction),
  KEY ix_ledger_account (account),
  CONSTRAINT fk_ledger_payment FOREIGN KEY (payment_id) REFERENCES payments (id),
  CONSTRAINT ck_ledger_amount_positive CHECK (amount > 0),
  CONSTRAINT ck_ledger_direction CHECK (direction IN ('debit', 'credit'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
