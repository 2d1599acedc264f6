package daemon

import "github.com/payment-dr/payment-dr/internal/lab/labdir"

// writeDescriptions writes lab.json, state.json and the initial parameters.
func (d *Daemon) writeDescriptions() error {
	n := d.naming()
	lab := labdir.Lab{Environment: d.cfg.Environment, APIKey: d.state.Passwords[apiKeyEntry],
		FailoverURL: "http://" + d.ports.frontdoor.Addr().String(), Regions: map[string]labdir.Region{}}
	for _, r := range d.regions() {
		role := "secondary"
		if r == d.cfg.PrimaryRegion {
			role = "primary"
		}
		lab.Regions[r] = labdir.Region{APIURL: d.apiURL(r), InvokeURL: "http://" + d.apiAddr(r), Role: role, MySQLAdminDSN: d.adminDSN(r)}
		for name, v := range map[string]string{n.ActiveRegionParam(): d.cfg.PrimaryRegion, n.WriterEndpointParam(): d.endpoint(d.cfg.PrimaryRegion),
			n.DBEndpointParam(role): d.endpoint(r), n.APIKeySecretParam(): n.APIKeySecretName()} {
			if err := d.dir.PutParameter(r, name, v); err != nil {
				return err
			}
		}
	}
	if err := d.dir.WriteJSON("state.json", d.state); err != nil {
		return err
	}
	return d.dir.WriteJSON("lab.json", lab)
}
