// Package mqttraw writes and reads single MQTT 3.1.1 and 5 packets on a
// connection, for tests that must say exactly what goes on the wire:
// malformed packets, wrong acks, properties a client library would not send.
// Encoding and decoding are mochi's packets package; this package only
// frames packets and formats them for comparison. DecodeBody is also the
// broker's: it judges a packet mochi's reader refused with the same
// decoders.
package mqttraw

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// ErrTimeout is returned by Recv when no packet arrived in time.
var ErrTimeout = errors.New("mqttraw: no packet before the deadline")

// MaxPacket bounds what Recv accepts from a peer.
const MaxPacket = 1 << 20

// Conn is one MQTT connection. V is the protocol version the packets are
// encoded and decoded with (3, 4 or 5).
type Conn struct {
	V  byte
	c  net.Conn
	br *bufio.Reader
}

// Dial connects to addr over TCP.
func Dial(addr string, v byte) (*Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return New(c, v), nil
}

// New wraps an established connection.
func New(c net.Conn, v byte) *Conn { return &Conn{V: v, c: c, br: bufio.NewReader(c)} }

// Close closes the connection without a DISCONNECT.
func (c *Conn) Close() error { return c.c.Close() }

// Send encodes pk with the connection's protocol version and writes it.
func (c *Conn) Send(pk packets.Packet) error {
	b, err := Encode(pk, c.V)
	if err != nil {
		return err
	}
	return c.SendRaw(b)
}

// SendRaw writes bytes as they are.
func (c *Conn) SendRaw(b []byte) error {
	_ = c.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.c.Write(b)
	return err
}

// Recv reads one packet, waiting at most d. It returns ErrTimeout when none
// came, and io.EOF (or a reset error) when the peer closed the connection.
func (c *Conn) Recv(d time.Duration) (packets.Packet, error) {
	_ = c.c.SetReadDeadline(time.Now().Add(d))
	pk, err := Read(c.br, c.V)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return pk, ErrTimeout
	}
	return pk, err
}

// Closed reports whether err means that the peer closed the connection.
func Closed(err error) bool {
	return err != nil && !errors.Is(err, ErrTimeout) && !errors.As(err, new(*DecodeError))
}

// DecodeError is a packet that arrived but could not be decoded.
type DecodeError struct {
	Type byte
	Err  error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("mqttraw: decode %s: %v", typeName(e.Type), e.Err)
}

// Read reads and decodes one packet of protocol version v.
func Read(r io.ByteReader, v byte) (packets.Packet, error) {
	var pk packets.Packet
	hb, err := r.ReadByte()
	if err != nil {
		return pk, err
	}
	n, _, err := packets.DecodeLength(r)
	if err != nil {
		return pk, err
	}
	if n > MaxPacket {
		return pk, fmt.Errorf("mqttraw: packet of %d bytes is over %d", n, MaxPacket)
	}
	body := make([]byte, n)
	for i := range body {
		if body[i], err = r.ReadByte(); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return pk, err
		}
	}
	if err := pk.FixedHeader.Decode(hb); err != nil {
		return pk, &DecodeError{Type: hb >> 4, Err: err}
	}
	pk.FixedHeader.Remaining = n
	pk.ProtocolVersion = v
	if err := decode(&pk, body); err != nil {
		return pk, &DecodeError{Type: pk.FixedHeader.Type, Err: err}
	}
	return pk, nil
}

func decode(pk *packets.Packet, b []byte) error {
	if pk.FixedHeader.Type == packets.Disconnect && pk.ProtocolVersion == 5 && len(b) == 1 {
		// A reason code without properties, which mochi's decoder
		// reads only when a property length follows.
		pk.ReasonCode = b[0]
		return nil
	}
	if err := DecodeBody(pk, b); err != nil {
		if errors.Is(err, errUnknownType) {
			return fmt.Errorf("unknown packet type %d", pk.FixedHeader.Type)
		}
		return err
	}
	return nil
}

var errUnknownType = errors.New("unknown packet type")

// DecodeBody decodes the body b of pk, whose fixed header is set, the way
// mochi's ReadPacket does: by packet type, with mochi's decoders. The
// broker uses it to judge a packet mochi refused; an unknown type is an
// error that wraps packets.ErrMalformedPacket.
func DecodeBody(pk *packets.Packet, b []byte) error {
	switch pk.FixedHeader.Type {
	case packets.Connect:
		return pk.ConnectDecode(b)
	case packets.Connack:
		return pk.ConnackDecode(b)
	case packets.Publish:
		return pk.PublishDecode(b)
	case packets.Puback:
		return pk.PubackDecode(b)
	case packets.Pubrec:
		return pk.PubrecDecode(b)
	case packets.Pubrel:
		return pk.PubrelDecode(b)
	case packets.Pubcomp:
		return pk.PubcompDecode(b)
	case packets.Subscribe:
		return pk.SubscribeDecode(b)
	case packets.Suback:
		return pk.SubackDecode(b)
	case packets.Unsubscribe:
		return pk.UnsubscribeDecode(b)
	case packets.Unsuback:
		return pk.UnsubackDecode(b)
	case packets.Pingreq, packets.Pingresp:
		return nil
	case packets.Disconnect:
		return pk.DisconnectDecode(b)
	case packets.Auth:
		return pk.AuthDecode(b)
	}
	return fmt.Errorf("%w: %w", errUnknownType, packets.ErrMalformedPacket)
}

// Encode encodes pk as protocol version v. The fixed header flags of PUBREL,
// SUBSCRIBE and UNSUBSCRIBE are set as the spec requires; send raw bytes to
// break them.
func Encode(pk packets.Packet, v byte) ([]byte, error) {
	pk.ProtocolVersion = v
	// mochi leaves out response topic and correlation data unless told that
	// the peer asked for them; a client sends what it is given.
	pk.Mods.AllowResponseInfo = true
	if pk.FixedHeader.Type == packets.Connect && pk.Connect.ProtocolName == nil {
		pk.Connect.ProtocolName = []byte("MQTT")
		if v == 3 {
			pk.Connect.ProtocolName = []byte("MQIsdp")
		}
	}
	switch pk.FixedHeader.Type {
	case packets.Pubrel, packets.Subscribe, packets.Unsubscribe:
		pk.FixedHeader.Qos = 1
	}
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectEncode(&buf)
	case packets.Connack:
		err = pk.ConnackEncode(&buf)
	case packets.Publish:
		err = pk.PublishEncode(&buf)
	case packets.Puback:
		err = pk.PubackEncode(&buf)
	case packets.Pubrec:
		err = pk.PubrecEncode(&buf)
	case packets.Pubrel:
		err = pk.PubrelEncode(&buf)
	case packets.Pubcomp:
		err = pk.PubcompEncode(&buf)
	case packets.Subscribe:
		err = pk.SubscribeEncode(&buf)
	case packets.Suback:
		err = pk.SubackEncode(&buf)
	case packets.Unsubscribe:
		err = pk.UnsubscribeEncode(&buf)
	case packets.Unsuback:
		err = pk.UnsubackEncode(&buf)
	case packets.Pingreq:
		err = pk.PingreqEncode(&buf)
	case packets.Pingresp:
		err = pk.PingrespEncode(&buf)
	case packets.Disconnect:
		err = pk.DisconnectEncode(&buf)
	case packets.Auth:
		err = pk.AuthEncode(&buf)
	default:
		err = fmt.Errorf("mqttraw: cannot encode packet type %d", pk.FixedHeader.Type)
	}
	return buf.Bytes(), err
}
