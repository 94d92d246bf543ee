package export

import (
	"bytes"
	"encoding/json"
	"fmt"

	"mqtls/dynsec"
)

// EMQXUsersPath is the REST path, under EMQX's /api/v5, that takes the
// body of authz-users.json (POST; EMQX 5.0.15 and later, earlier 5.0
// releases had it without "rules/").
const EMQXUsersPath = "/authorization/sources/built_in_database/rules/users"

// emqxMaxRules is EMQX's default max_rules of the built-in database
// source: the most rules it takes for one user.
const emqxMaxRules = 100

// The body of POST EMQXUsersPath: one entry a user, its rules in order.
type emqxDBUser struct {
	Username string       `json:"username"`
	Rules    []emqxDBRule `json:"rules"`
}

type emqxDBRule struct {
	Permission string `json:"permission"`
	Action     string `json:"action"`
	Topic      string `json:"topic"`
}

// EMQXDB exports s for the built-in database authorization of EMQX 5
// (source type built_in_database): authz-users.json, the body of a POST
// to [EMQXUsersPath], and an emqx.conf part with the mTLS listener of
// [EMQX] and the built-in database as the only authorization source with
// no_match = deny.
//
// EMQX tries a user's rules in the order given and the first match
// decides, as in acl.conf, so each client gets the same rules as there
// ([emqxRules]); an exact topic is written "eq TOPIC". The database has no
// rule that comes before a user's (its rules for all clients come after),
// so instead of acl.conf's first line every rule on a $CONTROL topic is
// left out: nothing then grants $CONTROL, as MQTT's wildcards skip $ topics.
func EMQXDB(s *dynsec.Store, l Listener) Result {
	var notes []string
	d := s.Defaults()
	users := []emqxDBUser{}
	cs := clients(s, &notes)
	for _, c := range cs {
		noteUnexported(c, "EMQX", &notes)
		u := emqxDBUser{Username: c.username, Rules: []emqxDBRule{}}
		for _, r := range emqxRules(c, d, &notes) {
			if dynsec.IsControlTopic(r.topic) {
				continue // see defaultNotes
			}
			t := r.topic
			if r.exact {
				t = "eq " + t
			}
			u.Rules = append(u.Rules, emqxDBRule{r.permission(), r.action, t})
		}
		if len(u.Rules) > emqxMaxRules {
			notes = append(notes, fmt.Sprintf("client %s has %d rules: EMQX takes %d for one user unless the built_in_database source's max_rules is raised", c.username, len(u.Rules), emqxMaxRules))
		}
		users = append(users, u)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(users); err != nil {
		panic(err) // strings and slices only: cannot fail
	}
	noteDollar(cs, "EMQX", &notes)
	defaultNotes(d, "EMQX", &notes)
	notes = append(notes,
		"import authz-users.json with POST /api/v5"+EMQXUsersPath+" (EMQX 5.0.15 or later); it refuses users that already have rules (409): replace one with PUT /api/v5"+EMQXUsersPath+"/USERNAME",
		emqxCRLNote(l, "the built-in database"))
	return Result{
		Files: []File{{"authz-users.json", b.Bytes()}, {"emqx.conf", emqxConf(l, "{type = built_in_database, enable = true}")}},
		Notes: notes,
	}
}
