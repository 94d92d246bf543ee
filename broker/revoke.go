package broker

import (
	"fmt"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// crlPollInterval is how often a crlfile is checked for changes.
const crlPollInterval = time.Second

// watchCRL reloads a listener's crlfile whenever it changes, until Close.
func (b *Broker) watchCRL(ls *listenerState) {
	t := time.NewTicker(crlPollInterval)
	defer t.Stop()
	for {
		select {
		case <-b.done:
			return
		case <-t.C:
			b.reloadCRL(ls, false)
		}
	}
}

// reloadCRL loads the crlfile (when changed, or always with force) and
// disconnects the live clients of the listener whose certificates it revokes.
func (b *Broker) reloadCRL(ls *listenerState, force bool) {
	changed, err := ls.crl.reload(force)
	if err != nil {
		b.log.Error("CRL reload failed, the previous CRL stays in force: " + err.Error())
		return
	}
	if !changed {
		return
	}
	for _, cl := range b.server.Clients.GetAll() {
		if cl.Net.Listener != ls.id || cl.Closed() || cl.Net.Inline {
			continue
		}
		st, ok := connState(cl.Net.Conn)
		if !ok {
			continue
		}
		for _, chain := range st.VerifiedChains {
			if reason := ls.crl.revokedReason(chain); reason != "" {
				b.log.Warn(fmt.Sprintf("Client %s (u'%s') disconnected: %s.", cl.ID, cl.Properties.Username, reason))
				go func() { _ = b.server.DisconnectClient(cl, packets.ErrNotAuthorized) }()
				break
			}
		}
	}
}
