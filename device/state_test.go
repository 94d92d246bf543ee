package device_test

import (
	"testing"

	"mqtls/device"
)

func TestDeviceState(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d     device.Device
		know  bool
		state string
	}{
		{device.Device{HasClient: true}, true, "ok"},
		{device.Device{Revoked: true, Expired: true}, true, "revoked"},
		{device.Device{Expired: true}, true, "expired"},
		{device.Device{}, true, "no client (run device add again)"},
		{device.Device{}, false, "ok"},
		{device.Device{HasClient: true, Disabled: true}, true, "disabled"},
	} {
		if got := tc.d.State(tc.know); got != tc.state {
			t.Errorf("%+v (clients known %v): State = %q, want %q", tc.d, tc.know, got, tc.state)
		}
	}
}
