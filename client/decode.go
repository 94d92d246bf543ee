package client

import (
	"bytes"
	"errors"
	"io"

	p5 "github.com/eclipse/paho.golang/packets"
	p3 "github.com/eclipse/paho.mqtt.golang/packets"
)

// MQTT control packet types (the same numbers in every protocol version).
const (
	tCONNECT     = 1
	tCONNACK     = 2
	tPUBLISH     = 3
	tPUBACK      = 4
	tPUBREC      = 5
	tPUBREL      = 6
	tPUBCOMP     = 7
	tSUBSCRIBE   = 8
	tSUBACK      = 9
	tUNSUBSCRIBE = 10
	tUNSUBACK    = 11
	tPINGREQ     = 12
	tPINGRESP    = 13
	tDISCONNECT  = 14
	tAUTH        = 15
)

// pkt is what the debug lines need of a packet, whatever the protocol version.
type pkt struct {
	kind   byte
	id     string // CONNECT client id; CONNACK assigned client id (MQTT 5)
	code   byte   // CONNACK, PUBACK, PUBREC, PUBCOMP, DISCONNECT reason
	dup    bool
	qos    byte
	retain bool
	mid    uint16
	topic  string
	plen   int
	subs   []Subscription
	unsubs []string
	codes  []byte // SUBACK
}

// errShort means the buffer holds only part of a packet.
var errShort = errors.New("incomplete packet")

// decode reads the first packet in b with the packet decoder of the library
// that speaks version v, and returns it with the number of bytes it used.
func decode(v byte, b []byte) (pkt, int, error) {
	r := bytes.NewReader(b)
	var p pkt
	var err error
	if v == V5 {
		p, err = decode5(r)
	} else {
		p, err = decode3(r)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return p, 0, errShort
	}
	return p, len(b) - r.Len(), err
}

func decode5(r io.Reader) (pkt, error) {
	cp, err := p5.ReadPacket(r)
	if err != nil {
		return pkt{}, err
	}
	p := pkt{kind: cp.Type}
	switch c := cp.Content.(type) {
	case *p5.Connect:
		p.id = c.ClientID
	case *p5.Connack:
		p.code = c.ReasonCode
		if c.Properties != nil {
			p.id = c.Properties.AssignedClientID
		}
	case *p5.Publish:
		p.dup, p.qos, p.retain, p.mid, p.topic, p.plen = c.Duplicate, c.QoS, c.Retain, c.PacketID, c.Topic, len(c.Payload)
	case *p5.Puback:
		p.mid, p.code = c.PacketID, c.ReasonCode
	case *p5.Pubrec:
		p.mid, p.code = c.PacketID, c.ReasonCode
	case *p5.Pubrel:
		p.mid, p.code = c.PacketID, c.ReasonCode
	case *p5.Pubcomp:
		p.mid, p.code = c.PacketID, c.ReasonCode
	case *p5.Subscribe:
		p.mid = c.PacketID
		for _, s := range c.Subscriptions {
			p.subs = append(p.subs, Subscription{Filter: s.Topic, QoS: s.QoS, NoLocal: s.NoLocal,
				RetainAsPublished: s.RetainAsPublished, RetainHandling: s.RetainHandling})
		}
	case *p5.Unsubscribe:
		p.mid, p.unsubs = c.PacketID, c.Topics
	case *p5.Suback:
		p.mid, p.codes = c.PacketID, c.Reasons
	case *p5.Disconnect:
		p.code = c.ReasonCode
	}
	return p, nil
}

func decode3(r io.Reader) (pkt, error) {
	cp, err := p3.ReadPacket(r)
	if err != nil {
		return pkt{}, err
	}
	var p pkt
	switch c := cp.(type) {
	case *p3.ConnectPacket:
		p.kind, p.id = tCONNECT, c.ClientIdentifier
	case *p3.ConnackPacket:
		p.kind, p.code = tCONNACK, c.ReturnCode
	case *p3.PublishPacket:
		p.kind = tPUBLISH
		p.dup, p.qos, p.retain, p.mid, p.topic, p.plen = c.Dup, c.Qos, c.Retain, c.MessageID, c.TopicName, len(c.Payload)
	case *p3.PubackPacket:
		p.kind, p.mid = tPUBACK, c.MessageID
	case *p3.PubrecPacket:
		p.kind, p.mid = tPUBREC, c.MessageID
	case *p3.PubrelPacket:
		p.kind, p.mid = tPUBREL, c.MessageID
	case *p3.PubcompPacket:
		p.kind, p.mid = tPUBCOMP, c.MessageID
	case *p3.SubscribePacket:
		p.kind, p.mid = tSUBSCRIBE, c.MessageID
		for i, t := range c.Topics {
			p.subs = append(p.subs, Subscription{Filter: t, QoS: c.Qoss[i]})
		}
	case *p3.SubackPacket:
		p.kind, p.mid, p.codes = tSUBACK, c.MessageID, c.ReturnCodes
	case *p3.UnsubscribePacket:
		p.kind, p.mid, p.unsubs = tUNSUBSCRIBE, c.MessageID, c.Topics
	case *p3.UnsubackPacket:
		p.kind, p.mid = tUNSUBACK, c.MessageID
	case *p3.PingreqPacket:
		p.kind = tPINGREQ
	case *p3.PingrespPacket:
		p.kind = tPINGRESP
	case *p3.DisconnectPacket:
		p.kind = tDISCONNECT
	}
	return p, nil
}
