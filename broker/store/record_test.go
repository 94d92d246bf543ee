package store

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/mochi-mqtt/server/v2/hooks/storage"
	"github.com/mochi-mqtt/server/v2/packets"
)

func fullRecord() outRecord {
	return outRecord{Order: 1<<40 + 3, Unsent: true, Expiry: -1, Msg: storage.Message{
		Client: "sub-1", Origin: "pub-1", PacketID: 65535, TopicName: "a/b/c", Payload: []byte{0, 1, 2, 0xff},
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 2, Dup: true, Retain: true, Remaining: 300},
		Created:     1_760_000_000, Sent: 1_760_000_001,
		Properties: storage.MessageProperties{
			CorrelationData: []byte("corr"), SubscriptionIdentifier: []int{1, 268_435_455},
			User:        []packets.UserProperty{{Key: "k", Val: "v"}, {Key: "", Val: "empty key"}},
			ContentType: "text/plain", ResponseTopic: "r/t", MessageExpiryInterval: 1 << 31, TopicAlias: 7,
			PayloadFormat: 1, PayloadFormatFlag: true,
		},
	}}
}

// TestRecordRoundTrip: every field of an in-flight record survives the
// binary form, and a record earlier versions wrote as JSON still reads.
func TestRecordRoundTrip(t *testing.T) {
	for name, r := range map[string]outRecord{
		"full":   fullRecord(),
		"pubrel": {Order: 9, Msg: storage.Message{Client: "c", PacketID: 4, FixedHeader: packets.FixedHeader{Type: packets.Pubrel, Qos: 1}}},
		"zero":   {},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := parseRecord(appendRecord(nil, &r))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, r) {
				t.Errorf("binary round trip:\n got %+v\nwant %+v", got, r)
			}
			j, _ := json.Marshal(r)
			got, err = parseRecord(j)
			if err != nil || !reflect.DeepEqual(got, r) {
				t.Errorf("JSON record (earlier versions): got %+v, %v", got, err)
			}
		})
	}
}

// TestRecordTruncated: a record cut anywhere, or with a length that lies,
// is an error, never a panic or a wrong message.
func TestRecordTruncated(t *testing.T) {
	r := fullRecord()
	b := appendRecord(nil, &r)
	for n := 0; n < len(b); n++ {
		if _, err := parseRecord(b[:n]); err == nil {
			t.Errorf("record cut at %d of %d bytes: no error", n, len(b))
		}
	}
	lie := append([]byte{recordV1, 1, 0, 0}, 0xff, 0xff, 0xff, 0xff, 0x0f) // client id of 4 GiB
	if _, err := parseRecord(lie); err == nil {
		t.Error("a lying length: no error")
	}
}

func BenchmarkRecord(b *testing.B) {
	r := fullRecord()
	r.Msg.Payload = make([]byte, 64)
	b.Run("binary", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			_ = appendRecord(nil, &r)
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			_, _ = json.Marshal(r)
		}
	})
}
