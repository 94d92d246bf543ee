package broker

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"

	"mqtls/conf"
	"mqtls/dynsec"
)

// BenchmarkDeliveryACL measures the hook's answer for one delivery, which
// mochi asks for every message and every subscriber, with an acl_file and
// with a dynsec store.
func BenchmarkDeliveryACL(b *testing.B) {
	dir := b.TempDir()
	acl := filepath.Join(dir, "acl")
	os.WriteFile(acl, []byte("pattern readwrite devices/%u/#\nuser dev1\ntopic read fleet/#\n"), 0o600)
	ds := filepath.Join(dir, "dynsec.json")
	if err := dynsec.Init(ds, "admin", []byte("pw")); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, sec string }{
		{"acl_file", "acl_file " + acl},
		{"dynsec", "plugin /usr/lib/mosquitto_dynamic_security.so\nplugin_opt_config_file " + ds},
	} {
		b.Run(c.name, func(b *testing.B) {
			cfg, err := conf.Parse("b.conf", fmt.Appendf(nil, "listener 1 127.0.0.1\n%s\n", c.sec))
			if err != nil {
				b.Fatal(err)
			}
			br, err := New(cfg, nil, Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer br.Close()
			h := &authHook{b: br}
			h.Init(nil)
			cl := &mqtt.Client{ID: "dev1", Net: mqtt.ClientConnection{Listener: "127.0.0.1:1"},
				Properties: mqtt.ClientProperties{Username: []byte("dev1"), ProtocolVersion: 5}}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				h.OnACLCheck(cl, "devices/dev1/temp", false)
			}
		})
	}
}
