package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestReorderArgs(t *testing.T) {
	app := &cli.App{Commands: []*cli.Command{{
		Name:  "cert",
		Flags: []cli.Flag{&cli.StringFlag{Name: "host", Aliases: []string{"h"}}},
		Subcommands: []*cli.Command{{
			Name: "client",
			Flags: []cli.Flag{
				&cli.IntFlag{Name: "days"},
				&cli.BoolFlag{Name: "json"},
				&cli.StringFlag{Name: "pki"},
			},
		}},
	}}}
	cases := []struct{ in, want []string }{
		{[]string{"m", "cert", "client", "DSN1", "--days", "30"}, []string{"m", "cert", "client", "--days", "30", "--", "DSN1"}},
		{[]string{"m", "cert", "client", "--days", "30", "DSN1"}, []string{"m", "cert", "client", "--days", "30", "--", "DSN1"}},
		{[]string{"m", "cert", "client", "DSN1", "--json", "--pki=x"}, []string{"m", "cert", "client", "--json", "--pki=x", "--", "DSN1"}},
		{[]string{"m", "cert", "client", "--", "-x"}, []string{"m", "cert", "client", "--", "-x"}},
		{[]string{"m", "cert"}, []string{"m", "cert"}},
		// A flag of the parent keeps its value, for the misuse error.
		{[]string{"m", "cert", "client", "DSN1", "-h", "x"}, []string{"m", "cert", "client", "-h", "x", "--", "DSN1"}},
		{[]string{"m", "cert", "client", "DSN1", "-h"}, []string{"m", "cert", "client", "-h", "--", "DSN1"}},
		// The command's own flag without its value: the parser says so.
		{[]string{"m", "cert", "client", "DSN1", "--days"}, []string{"m", "cert", "client", "--days"}},
	}
	for _, c := range cases {
		if got := reorderArgs(app, c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("reorderArgs(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestMissingArgumentNamesTheSubcommand(t *testing.T) {
	var stdout, stderr strings.Builder
	if code := run([]string{"mqtls", "cert", "renew"}, &stdout, &stderr); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if want := "see mqtls cert renew --help"; !strings.Contains(stderr.String(), want) {
		t.Fatalf("stderr %q lacks %q", stderr.String(), want)
	}
}
