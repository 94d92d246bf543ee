package broker_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// rawClient speaks MQTT packet by packet, so that a test decides every
// acknowledgement itself and sees every flag and property the broker sends.
type rawClient struct {
	c   net.Conn
	r   *bufio.Reader
	ver byte
	wmu sync.Mutex
}

// connectPacket is a CONNECT of protocol version ver for id.
func connectPacket(ver byte, id string, clean bool, expiry uint32) packets.Packet {
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Connect},
		ProtocolVersion: ver,
		Connect: packets.ConnectParams{
			ProtocolName:     []byte("MQTT"),
			Clean:            clean,
			Keepalive:        60,
			ClientIdentifier: id,
		},
	}
	if ver == 5 && expiry > 0 {
		pk.Properties.SessionExpiryInterval = expiry
		pk.Properties.SessionExpiryIntervalFlag = true
	}
	return pk
}

// dialRaw connects and sends connect; it returns the CONNACK.
func dialRaw(addr string, connect packets.Packet) (*rawClient, packets.Packet, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, packets.Packet{}, err
	}
	rc := &rawClient{c: c, r: bufio.NewReader(c), ver: connect.ProtocolVersion}
	if err := rc.send(connect); err != nil {
		c.Close()
		return nil, packets.Packet{}, err
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	ack, err := rc.read()
	_ = c.SetReadDeadline(time.Time{})
	if err != nil {
		c.Close()
		return nil, packets.Packet{}, err
	}
	if ack.FixedHeader.Type != packets.Connack {
		c.Close()
		return nil, ack, fmt.Errorf("got packet type %d, want CONNACK", ack.FixedHeader.Type)
	}
	if ack.ReasonCode != 0 {
		c.Close()
		return nil, ack, fmt.Errorf("connack reason %#x", ack.ReasonCode)
	}
	return rc, ack, nil
}

func (rc *rawClient) Close() error { return rc.c.Close() }

// send encodes pk for the client's protocol version and writes it.
func (rc *rawClient) send(pk packets.Packet) error {
	pk.ProtocolVersion = rc.ver
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectEncode(&buf)
	case packets.Publish:
		err = pk.PublishEncode(&buf)
	case packets.Puback:
		err = pk.PubackEncode(&buf)
	case packets.Pubrec:
		err = pk.PubrecEncode(&buf)
	case packets.Pubrel:
		pk.FixedHeader.Qos = 1
		err = pk.PubrelEncode(&buf)
	case packets.Pubcomp:
		err = pk.PubcompEncode(&buf)
	case packets.Subscribe:
		pk.FixedHeader.Qos = 1
		err = pk.SubscribeEncode(&buf)
	case packets.Unsubscribe:
		pk.FixedHeader.Qos = 1
		err = pk.UnsubscribeEncode(&buf)
	case packets.Disconnect:
		err = pk.DisconnectEncode(&buf)
	case packets.Pingreq:
		err = pk.PingreqEncode(&buf)
	default:
		err = fmt.Errorf("raw client cannot send packet type %d", pk.FixedHeader.Type)
	}
	if err != nil {
		return err
	}
	rc.wmu.Lock()
	defer rc.wmu.Unlock()
	_, err = rc.c.Write(buf.Bytes())
	return err
}

// read reads and decodes one packet.
func (rc *rawClient) read() (packets.Packet, error) {
	var pk packets.Packet
	b, err := rc.r.ReadByte()
	if err != nil {
		return pk, err
	}
	if err := pk.FixedHeader.Decode(b); err != nil {
		return pk, err
	}
	n, mul := 0, 1
	for i := 0; ; i++ {
		d, err := rc.r.ReadByte()
		if err != nil {
			return pk, err
		}
		n += int(d&127) * mul
		mul *= 128
		if d&128 == 0 {
			break
		}
		if i == 3 {
			return pk, errors.New("malformed remaining length")
		}
	}
	pk.FixedHeader.Remaining = n
	body := make([]byte, n)
	if _, err := io.ReadFull(rc.r, body); err != nil {
		return pk, err
	}
	pk.ProtocolVersion = rc.ver
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackDecode(body)
	case packets.Publish:
		err = pk.PublishDecode(body)
	case packets.Puback:
		err = pk.PubackDecode(body)
	case packets.Pubrec:
		err = pk.PubrecDecode(body)
	case packets.Pubrel:
		err = pk.PubrelDecode(body)
	case packets.Pubcomp:
		err = pk.PubcompDecode(body)
	case packets.Suback:
		err = pk.SubackDecode(body)
	case packets.Unsuback:
		err = pk.UnsubackDecode(body)
	case packets.Disconnect:
		err = pk.DisconnectDecode(body)
	case packets.Pingresp:
	default:
		err = fmt.Errorf("unexpected packet type %d", pk.FixedHeader.Type)
	}
	return pk, err
}

// readTimeout reads one packet within d.
func (rc *rawClient) readTimeout(d time.Duration) (packets.Packet, error) {
	_ = rc.c.SetReadDeadline(time.Now().Add(d))
	defer rc.c.SetReadDeadline(time.Time{})
	return rc.read()
}

func ack(typ byte, id uint16, code byte) packets.Packet {
	return packets.Packet{FixedHeader: packets.FixedHeader{Type: typ}, PacketID: id, ReasonCode: code}
}

func publishPacket(topic string, payload []byte, qos byte, id uint16) packets.Packet {
	return packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos},
		TopicName:   topic, Payload: payload, PacketID: id,
	}
}
