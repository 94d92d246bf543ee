package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"

	"github.com/mochi-mqtt/server/v2/packets"
)

// recordV1 starts an outRecord in its binary form. Earlier versions wrote
// the record as JSON, which starts with '{': both are read.
const recordV1 = 1

var errRecord = errors.New("truncated in-flight record")

// appendRecord is the binary form of r: written once per message in flight,
// it costs a fraction of the JSON form (no reflection, no base64 payload).
func appendRecord(b []byte, r *outRecord) []byte {
	m := &r.Msg
	p := &m.Properties
	if b == nil {
		// One allocation: the fixed part and varints fit in 64 bytes
		// with room for up to 4 subscription ids; each user property
		// adds its two lengths.
		n := 64 + len(m.Client) + len(m.Origin) + len(m.TopicName) + len(m.Payload) + len(p.CorrelationData) +
			5*len(p.SubscriptionIdentifier) + len(p.ContentType) + len(p.ResponseTopic)
		for _, u := range p.User {
			n += 10 + len(u.Key) + len(u.Val)
		}
		b = make([]byte, 0, n)
	}
	b = append(b, recordV1)
	b = binary.AppendUvarint(b, r.Order)
	b = append(b, boolByte(r.Unsent))
	b = binary.AppendVarint(b, r.Expiry)
	b = appendString(b, m.Client)
	b = appendString(b, m.Origin)
	b = binary.AppendUvarint(b, uint64(m.PacketID))
	fh := m.FixedHeader
	b = append(b, fh.Type, fh.Qos, boolByte(fh.Dup)|boolByte(fh.Retain)<<1)
	b = binary.AppendUvarint(b, uint64(fh.Remaining))
	b = appendString(b, m.TopicName)
	b = appendBytes(b, m.Payload)
	b = binary.AppendVarint(b, m.Created)
	b = binary.AppendVarint(b, m.Sent)
	b = appendBytes(b, p.CorrelationData)
	b = binary.AppendUvarint(b, uint64(len(p.SubscriptionIdentifier)))
	for _, id := range p.SubscriptionIdentifier {
		b = binary.AppendUvarint(b, uint64(id))
	}
	b = binary.AppendUvarint(b, uint64(len(p.User)))
	for _, u := range p.User {
		b = appendString(b, u.Key)
		b = appendString(b, u.Val)
	}
	b = appendString(b, p.ContentType)
	b = appendString(b, p.ResponseTopic)
	b = binary.AppendUvarint(b, uint64(p.MessageExpiryInterval))
	b = binary.AppendUvarint(b, uint64(p.TopicAlias))
	return append(b, p.PayloadFormat, boolByte(p.PayloadFormatFlag))
}

// parseRecord reads a record in either form.
func parseRecord(b []byte) (outRecord, error) {
	var r outRecord
	if len(b) > 0 && b[0] == '{' {
		err := json.Unmarshal(b, &r)
		return r, err
	}
	if len(b) == 0 || b[0] != recordV1 {
		return r, errors.New("unknown in-flight record version")
	}
	d := decoder{b: b[1:]}
	m := &r.Msg
	r.Order = d.uvarint()
	r.Unsent = d.byte() == 1
	r.Expiry = d.varint()
	m.Client = d.string()
	m.Origin = d.string()
	m.PacketID = uint16(d.uvarint())
	m.FixedHeader.Type, m.FixedHeader.Qos = d.byte(), d.byte()
	bits := d.byte()
	m.FixedHeader.Dup, m.FixedHeader.Retain = bits&1 != 0, bits&2 != 0
	m.FixedHeader.Remaining = int(d.uvarint())
	m.TopicName = d.string()
	m.Payload = d.bytes()
	m.Created = d.varint()
	m.Sent = d.varint()
	p := &m.Properties
	p.CorrelationData = d.bytes()
	if n := d.count(); n > 0 {
		p.SubscriptionIdentifier = make([]int, n)
		for i := range p.SubscriptionIdentifier {
			p.SubscriptionIdentifier[i] = int(d.uvarint())
		}
	}
	if n := d.count(); n > 0 {
		p.User = make([]packets.UserProperty, n)
		for i := range p.User {
			p.User[i] = packets.UserProperty{Key: d.string(), Val: d.string()}
		}
	}
	p.ContentType = d.string()
	p.ResponseTopic = d.string()
	p.MessageExpiryInterval = uint32(d.uvarint())
	p.TopicAlias = uint16(d.uvarint())
	p.PayloadFormat = d.byte()
	p.PayloadFormatFlag = d.byte() == 1
	if d.err != nil {
		return outRecord{}, d.err
	}
	return r, nil
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendBytes(b, v []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(v))), v...)
}

// decoder reads a binary record; after the first error every read
// returns zero and err says why.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() { d.err, d.b = errRecord, nil }

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count is a length that must fit in what is left (a lying length fails).
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *decoder) bytes() []byte {
	n := d.count()
	if n == 0 || d.err != nil {
		return nil
	}
	v := append([]byte(nil), d.b[:n]...)
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.count()
	if d.err != nil {
		return ""
	}
	v := string(d.b[:n])
	d.b = d.b[n:]
	return v
}
