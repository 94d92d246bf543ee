package enroll

// Group commit of new devices.
//
// An enrollment's disk work is three syncs: its index line, the PKI
// folder's file system (its certificate file), and the dynsec file (its
// client). Each is grouped with the concurrent requests', but when the three
// groups form on their own, each stage's fsyncs compete on the file
// system's journal with the other two stages' and the groups stay small. So
// the requests that have done their CPU work (checks, signing: ca.Prepare)
// queue here, and one batch at a time takes all of them: one index append
// and sync for the batch, the certificate files, then the PKI folder's sync
// and one dynsec save with every client of the batch, at the same time. The
// order of each request's steps is the one a single enrollment has (index
// line synced, certificate file, then the dynsec client), so a cut anywhere
// leaves what a cut single enrollment leaves, and every request is answered
// only after the batch's syncs.

import (
	"encoding/json"
	"fmt"
	"strings"

	"mqtls/ca"
	"mqtls/dynsec"
)

// maxBatch bounds the requests one batch commits (one dynsec request).
const maxBatch = 256

// job is one new device's commit.
type job struct {
	p      *ca.Prepared
	client dynsec.NewClient
	// issueErr is the index line's or the files' error; clientErr the
	// dynsec client's; syncErr the PKI folder's sync.
	issueErr, clientErr, syncErr error
	done                         chan struct{}
}

// commit queues j and returns when its batch is done (see above).
func (s *Service) commit(j *job) {
	j.done = make(chan struct{})
	s.bmu.Lock()
	s.queue = append(s.queue, j)
	lead := !s.leading
	s.leading = true
	s.bmu.Unlock()
	if lead {
		s.lead()
	}
	<-j.done
}

// lead commits one batch, then hands the next one, if any, to a goroutine
// of its own, so that the caller, whose request was in this batch, is
// answered now.
func (s *Service) lead() {
	s.bmu.Lock()
	n := min(len(s.queue), maxBatch)
	b := s.queue[:n:n]
	s.queue = s.queue[n:]
	s.bmu.Unlock()
	s.runBatch(b)
	s.bmu.Lock()
	if len(s.queue) > 0 {
		go s.lead()
	} else {
		s.leading = false
	}
	s.bmu.Unlock()
}

func (s *Service) runBatch(b []*job) {
	defer func() {
		for _, j := range b {
			close(j.done)
		}
	}()
	ps := make([]*ca.Prepared, len(b))
	for i, j := range b {
		ps[i] = j.p
	}
	var ok []*job
	for i, err := range s.cfg.CA.Commit(ps) {
		if b[i].issueErr = err; err == nil {
			ok = append(ok, b[i])
		}
	}
	if len(ok) == 0 {
		return
	}
	synced := make(chan error, 1)
	go func() { synced <- s.durable() }()
	clients := make([]dynsec.NewClient, len(ok))
	for i, j := range ok {
		clients[i] = j.client
	}
	errs := createClients(s.cfg.Store, clients)
	serr := <-synced
	for i, j := range ok {
		j.clientErr, j.syncErr = errs[i], serr
	}
}

// createClients creates the clients in one dynsec request (one save of the
// file for all of them) and returns each one's error.
func createClients(st *dynsec.Store, cs []dynsec.NewClient) []error {
	errs := make([]error, len(cs))
	fill := func(err error) []error {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		return errs
	}
	var cmds []json.RawMessage
	for _, c := range cs {
		var one struct{ Commands []json.RawMessage }
		if err := json.Unmarshal(c.Request(), &one); err != nil || len(one.Commands) != 1 {
			return fill(fmt.Errorf("the createClient request of %s: %v", c.Username, err))
		}
		cmds = append(cmds, one.Commands[0])
	}
	payload, err := json.Marshal(struct {
		Commands []json.RawMessage `json:"commands"`
	}{cmds})
	if err != nil {
		return fill(err)
	}
	out, saveErr := st.Exec(payload)
	var resp struct {
		Responses []struct{ Command, Error string }
	}
	if err := json.Unmarshal(out, &resp); err != nil || len(resp.Responses) != len(cs) {
		return fill(fmt.Errorf("dynsec answered %d of %d createClient commands (%v)", len(resp.Responses), len(cs), err))
	}
	for i, r := range resp.Responses {
		if r.Error != "" {
			errs[i] = &dynsec.CommandError{Command: r.Command, Message: r.Error}
		}
	}
	if saveErr != nil {
		saveErr = fmt.Errorf("save the dynsec file: %w", saveErr)
		if err := deleteCreated(st, cs, errs); err != nil {
			saveErr = fmt.Errorf("%w; deleting the clients again failed too: %v", saveErr, err)
		}
		return fill(saveErr)
	}
	return errs
}

// deleteCreated deletes the clients of cs whose createClient succeeded
// (errs[i] nil) but whose save failed, in one request: the broker's memory
// goes back to what the file holds, so that none of them logs in or is
// written out by a later save while its certificate is revoked (the
// caller revokes it), and the device's retry creates it again. The
// deletion's own save may fail too (the file is still unwritable): the
// file then holds what it held before the batch, which is also what the
// memory holds.
func deleteCreated(st *dynsec.Store, cs []dynsec.NewClient, errs []error) error {
	var cmds []string
	for i, c := range cs {
		if errs[i] == nil {
			cmds = append(cmds, `{"command":"deleteClient","username":`+jsonString(c.Username)+`}`)
		}
	}
	if len(cmds) == 0 {
		return nil
	}
	out, _ := st.Exec([]byte(`{"commands":[` + strings.Join(cmds, ",") + `]}`))
	var resp struct {
		Responses []struct{ Command, Error string }
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		return fmt.Errorf("the deleteClient answer: %w", err)
	}
	for _, r := range resp.Responses {
		if r.Error != "" {
			return &dynsec.CommandError{Command: r.Command, Message: r.Error}
		}
	}
	return nil
}
