-- drctl reconcile reads only the window of the old primary's payments
-- that can hold lost ones (from shortly before the failover on), page by
-- page in (created_at, id) order: this index makes its cost grow with the
-- window, not with the table. Plain CREATE INDEX: the same statement on
-- MariaDB 10.11 and Aurora MySQL 3 (MySQL 8.0), online (in place) on both.
CREATE INDEX ix_payments_created ON payments (created_at, id);
