package mqttraw

import (
	"fmt"
	"strings"

	"github.com/mochi-mqtt/server/v2/packets"
)

var typeNames = map[byte]string{
	packets.Connect: "CONNECT", packets.Connack: "CONNACK", packets.Publish: "PUBLISH",
	packets.Puback: "PUBACK", packets.Pubrec: "PUBREC", packets.Pubrel: "PUBREL",
	packets.Pubcomp: "PUBCOMP", packets.Subscribe: "SUBSCRIBE", packets.Suback: "SUBACK",
	packets.Unsubscribe: "UNSUBSCRIBE", packets.Unsuback: "UNSUBACK", packets.Pingreq: "PINGREQ",
	packets.Pingresp: "PINGRESP", packets.Disconnect: "DISCONNECT", packets.Auth: "AUTH",
}

func typeName(t byte) string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("TYPE%d", t)
}

// Format describes a received packet on one line for comparison between
// brokers. Packet identifiers, reason strings and the value of an assigned
// client identifier are left out: each broker chooses its own.
func Format(pk packets.Packet) string {
	var b strings.Builder
	b.WriteString(typeName(pk.FixedHeader.Type))
	switch pk.FixedHeader.Type {
	case packets.Connack:
		fmt.Fprintf(&b, " sp=%d rc=0x%02x", boolInt(pk.SessionPresent), pk.ReasonCode)
	case packets.Publish:
		fmt.Fprintf(&b, " q%d r%d d%d %q %q", pk.FixedHeader.Qos, boolInt(pk.FixedHeader.Retain), boolInt(pk.FixedHeader.Dup), pk.TopicName, pk.Payload)
	case packets.Puback, packets.Pubrec, packets.Pubrel, packets.Pubcomp, packets.Disconnect, packets.Auth:
		if pk.ProtocolVersion == 5 {
			fmt.Fprintf(&b, " rc=0x%02x", pk.ReasonCode)
		}
	case packets.Suback, packets.Unsuback:
		codes := make([]string, len(pk.ReasonCodes))
		for i, c := range pk.ReasonCodes {
			codes[i] = fmt.Sprintf("0x%02x", c)
		}
		b.WriteString(" [" + strings.Join(codes, " ") + "]")
	}
	if pk.ProtocolVersion == 5 {
		if p := FormatProperties(pk.Properties); p != "" {
			b.WriteString(" {" + p + "}")
		}
	}
	return b.String()
}

// FormatProperties lists the properties that are set, in a fixed order.
func FormatProperties(p packets.Properties) string {
	var f []string
	add := func(name string, v any) { f = append(f, fmt.Sprintf("%s=%v", name, v)) }
	if p.PayloadFormatFlag {
		add("payload-format", p.PayloadFormat)
	}
	if p.MessageExpiryInterval > 0 {
		add("message-expiry", p.MessageExpiryInterval)
	}
	if p.ContentType != "" {
		add("content-type", fmt.Sprintf("%q", p.ContentType))
	}
	if p.ResponseTopic != "" {
		add("response-topic", fmt.Sprintf("%q", p.ResponseTopic))
	}
	if len(p.CorrelationData) > 0 {
		add("correlation-data", fmt.Sprintf("%q", p.CorrelationData))
	}
	if len(p.SubscriptionIdentifier) > 0 {
		add("subscription-id", p.SubscriptionIdentifier)
	}
	if p.SessionExpiryIntervalFlag {
		add("session-expiry", p.SessionExpiryInterval)
	}
	if p.AssignedClientID != "" {
		add("assigned-client-id", "*")
	}
	if p.ServerKeepAliveFlag {
		add("server-keepalive", p.ServerKeepAlive)
	}
	if p.AuthenticationMethod != "" {
		add("auth-method", fmt.Sprintf("%q", p.AuthenticationMethod))
	}
	if len(p.AuthenticationData) > 0 {
		add("auth-data", fmt.Sprintf("%q", p.AuthenticationData))
	}
	if p.ResponseInfo != "" {
		add("response-info", fmt.Sprintf("%q", p.ResponseInfo))
	}
	if p.ServerReference != "" {
		add("server-reference", fmt.Sprintf("%q", p.ServerReference))
	}
	if p.ReceiveMaximum > 0 {
		add("receive-max", p.ReceiveMaximum)
	}
	if p.TopicAliasMaximum > 0 {
		add("topic-alias-max", p.TopicAliasMaximum)
	}
	if p.TopicAliasFlag {
		add("topic-alias", p.TopicAlias)
	}
	if p.MaximumQosFlag {
		add("max-qos", p.MaximumQos)
	}
	if p.RetainAvailableFlag {
		add("retain-available", p.RetainAvailable)
	}
	for _, u := range p.User {
		add("user", fmt.Sprintf("%q:%q", u.Key, u.Val))
	}
	if p.MaximumPacketSize > 0 {
		add("max-packet-size", p.MaximumPacketSize)
	}
	if p.WildcardSubAvailableFlag {
		add("wildcard-sub", p.WildcardSubAvailable)
	}
	if p.SubIDAvailableFlag {
		add("sub-id", p.SubIDAvailable)
	}
	if p.SharedSubAvailableFlag {
		add("shared-sub", p.SharedSubAvailable)
	}
	return strings.Join(f, " ")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
