package hookset

import (
	"bytes"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
)

func TestSetAnswersAsTheList(t *testing.T) {
	lists := [][]byte{
		nil,
		{mqtt.SetOptions},
		{mqtt.OnConnect, mqtt.OnPacketRead},
		{mqtt.OnSessionEstablish, mqtt.OnSessionEstablished, mqtt.OnDisconnect, mqtt.OnStopped, mqtt.StoredSysInfo},
	}
	for _, l := range lists {
		s := Of(l...)
		for e := 0; e < 256; e++ {
			if got, want := s.Has(byte(e)), bytes.Contains(l, []byte{byte(e)}); got != want {
				t.Errorf("Of(%v).Has(%d) = %v, want %v", l, e, got, want)
			}
		}
	}
}

func TestMochiEventsFit(t *testing.T) {
	// The last of mochi's events: a mochi with more would need a wider set.
	if mqtt.StoredSysInfo >= 64 {
		t.Fatalf("mochi has %d events, a Set holds 64", mqtt.StoredSysInfo+1)
	}
	defer func() {
		if recover() == nil {
			t.Error("Of(64) did not panic")
		}
	}()
	Of(64)
}
