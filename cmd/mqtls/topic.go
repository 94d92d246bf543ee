package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"mqtls/internal/fileio"
	"mqtls/topic"
)

func topicCmd() *cli.Command {
	return &cli.Command{
		Name:  "topic",
		Usage: "design topics: lint them, list the rules, turn a topic scheme into ACLs and docs",
		Description: `Examples:
   $ mqtls topic lint home/kitchen/temp '/home/living room/temp'
   $ mqtls topic lint --convention homie -f seen.txt
   $ mqtls topic rules
   $ mqtls topic acl topics.yaml
   $ mqtls topic doc topics.yaml -o TOPICS.md

Exit codes: 0 done, 1 failure (lint: a topic with an error), 2 misuse.`,
		Subcommands: []*cli.Command{topicLintCmd(), topicRulesCmd(), topicACLCmd(), topicDocCmd()},
	}
}

func topicLintCmd() *cli.Command {
	return &cli.Command{
		Name:      "lint",
		Usage:     "check topic names against the design rules and a convention",
		ArgsUsage: "[TOPIC...]",
		Description: `Examples:
   $ mqtls topic lint home/kitchen/temp '/home/living room/temp'
       lint two topics; the second breaks two rules
   $ mosquitto_sub -t '#' -q 2 -F '%t\t%q\t%r' -W 60 > seen.txt; mqtls topic lint -f seen.txt
       lint what a broker carried for a minute, with the QoS and retain flags
   $ mqtls topic lint --convention sparkplug -f seen.txt --json
       require Sparkplug B and print the findings as JSON
   $ mqtls topic lint --scheme topics.yaml -f seen.txt
       also report topics that the team's scheme does not have
   $ mqtls topic lint --from-broker -h localhost -p 1883 -u admin --password-file pw -W 60
       lint what a broker carries for a minute (subscribes to '#', MQTT 5)

One finding per line: TOPIC: rule-id: severity: explanation (suggestion).
'mqtls topic rules' lists every rule with its rationale. A file holds one
topic per line, optionally followed by a tab, the QoS, a tab and the retain
flag (0 or 1); '-' is standard input.

Exit codes: 0 no errors (warnings allowed), 1 some topic has an error,
2 misuse.`,
		Flags: append(append([]cli.Flag{
			&cli.StringSliceFlag{Name: "file", Aliases: []string{"f"}, Usage: "read topics from `FILE` ('-' for standard input)"},
			&cli.StringFlag{Name: "convention", Usage: "require a convention: " + conventionNames()},
			&cli.StringFlag{Name: "scheme", Usage: "report topics outside the topic scheme in `FILE`"},
			&cli.IntFlag{Name: "max-length", Value: topic.DefaultMaxLength, Usage: "warn above this many bytes"},
			&cli.IntFlag{Name: "max-depth", Value: topic.DefaultMaxDepth, Usage: "warn above this many levels"},
			&cli.BoolFlag{Name: "json", Usage: "print the findings as a JSON array"},
		}, fromBrokerFlags()...), connFlags()...),
		Action: func(c *cli.Context) error {
			opt := topic.Options{Convention: c.String("convention"), MaxLength: c.Int("max-length"), MaxDepth: c.Int("max-depth")}
			if opt.Convention != "" && !topic.ValidConvention(opt.Convention) {
				return usageErrorf("unknown convention %q: use %s", opt.Convention, conventionNames())
			}
			if opt.MaxLength < 1 || opt.MaxDepth < 1 {
				return usageErrorf("flags '--max-length' and '--max-depth' need a positive number")
			}
			if path := c.String("scheme"); path != "" {
				s, err := topic.LoadScheme(path)
				if err != nil {
					return err
				}
				opt.Scheme = s
			}
			var samples []topic.Sample
			if c.Bool("from-broker") {
				if c.NArg() > 0 || c.IsSet("file") {
					return usageErrorf("flag '--from-broker' is incompatible with topic arguments and '--file'")
				}
				s, err := liveSamples(c)
				if err != nil {
					return err
				}
				return printFindings(c.App.Writer, c.App.ErrWriter, topic.Lint(s, opt), len(s), c.Bool("json"))
			}
			for _, name := range []string{"topic", "count", "timeout"} {
				if c.IsSet(name) {
					return usageErrorf("flag '--%s' requires the '--from-broker' flag", name)
				}
			}
			for _, t := range c.Args().Slice() {
				samples = append(samples, topic.Sample{Topic: t})
			}
			for _, path := range c.StringSlice("file") {
				s, err := readSampleFile(path)
				if err != nil {
					return err
				}
				samples = append(samples, s...)
			}
			if len(samples) == 0 && !c.IsSet("file") {
				return usageErrorf("no topics: give them as arguments or with -f FILE")
			}
			findings := topic.Lint(samples, opt)
			return printFindings(c.App.Writer, c.App.ErrWriter, findings, len(samples), c.Bool("json"))
		},
	}
}

func readSampleFile(path string) ([]topic.Sample, error) {
	if path == "-" {
		s, err := topic.ReadSamples(os.Stdin)
		if err != nil {
			return nil, fmt.Errorf("standard input: %w", err)
		}
		return s, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read topics: %w", err)
	}
	defer f.Close()
	s, err := topic.ReadSamples(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// printFindings prints the findings and a summary; it returns exit code 1
// (silently) when some finding is an error.
func printFindings(stdout, stderr io.Writer, findings []topic.Finding, topics int, asJSON bool) error {
	count := map[topic.Severity]int{}
	for _, f := range findings {
		count[f.Severity]++
	}
	if asJSON {
		if findings == nil {
			findings = []topic.Finding{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(findings); err != nil {
			return err
		}
	} else {
		for _, f := range findings {
			fmt.Fprintln(stdout, f.String())
		}
	}
	fmt.Fprintf(stderr, "mqtls: %d %s: %d %s, %d %s, %d %s\n", topics, plural(topics, "topic"),
		count[topic.Error], plural(count[topic.Error], "error"),
		count[topic.Warning], plural(count[topic.Warning], "warning"),
		count[topic.Info], plural(count[topic.Info], "info"))
	if count[topic.Error] > 0 {
		return cli.Exit("", 1)
	}
	return nil
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

func conventionNames() string {
	var names []string
	for _, c := range topic.Conventions() {
		names = append(names, c.Name)
	}
	return strings.Join(names, ", ")
}

func topicRulesCmd() *cli.Command {
	return &cli.Command{
		Name:  "rules",
		Usage: "list the lint rules: id, severity, convention and rationale",
		Description: `Examples:
   $ mqtls topic rules
   $ mqtls topic rules --json

Rules marked 'flags' judge the QoS and retain flag of a publish and run only
where those were seen (a recorded list with flags).`,
		Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print the rules as a JSON array"}},
		Action: func(c *cli.Context) error {
			rules := topic.Rules()
			if c.Bool("json") {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				return enc.Encode(rules)
			}
			w := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "RULE\tSEVERITY\tAPPLIES TO\tRATIONALE")
			for _, r := range rules {
				scope := "all topics"
				if r.Convention != "" {
					scope = r.Convention
				}
				if r.NeedsFlags {
					scope += " (flags)"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.ID, r.Severity, scope, r.Rationale)
			}
			return w.Flush()
		},
	}
}

func loadSchemeArg(c *cli.Context) (*topic.Scheme, error) {
	if c.NArg() != 1 {
		return nil, usageErrorf("want one topic scheme file, got %d arguments", c.NArg())
	}
	return topic.LoadScheme(c.Args().First())
}

func topicACLCmd() *cli.Command {
	return &cli.Command{
		Name:      "acl",
		Usage:     "turn a topic scheme into dynsec roles, printed as mqtls dynsec commands",
		ArgsUsage: "SCHEME",
		Description: `Examples:
   $ mqtls topic acl topics.yaml
       print the commands that create the device and service roles
   $ mqtls topic acl topics.yaml -f dynamic-security.json --apply
       create the roles in a dynsec file (broker stopped); existing ones are kept
   $ mqtls topic acl topics.yaml --apply -h broker.local -u admin --password-file admin.pw
       create them in a running broker, through its $CONTROL API
   $ mqtls topic acl topics.yaml -f dynamic-security.json | sh
       the same through the printed commands
   $ mqtls topic acl topics.yaml --json
       print the roles as JSON
   $ mqtls topic acl topics.yaml --acl-file --service-user backend > acl
       the same design as a Mosquitto acl_file (pattern lines with %u, %c)

The device role lets each device publish on its 'pub' patterns and subscribe
to its 'sub' patterns, {client} becoming %u (its user name, the certificate
CN) and {clientid} %c: a device reaches only its own subtree. The service
role is the other side, for all devices. Give the roles to clients with
'mqtls dynsec addClientRole' or 'addGroupRole'.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "the dynamic-security.json `FILE`: named in the printed commands, or edited by --apply"},
			&cli.BoolFlag{Name: "json", Usage: "print the roles as JSON"},
			&cli.BoolFlag{Name: "apply", Usage: "create the roles and ACLs (in the -f file, else in the broker of the connection flags) instead of printing commands"},
			&cli.BoolFlag{Name: "acl-file", Usage: "print a Mosquitto acl_file instead of dynsec commands"},
			&cli.StringSliceFlag{Name: "service-user", Usage: "with --acl-file, give `USER` the service side (repeatable)"},
		}, connFlags()...),
		Action: func(c *cli.Context) error {
			if c.IsSet("service-user") && !c.Bool("acl-file") {
				return usageErrorf("flag '--service-user' requires the '--acl-file' flag")
			}
			if c.Bool("acl-file") && (c.Bool("json") || c.IsSet("file") || c.Bool("apply")) {
				return usageErrorf("flag '--acl-file' is incompatible with '--json', '--file' and '--apply'")
			}
			s, err := loadSchemeArg(c)
			if err != nil {
				return err
			}
			if c.Bool("acl-file") {
				text, err := s.ACLFile(c.StringSlice("service-user"))
				if err != nil {
					return usageErrorf("%v", err)
				}
				_, err = io.WriteString(c.App.Writer, text)
				return err
			}
			roles := s.Roles()
			if c.Bool("apply") {
				return applyRoles(c, c.String("file"), roles)
			}
			if c.Bool("json") {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				return enc.Encode(roles)
			}
			for _, line := range topic.DynsecCommands(roles, c.String("file")) {
				fmt.Fprintln(c.App.Writer, line)
			}
			return nil
		},
	}
}

func topicDocCmd() *cli.Command {
	return &cli.Command{
		Name:      "doc",
		Usage:     "render a topic scheme as Markdown for the team's docs",
		ArgsUsage: "SCHEME",
		Description: `Examples:
   $ mqtls topic doc topics.yaml
   $ mqtls topic doc topics.yaml -o TOPICS.md`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` instead of standard output"},
		},
		Action: func(c *cli.Context) error {
			s, err := loadSchemeArg(c)
			if err != nil {
				return err
			}
			md := s.Markdown()
			if out := c.String("output"); out != "" {
				if err := fileio.WriteFile(out, []byte(md), 0o644); err != nil {
					return fmt.Errorf("write %s: %w", out, err)
				}
				return nil
			}
			_, err = io.WriteString(c.App.Writer, md)
			return err
		},
	}
}
