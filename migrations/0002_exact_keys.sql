-- Keys, references and ids compare byte for byte. 0001 left the tables in
-- the server's default collation (utf8mb4_general_ci on MariaDB), so
-- 'Order-1' and 'order-1', or 'k' and 'k ', were one idempotency key.
--
-- idempotency_key becomes VARBINARY: bytes, no collation, no padding. A
-- binary *collation* is not enough: utf8mb4_bin is a PAD SPACE collation
-- on MariaDB 10.11 and on MySQL 8.0 (Aurora MySQL 3), so it still equates
-- 'k' and 'k '. The other columns take utf8mb4_bin: they hold only
-- [A-Za-z0-9._:-] (validated), where padding cannot matter, and stay
-- readable as text. The ledger's foreign key is dropped and re-created
-- around the change because both of its columns change.
ALTER TABLE ledger_entries DROP FOREIGN KEY fk_ledger_payment;

ALTER TABLE payments
  DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
  MODIFY id              CHAR(32)     CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  MODIFY idempotency_key VARBINARY(255) NOT NULL,
  MODIFY request_hash    CHAR(64)     CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  MODIFY currency        CHAR(3)      CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  MODIFY merchant_ref    VARCHAR(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  MODIFY customer_ref    VARCHAR(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  MODIFY session_id      VARCHAR(160) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  MODIFY status          VARCHAR(16)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  MODIFY failure_reason  VARCHAR(64)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  MODIFY region          VARCHAR(32)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;

ALTER TABLE ledger_entries
  DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
  MODIFY payment_id CHAR(32)    CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  MODIFY account    VARCHAR(80) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  MODIFY direction  VARCHAR(6)  CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  MODIFY currency   CHAR(3)     CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;

ALTER TABLE ledger_entries
  ADD CONSTRAINT fk_ledger_payment FOREIGN KEY (payment_id) REFERENCES payments (id);
