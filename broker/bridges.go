package broker

import (
	"fmt"
	"net"

	"mqtls/bridge"
	"mqtls/conf"
	"mqtls/inspector"
)

// The bridges' local clients connect through an in-memory connection to a
// listener of their own, "bridge:NAME", which no socket serves. It has no
// access control: a bridge's topics are the operator's (as in Mosquitto),
// and with dynamic security its clients cannot reach $CONTROL.

// bridgeListenerID names the local listener of a bridge.
func bridgeListenerID(name string) string { return "bridge:" + name }

// addBridges builds the bridges of the config; they start with the broker.
func (b *Broker) addBridges() error {
	for _, c := range b.cfg.Bridges {
		id := bridgeListenerID(c.Name)
		b.lis[id] = &listenerState{
			conf:      &conf.Listener{File: c.File, Line: c.Line, Protocol: "mqtt", MaxConnections: -1},
			id:        id,
			anon:      true,
			noControl: b.dynsec != nil,
		}
		br, err := bridge.New(c, bridgeLocal{b}, b.log)
		if err != nil {
			return err
		}
		b.bridges = append(b.bridges, br)
	}
	return nil
}

// bridgeLocal is the broker as the bridges see it.
type bridgeLocal struct{ b *Broker }

func (l bridgeLocal) Dial(name string) (net.Conn, error) {
	select {
	case <-l.b.done:
		return nil, fmt.Errorf("the broker is stopping")
	default:
	}
	client, server := net.Pipe()
	go func() {
		fc := newFrameConn(&lazyDeadline{Conn: server}, l.b.server.Options.Capabilities.MaximumPacketSize)
		err := l.b.server.EstablishConnection(bridgeListenerID(name), fc)
		endEstablish(l.b.log, "bridge "+name, fc, err, l.b.unanswered.settle)
		server.Close()
	}()
	return client, nil
}

func (l bridgeLocal) Queued(clientID string) int {
	if cl, ok := l.b.server.Clients.Get(clientID); ok {
		return cl.State.Inflight.Len()
	}
	return 0
}

func (l bridgeLocal) Notify(topic string, payload []byte) {
	if err := l.b.server.Publish(topic, payload, true, 1); err != nil {
		l.b.log.Warn(fmt.Sprintf("bridge notification on %s: %v", topic, err))
	}
}

// BridgeStats is a bridge's state, counters and queue.
type BridgeStats struct {
	bridge.Stats
	// Queued is the number of messages the broker holds for the bridge's
	// local session: sent to it and not yet acknowledged by the remote
	// broker, or waiting while the remote broker is unreachable.
	Queued int `json:"queued"`
}

// Bridges returns the state of each bridge, in config order.
func (b *Broker) Bridges() []BridgeStats {
	out := make([]BridgeStats, 0, len(b.bridges))
	for _, br := range b.bridges {
		s := BridgeStats{Stats: br.Stats()}
		if cl, ok := b.server.Clients.Get(br.LocalClientID()); ok {
			s.Queued = cl.State.Inflight.Len()
		}
		out = append(out, s)
	}
	return out
}

// inspectorBridges is Bridges for the inspector's clients panel and
// metrics.
func (b *Broker) inspectorBridges() []inspector.Bridge {
	var out []inspector.Bridge
	for _, s := range b.Bridges() {
		out = append(out, inspector.Bridge{Name: s.Name, State: string(s.State), Address: s.Address,
			Queued: s.Queued, Sent: s.Sent, Received: s.Received, Dropped: s.Dropped})
	}
	return out
}
