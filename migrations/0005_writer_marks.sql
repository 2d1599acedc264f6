-- The newest moment each Region's payment service saw its database take
-- writes, written every few seconds by the writer. It replicates in
-- commit order with the payments, so the mark a new writer holds after a
-- failover tells which claims it may lack: those made after the mark
-- less the longest a claim may take to commit (docs/journal.md, "The
-- replay's window"). One row per Region. The same statement on MariaDB
-- 10.11 and Aurora MySQL 3.
CREATE TABLE writer_marks (
  region    VARCHAR(32) NOT NULL,
  marked_at DATETIME(6) NOT NULL,
  PRIMARY KEY (region)
) ENGINE=InnoDB;
