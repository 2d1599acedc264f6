-- The transactional outbox: one row per payment, inserted in the payment's
-- transaction, so its event is published at least once (after commit, by
-- the request, else by a sweep; after a failover by the new Region, since
-- the rows replicate with the rest). next_attempt_at starts InlineGrace
-- after the payment, leaving the row to the request that committed it;
-- claim_token marks a sweep's batch. Payments committed before this
-- migration have no row: their events were published (or logged as lost)
-- by the code of that time.
CREATE TABLE payment_outbox (
  payment_id      CHAR(32)    CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  created_at      DATETIME(6) NOT NULL,
  attempts        INT         NOT NULL DEFAULT 0,
  next_attempt_at DATETIME(6) NOT NULL,
  claim_token     CHAR(32)    CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  sent_at         DATETIME(6) NULL,
  PRIMARY KEY (payment_id),
  KEY ix_outbox_due (sent_at, next_attempt_at),
  KEY ix_outbox_claim (claim_token),
  CONSTRAINT fk_outbox_payment FOREIGN KEY (payment_id) REFERENCES payments (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
