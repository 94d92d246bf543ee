package device

// Listing devices: the CA's index joined with the dynamic security clients
// and, when a broker's inspector answers, who is connected now.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"mqtls/certs"
)

// Device is one line of `mqtls device list`; its JSON form is what --json
// prints.
type Device struct {
	ID       string    `json:"id"`
	Roles    []string  `json:"roles"`
	Groups   []string  `json:"groups,omitempty"`
	Serial   string    `json:"serial"`
	Expires  time.Time `json:"expires"`
	Expired  bool      `json:"expired"`
	Revoked  bool      `json:"revoked"`
	Disabled bool      `json:"disabled"`
	// HasClient is false for a certificate without its dynamic security
	// client (an interrupted add: `mqtls device add` completes it).
	HasClient bool `json:"has_client"`
	// Connected is nil when no broker told who is connected.
	Connected *bool `json:"connected"`
}

// State is the one word `device list` shows for d: revoked, expired, no
// client (when knowClients: a dynamic security target was read), disabled,
// or ok.
func (d Device) State(knowClients bool) string {
	switch {
	case d.Revoked:
		return "revoked"
	case d.Expired:
		return "expired"
	case knowClients && !d.HasClient:
		return "no client (run device add again)"
	case d.Disabled:
		return "disabled"
	}
	return "ok"
}

// List returns every device (client certificate) of the CA, newest
// certificate per id, sorted by id. The target may be nil (roles unknown);
// connected may be nil (connection state unknown).
func (o *Onboarder) List(connected map[string]bool, now time.Time) ([]Device, error) {
	entries, err := o.CA.List()
	if err != nil {
		return nil, err
	}
	byID := map[string]Device{}
	for _, e := range entries {
		if e.Kind != certs.Client {
			continue
		}
		// Later lines are newer: the last certificate of a name wins.
		byID[e.Name] = Device{ID: e.Name, Serial: e.Serial, Expires: e.NotAfter, Expired: e.Expired(now), Revoked: e.Revoked, Roles: []string{}}
	}
	if o.Target != nil {
		cls, err := listClients(o.Target)
		if err != nil {
			return nil, err
		}
		for _, c := range cls {
			d, ok := byID[c.Username]
			if !ok {
				continue
			}
			d.HasClient, d.Disabled, d.Groups = true, c.Disabled, c.Groups
			if c.Roles != nil {
				d.Roles = c.Roles
			}
			byID[c.Username] = d
		}
	}
	out := make([]Device, 0, len(byID))
	for _, d := range byID {
		if connected != nil {
			v := connected[d.ID]
			d.Connected = &v
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Connected asks a broker's inspector (its base URL, e.g.
// http://127.0.0.1:8088) which clients are connected now, and returns their
// user names (a device's certificate CN). It fails when the inspector does
// not answer.
func Connected(ctx context.Context, base string) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/api/clients", nil)
	if err != nil {
		return nil, fmt.Errorf("inspector url: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ask the inspector who is connected: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("ask the inspector who is connected: %s", resp.Status)
	}
	var body struct {
		Clients []struct {
			ID       string `json:"id"`
			Username string `json:"username"`
			CN       string `json:"cn"`
		} `json:"clients"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&body); err != nil {
		return nil, fmt.Errorf("read the inspector's client list: %w", err)
	}
	m := map[string]bool{}
	for _, c := range body.Clients {
		for _, n := range []string{c.Username, c.CN} {
			if n != "" {
				m[n] = true
			}
		}
	}
	return m, nil
}
