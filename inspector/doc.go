// Package inspector is the broker's live topic viewer: a tap that sees every
// message and every client without subscribing to anything, a web page served
// from assets embedded in the binary, and Prometheus metrics.
//
// # The tap
//
// [Inspector.Hook] is a mochi-mqtt hook. For each topic it keeps a message
// count, rates over the last 10 s and 1 min, the last two payloads (cut at
// [Options.PayloadBytes], with the real size kept so that the cut is always
// shown), the retained flag, QoS, MQTT 5 properties, the last publisher
// (client id, user name and certificate CN) and a short history of numeric
// values, JSON fields included. The number of topics is capped by
// [Options.MaxTopics]: when the cap is reached, the least recently updated of
// a small random sample is evicted, so memory stays within [Options.Bound].
//
// # The page
//
// [Inspector.Handler] serves the page, a JSON API and a Server-Sent Events
// stream that carries batched updates a few times per second, so a busy broker
// cannot flood the browser. Publishing, clearing retained messages and kicking
// clients go through the same [dynsec.Authorizer] as MQTT clients when a user
// is logged in; without [Options.RequireLogin] the page is a local operator
// console. Login attempts are rate-limited per address and in total.
// /metrics and /healthz are served by the same handler.
//
// # Topic lint
//
// The page and the API show what package topic's lint rules say of each
// topic: [topic.LintSample] once per topic, the first time it is read (never
// on the publisher's path), and the rules that compare topics over the held
// set at most every 10 s, so both costs are bounded by [Options.MaxTopics].
package inspector
