package inspector

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"mqtls/dynsec"
	"mqtls/topic"
)

// The Access view manages dynamic security through the broker's own
// $CONTROL/dynamic-security/v1 API: the page sends the requests that
// mosquitto_ctrl would publish, with the logged-in user's right to publish
// there, and shows the responses as they are, errors included.

// maxControlBody bounds one request of the Access view.
const maxControlBody = 1 << 20

// handleDynsec runs one $CONTROL request, {"commands": [...]}, and answers
// the broker's response, {"responses": [...]}.
func (i *Inspector) handleDynsec(w http.ResponseWriter, r *http.Request, id identity) {
	if i.opts.Control == nil {
		httpError(w, http.StatusNotFound, "this broker has no dynamic security plugin: add plugin and plugin_opt_config_file to its configuration")
		return
	}
	if !i.may(id, dynsec.ControlTopic, dynsec.PublishSend) {
		httpError(w, http.StatusForbidden, id.user+" may not publish to "+dynsec.ControlTopic)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxControlBody))
	if err != nil {
		httpError(w, http.StatusBadRequest, "the request is over 1 MiB")
		return
	}
	var req struct {
		Commands []struct {
			Command string `json:"command"`
		} `json:"commands"`
	}
	if json.Unmarshal(body, &req) != nil || len(req.Commands) == 0 {
		httpError(w, http.StatusBadRequest, `send {"commands": [{"command": ...}, ...]} as mosquitto_ctrl does`)
		return
	}
	names := make([]string, 0, len(req.Commands))
	for _, c := range req.Commands {
		names = append(names, c.Command)
	}
	// the commands' names only: a request may carry a password
	i.opts.Logger.Info("inspector dynsec", "user", id.user, "commands", strings.Join(names, ","))
	resp := i.opts.Control(body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(resp)
}

// handleDynsecCheck explains which role and ACL decide an access, as
// `mqtls dynsec check` does.
func (i *Inspector) handleDynsecCheck(w http.ResponseWriter, r *http.Request, id identity) {
	if i.opts.Explain == nil {
		httpError(w, http.StatusNotFound, "this broker has no dynamic security plugin")
		return
	}
	if !i.may(id, dynsec.ControlTopic, dynsec.PublishSend) {
		httpError(w, http.StatusForbidden, id.user+" may not publish to "+dynsec.ControlTopic)
		return
	}
	q := r.URL.Query()
	access, err := dynsec.ParseAccess(q.Get("access"))
	if err != nil {
		httpError(w, http.StatusBadRequest, "access must be pub, sub, recv or unsub")
		return
	}
	check := topic.ValidName
	if access == dynsec.Subscribe || access == dynsec.Unsubscribe {
		check = topic.ValidFilter
	}
	if err := check(q.Get("topic")); err != nil {
		httpError(w, http.StatusBadRequest, "topic "+q.Get("topic")+": "+err.Error())
		return
	}
	allow, text := i.opts.Explain(q.Get("username"), q.Get("clientid"), q.Get("topic"), access)
	writeJSON(w, map[string]any{"allow": allow, "explanation": text})
}

// handleDynsecCerts answers, for {"usernames": [...]}, whether the broker's
// PKI holds a certificate with each name as CN: {"certs": {NAME: STATE}}.
func (i *Inspector) handleDynsecCerts(w http.ResponseWriter, r *http.Request, id identity) {
	if i.opts.CertStatus == nil {
		httpError(w, http.StatusNotFound, "this broker knows no PKI: set enroll_pki DIR to see the clients' certificates")
		return
	}
	if !i.may(id, dynsec.ControlTopic, dynsec.PublishSend) {
		httpError(w, http.StatusForbidden, id.user+" may not publish to "+dynsec.ControlTopic)
		return
	}
	var req struct {
		Usernames []string `json:"usernames"`
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxControlBody))
	if err != nil {
		httpError(w, http.StatusBadRequest, "the request is over 1 MiB")
		return
	}
	if json.Unmarshal(body, &req) != nil {
		httpError(w, http.StatusBadRequest, `send {"usernames": ["NAME", ...]}`)
		return
	}
	states, err := i.opts.CertStatus(req.Usernames)
	if err != nil {
		i.opts.Logger.Warn("inspector: certificate states: " + err.Error())
		httpError(w, http.StatusInternalServerError, "the PKI cannot be read: "+err.Error())
		return
	}
	writeJSON(w, map[string]any{"certs": states})
}
