package client

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	"github.com/eclipse/paho.golang/paho/log"
)

// pinger keeps an MQTT 5 connection alive as libmosquitto does: a PINGREQ
// when nothing was sent or nothing was received for a keepalive period, and
// the connection is lost if the previous PINGREQ got no answer by then.
// (paho.golang's default pinger pings at once after CONNACK, which would add
// lines to the `-d` transcript that the Mosquitto tools do not print.)
type pinger struct {
	mu          sync.Mutex
	lastSent    time.Time
	lastRecv    time.Time
	outstanding bool
}

var _ paho.Pinger = (*pinger)(nil)

func newPinger() *pinger { return &pinger{} }

func (p *pinger) Run(ctx context.Context, conn net.Conn, keepAlive uint16) error {
	if keepAlive == 0 {
		return nil
	}
	interval := time.Duration(keepAlive) * time.Second
	p.mu.Lock()
	now := time.Now()
	p.lastSent, p.lastRecv = now, now
	p.mu.Unlock()
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			p.mu.Lock()
			due := p.lastSent
			if p.lastRecv.Before(due) {
				due = p.lastRecv
			}
			due = due.Add(interval)
			if now.Before(due) {
				p.mu.Unlock()
				t.Reset(due.Sub(now))
				continue
			}
			if p.outstanding {
				p.mu.Unlock()
				return errors.New("no PINGRESP within the keepalive period")
			}
			p.outstanding = true
			p.lastSent, p.lastRecv = now, now
			p.mu.Unlock()
			if _, err := packets.NewControlPacket(packets.PINGREQ).WriteTo(conn); err != nil {
				return err
			}
			t.Reset(interval)
		}
	}
}

func (p *pinger) PacketSent() {
	p.mu.Lock()
	p.lastSent = time.Now()
	p.mu.Unlock()
}

func (p *pinger) PacketReceived() {
	p.mu.Lock()
	p.lastRecv = time.Now()
	p.mu.Unlock()
}

func (p *pinger) PingResp() {
	p.mu.Lock()
	p.outstanding = false
	p.mu.Unlock()
}

func (p *pinger) SetDebug(log.Logger) {}
