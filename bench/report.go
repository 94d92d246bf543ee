package bench

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteTable prints r as a two-column table.
func (r *FlowResult) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, a...)...) }
	row("mode", "%s  %s", r.Mode, r.URL)
	row("clients", "%d publishers, %d subscribers", r.Publishers, r.Subscribers)
	row("messages", "qos %d, %d bytes", r.QoS, r.Payload)
	row("duration", "%.1fs (warm-up %.1fs)", r.Duration, r.Warmup)
	if r.OfferedRate > 0 {
		row("offered", "%.0f msg/s", r.OfferedRate)
	} else {
		row("offered", "as fast as possible")
	}
	row("sent", "%.0f msg/s  (%d in all)", r.SentRate, r.Sent)
	row("received", "%.0f msg/s  (%d in all)", r.ReceivedRate, r.Received)
	row("lost", "%d of %d (%.2f%%)", r.Lost, r.Expected, pct(r.Lost, r.Expected))
	row("latency", "p50 %s  p90 %s  p99 %s  max %s", ms(r.Latency.P50), ms(r.Latency.P90), ms(r.Latency.P99), ms(r.Latency.Max))
	if b := r.Broker; b != nil {
		row("broker cpu", "%.2f cores, %.0f msg received per broker core-second", b.CPU, b.PerCoreSecond)
		row("broker rss", "%s", mib(b.RSSAfter))
	}
	return tw.Flush()
}

// WriteTable prints r as a two-column table.
func (r *ConnectResult) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, a...)...) }
	kind := "tcp"
	if r.TLS {
		kind = "tls"
		if r.ClientCerts > 0 {
			kind = fmt.Sprintf("mutual tls, %d client certificates", r.ClientCerts)
		}
	}
	row("mode", "%s  %s (%s)", r.Mode, r.URL, kind)
	row("connections", "%d, %d at a time", r.Connections, r.Concurrency)
	row("connected", "%d in %.2fs, %d failed", r.Connected, r.Seconds, r.Failed)
	row("rate", "%.0f connects/s", r.PerSecond)
	row("latency", "p50 %s  p90 %s  p99 %s  max %s", ms(r.Latency.P50), ms(r.Latency.P90), ms(r.Latency.P99), ms(r.Latency.Max))
	if b := r.Broker; b != nil {
		row("broker cpu", "%.2f cores, %.0f connects per broker core-second", b.CPU, b.PerCoreSecond)
		row("broker rss", "%s before, %s with the connections held, %.1f KiB per connection", mib(b.RSSBefore), mib(b.RSSAfter), r.RSSPerConn/1024)
	}
	if r.FirstError != "" {
		row("first error", "%s", r.FirstError)
	}
	return tw.Flush()
}

func ms(v float64) string {
	if v < 10 {
		return fmt.Sprintf("%.2fms", v)
	}
	return fmt.Sprintf("%.1fms", v)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func pct(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// WriteTable prints r as a two-column table.
func (r *FleetResult) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, a...)...) }
	row("mode", "%s  %s", r.Mode, r.URL)
	row("clients", "%d devices, one message each every %.3gs for %.0fs; %d subscribers count them", r.Clients, r.Interval, r.Duration, r.Subscribers)
	row("messages", "qos %d, %d bytes", r.QoS, r.Payload)
	row("ramp", "%.1fs to connect, %d connects failed", r.RampSeconds, r.ConnectFailed)
	row("sent", "%d, accepted by the broker %d, not acknowledged %d, slots skipped %d", r.Sent, r.Accepted, r.Unacked, r.Skipped)
	row("received", "%d, duplicates %d", r.Received, r.Duplicates)
	row("lost", "%d of %d accepted (%.3f%%), by %d devices", r.Lost, r.Accepted, pct(r.Lost, r.Accepted), r.LosingClients)
	row("disconnects", "%d, reconnects %d", r.Disconnects, r.Reconnects)
	row("latency", "p50 %s  p90 %s  p99 %s  max %s", ms(r.Latency.P50), ms(r.Latency.P90), ms(r.Latency.P99), ms(r.Latency.Max))
	if b := r.Broker; b != nil {
		row("broker cpu", "%.1f core-s to connect; %.1f core-s publishing (%.2f cores, %.1f µs per message)", b.RampCPUSeconds, b.CPUSeconds, b.CPU, b.PerMessageUs)
		row("broker rss", "%s before, %s connected (%.1f KiB per client), peak %s, after %s", mib(b.RSSBefore), mib(b.RSSConnected), b.RSSPerClient/1024, mib(b.RSSPeak), mib(b.RSSAfter))
	}
	if r.Foreign > 0 {
		row("foreign", "%d messages no device of this run sent", r.Foreign)
	}
	if r.FirstError != "" {
		row("first error", "%s", r.FirstError)
	}
	return tw.Flush()
}
