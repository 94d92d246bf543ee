// Package bench generates MQTT load against any broker and measures it.
//
// Three workloads are offered:
//
//   - [PubSub]: P publisher/subscriber pairs, each pair on its own topic;
//   - [Fanout]: one publisher whose topic N subscribers receive;
//   - [Connect]: C connections opened K at a time over TCP, TLS or mutual
//     TLS, then held idle so that the broker's memory per connection can be
//     read.
//
// Every message carries its send time (monotonic nanoseconds since the run
// began) and a sequence number in its first 16 bytes, so that end-to-end
// latency is measured by the subscriber in the same process. When the
// broker's process id is known, its CPU time and resident memory are read
// from /proc so that results can be given per broker core-second, which is
// fair even when the load generator is the bottleneck.
//
// The clients are package client's MQTT 3.1.1 connections (paho.mqtt.golang
// underneath), the ones pub and sub use, so URLs and TLS mean the same
// everywhere; the same generator is used against every broker so that ratios
// compare brokers, not tools.
package bench
