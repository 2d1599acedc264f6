package daemon

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// HeartbeatEvery is how often the writer's heartbeat row is written. Lag
// is read on the replica as now minus the newest heartbeat it applied:
// Seconds_Behind_Master reads 0 during a silent link loss.
const HeartbeatEvery = 100 * time.Millisecond

func (d *Daemon) heartbeat(ctx context.Context) {
	t := time.NewTicker(HeartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.beat(ctx)
		}
	}
}

// beat writes the heartbeat on the writer as a user without READ ONLY
// ADMIN: on a fenced or demoted node the write fails (1290) instead of
// becoming an errant transaction.
func (d *Daemon) beat(ctx context.Context) {
	top := d.topology()
	if top.Writer == "" || top.Down[top.Writer] {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, _ = d.parts[top.Writer].hb.ExecContext(cctx, `INSERT INTO heartbeat (id, region, ts) VALUES (1, ?, NOW(6))
ON DUPLICATE KEY UPDATE region = VALUES(region), ts = VALUES(ts)`, top.Writer)
}

// errNoHeartbeat: the replica has never applied a heartbeat.
var errNoHeartbeat = errors.New("no heartbeat applied yet")

// newestHeartbeat is the newest heartbeat applied in region: the writer
// that wrote it and its age (the replication lag).
func (d *Daemon) newestHeartbeat(ctx context.Context, region string) (writer string, age time.Duration, err error) {
	var us sql.NullInt64
	var from sql.NullString
	err = d.parts[region].admin.QueryRowContext(ctx, "SELECT region, TIMESTAMPDIFF(MICROSECOND, ts, NOW(6)) FROM drlab.heartbeat WHERE id = 1").Scan(&from, &us)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !us.Valid) {
		return "", 0, errNoHeartbeat
	}
	if err != nil {
		return "", 0, err
	}
	return from.String, time.Duration(us.Int64) * time.Microsecond, nil
}
