package broker

import (
	"fmt"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/conf"
	"mqtls/dynsec"
)

// dynsecState is the dynamic security store the plugin line turned on.
type dynsecState struct {
	store *dynsec.Store
	lock  *dynsec.FileLock

	// ctl serialises $CONTROL requests; kicks reported while one runs wait
	// until its response is published, so that an admin who changes its own
	// access still gets the answer (Mosquitto issue #2474).
	ctl      sync.Mutex
	kickMu   sync.Mutex
	inCtl    bool
	deferred []string
}

// loadDynsec opens the file of "plugin_opt_config_file" and holds its lock,
// so that `mqtls dynsec -f` does not edit it behind the broker's back.
func (b *Broker) loadDynsec(p conf.Plugin) (*dynsec.Store, error) {
	if b.dynsec != nil {
		return nil, fmt.Errorf("plugin %s: dynamic security can be loaded only once", p.Path)
	}
	path := p.Options["config_file"]
	if path == "" {
		return nil, fmt.Errorf("plugin %s needs plugin_opt_config_file (the dynamic-security.json file)", p.Path)
	}
	lock, err := dynsec.Lock(path)
	if err != nil {
		return nil, err
	}
	st, err := dynsec.Load(path)
	if err != nil {
		lock.Unlock()
		return nil, err
	}
	st.SetLogger(b.log)
	if b.cfg.DynsecCacheBytes >= 0 {
		st.SetCacheBytes(b.cfg.DynsecCacheBytes)
	}
	d := &dynsecState{store: st, lock: lock}
	st.OnKick(func(username string) { b.dynsecKick(d, username) })
	b.dynsec = d
	b.log.Info("Loaded dynamic security config " + path + ".")
	return st, nil
}

func (b *Broker) dynsecKick(d *dynsecState, username string) {
	d.kickMu.Lock()
	if d.inCtl {
		d.deferred = append(d.deferred, username)
		d.kickMu.Unlock()
		return
	}
	d.kickMu.Unlock()
	b.Kick(username)
}

// control runs one $CONTROL/dynamic-security/v1 request and publishes the
// answer on the response topic; the request itself is not delivered.
func (b *Broker) control(cl *mqtt.Client, pk packets.Packet) {
	b.log.Debug(fmt.Sprintf("dynsec: %s/%s | request of %d bytes", cl.ID, cl.Properties.Username, len(pk.Payload)))
	b.runControl(pk.Payload, b.publishResponse)
}

// ControlRequest runs one $CONTROL/dynamic-security/v1 request for the
// inspector's Access view and returns the response, which is published on
// the response topic as an MQTT request's is, so that a subscriber there
// sees the page's changes as it sees mosquitto_ctrl's.
func (b *Broker) ControlRequest(payload []byte) []byte {
	return b.runControl(payload, b.publishResponse)
}

func (b *Broker) publishResponse(resp []byte) {
	if err := b.server.Publish(dynsec.ResponseTopic, resp, false, 0); err != nil {
		b.log.Error("dynsec: publish response: " + err.Error())
	}
}

// runControl runs requests one at a time; the sessions a request ends are
// kicked after answer has the response.
func (b *Broker) runControl(payload []byte, answer func([]byte)) []byte {
	d := b.dynsec
	d.ctl.Lock()
	defer d.ctl.Unlock()
	d.kickMu.Lock()
	d.inCtl = true
	d.kickMu.Unlock()
	resp := d.store.Control(payload)
	if answer != nil {
		answer(resp)
	}
	d.kickMu.Lock()
	kicks := d.deferred
	d.deferred, d.inCtl = nil, false
	d.kickMu.Unlock()
	for _, u := range kicks {
		b.Kick(u)
	}
	return resp
}
