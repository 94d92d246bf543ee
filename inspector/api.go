package inspector

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/dynsec"
	"mqtls/topic"
)

// messageView is a stored message for the payload panel.
type messageView struct {
	N         uint64 `json:"n"`       // the topic's message number
	Payload   []byte `json:"payload"` // base64 in JSON
	Size      int    `json:"size"`
	Truncated bool   `json:"truncated"`
	Time      int64  `json:"time"`
	QoS       byte   `json:"qos"`
	Retain    bool   `json:"retain"`
	Props     props  `json:"props"`
	ClientID  string `json:"clientId"`
	Username  string `json:"username,omitempty"`
	CN        string `json:"cn,omitempty"`
}

type topicView struct {
	summary
	Last   messageView  `json:"last"`
	Prev   *messageView `json:"prev,omitempty"`
	Fields []string     `json:"fields"`
	// Samples are the chart's, one a second, oldest first.
	Samples []sample `json:"samples"`
	// Messages is the history, newest first, without payloads: GET
	// /api/message?name=T&n=N has one with its payload.
	Messages []messageMeta `json:"messages"`
	// Lint is what `mqtls topic lint` says of the topic.
	Lint []finding `json:"lint"`
}

// messageMeta is one message of the history list.
type messageMeta struct {
	N         uint64 `json:"n"`
	Time      int64  `json:"time"`
	QoS       byte   `json:"qos"`
	Retain    bool   `json:"retain"`
	Size      int    `json:"size"`
	Truncated bool   `json:"truncated,omitempty"`
	Preview   string `json:"preview"`
	Binary    bool   `json:"binary,omitempty"`
	ClientID  string `json:"clientId"`
	Username  string `json:"username,omitempty"`
	CN        string `json:"cn,omitempty"`
}

func meta(m *message) messageMeta {
	v := messageMeta{N: m.N, Time: m.Time, QoS: m.QoS, Retain: m.Retain, Size: m.Size, Truncated: len(m.Payload) < m.Size,
		ClientID: m.ClientID, Username: m.Username, CN: m.CN}
	v.Preview, v.Binary = preview(m.Payload)
	return v
}

// find returns the held message number n of the topic, or nil. The caller
// holds st.mu.
func (st *topicState) find(n uint64) *message {
	for k := range st.msgs {
		if st.msgs[k].N == n {
			return &st.msgs[k]
		}
	}
	return nil
}

func view(m *message) messageView {
	return messageView{
		N: m.N, Payload: append([]byte(nil), m.Payload...), Size: m.Size, Truncated: len(m.Payload) < m.Size,
		Time: m.Time, QoS: m.QoS, Retain: m.Retain, Props: m.Props.clone(),
		ClientID: m.ClientID, Username: m.Username, CN: m.CN,
	}
}

// readable returns the held state of a topic id may read, or nil: a topic
// outside the viewer's ACL is answered as one that does not exist.
func (i *Inspector) readable(id identity, name string) *topicState {
	if !i.mayRead(id, name) {
		return nil
	}
	return i.store.lookup(name)
}

func (i *Inspector) handleTopic(w http.ResponseWriter, r *http.Request, id identity) {
	st := i.readable(id, r.URL.Query().Get("name"))
	if st == nil {
		httpError(w, http.StatusNotFound, "no such topic (yet): nothing was published to it since the broker started")
		return
	}
	v := topicView{summary: i.store.summary(st, time.Now().Unix())}
	st.mu.Lock()
	v.Last = view(st.last())
	if pm := st.prev(); pm != nil {
		p := view(pm)
		v.Prev = &p
	}
	v.Fields = slices.Clone(st.hist.fields)
	v.Samples = st.hist.samples()
	v.Messages = make([]messageMeta, 0, len(st.msgs))
	for k := range st.msgs {
		v.Messages = append(v.Messages, meta(st.back(k)))
	}
	st.mu.Unlock()
	v.Lint = i.topicFindings(id, st)
	for k, f := range v.Fields {
		if f == "" {
			v.Fields[k] = "value"
		}
	}
	writeJSON(w, v)
}

// message picks the message a request names: n=N of the history, which=prev
// the one before the last, else the last.
func (st *topicState) message(r *http.Request) (*message, string) {
	q := r.URL.Query()
	if v := q.Get("n"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, "n must be a message number"
		}
		if m := st.find(n); m != nil {
			return m, ""
		}
		return nil, "message " + v + " is no longer held: the topic keeps its last inspector_history messages"
	}
	if pm := st.prev(); pm != nil && q.Get("which") == "prev" {
		return pm, ""
	}
	return st.last(), ""
}

// handleMessage answers one message of a topic's history, with its payload.
func (i *Inspector) handleMessage(w http.ResponseWriter, r *http.Request, id identity) {
	st := i.readable(id, r.URL.Query().Get("name"))
	if st == nil {
		httpError(w, http.StatusNotFound, "no such topic")
		return
	}
	st.mu.Lock()
	m, msg := st.message(r)
	var v messageView
	if m != nil {
		v = view(m)
	}
	st.mu.Unlock()
	if m == nil {
		httpError(w, http.StatusNotFound, msg)
		return
	}
	writeJSON(w, v)
}

// handlePayload downloads the stored payload of a topic: the last message,
// or the one n= or which=prev names.
func (i *Inspector) handlePayload(w http.ResponseWriter, r *http.Request, id identity) {
	name := r.URL.Query().Get("name")
	st := i.readable(id, name)
	if st == nil {
		httpError(w, http.StatusNotFound, "no such topic")
		return
	}
	st.mu.Lock()
	m, msg := st.message(r)
	if m == nil {
		st.mu.Unlock()
		httpError(w, http.StatusNotFound, msg)
		return
	}
	p := append([]byte(nil), m.Payload...)
	size := m.Size
	st.mu.Unlock()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", "attachment; filename="+strconv.Quote(strings.ReplaceAll(name, "/", "_")+".bin"))
	w.Header().Set("X-Payload-Size", strconv.Itoa(size))
	w.Write(p)
}

// clientView is one connected client for the clients panel.
type clientView struct {
	ID            string         `json:"id"`
	Username      string         `json:"username,omitempty"`
	CN            string         `json:"cn,omitempty"`
	Roles         []string       `json:"roles,omitempty"`
	Remote        string         `json:"remote"`
	Listener      string         `json:"listener"`
	Protocol      byte           `json:"protocol"`
	Clean         bool           `json:"clean"`
	Keepalive     uint16         `json:"keepalive"`
	Inflight      int            `json:"inflight"`
	Subscriptions []subscription `json:"subscriptions"`
}

type subscription struct {
	Filter string `json:"filter"`
	QoS    byte   `json:"qos"`
}

// clients lists the connected clients with the subscriptions id may make
// itself: a filter names topics.
func (i *Inspector) clients(id identity) []clientView {
	out := []clientView{}
	for _, cl := range i.srv.Clients.GetAll() {
		if cl.Net.Inline || cl.Closed() {
			continue
		}
		cl.RLock()
		v := clientView{
			ID: cl.ID, Username: string(cl.Properties.Username), Remote: cl.Net.Remote,
			Listener: cl.Net.Listener, Protocol: cl.Properties.ProtocolVersion,
			Clean: cl.Properties.Clean, Keepalive: cl.State.Keepalive,
		}
		cl.RUnlock()
		v.CN = certCN(cl)
		v.Inflight = cl.State.Inflight.Len()
		for f, s := range cl.State.Subscriptions.GetAll() {
			if !i.mayFilter(id, f) {
				continue
			}
			v.Subscriptions = append(v.Subscriptions, subscription{Filter: f, QoS: s.Qos})
		}
		slices.SortFunc(v.Subscriptions, func(a, b subscription) int { return strings.Compare(a.Filter, b.Filter) })
		if i.opts.Roles != nil && v.Username != "" {
			v.Roles = i.opts.Roles(v.Username)
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b clientView) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func (i *Inspector) handleClients(w http.ResponseWriter, _ *http.Request, id identity) {
	writeJSON(w, map[string]any{"clients": i.clients(id), "bridges": i.bridges()})
}

// publishRequest is what the page's publish form sends.
type publishRequest struct {
	Topic         string         `json:"topic"`
	Payload       string         `json:"payload"`
	PayloadBase64 string         `json:"payloadBase64"`
	QoS           byte           `json:"qos"`
	Retain        bool           `json:"retain"`
	ContentType   string         `json:"contentType"`
	User          []userProperty `json:"user"`
}

// maxPublishBody bounds a publish request.
const maxPublishBody = 4 << 20

func (i *Inspector) handlePublish(w http.ResponseWriter, r *http.Request, id identity) {
	var req publishRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxPublishBody)).Decode(&req); err != nil {
		httpError(w, http.StatusBadRequest, "bad publish request: "+err.Error())
		return
	}
	payload := []byte(req.Payload)
	if req.PayloadBase64 != "" {
		p, err := base64.StdEncoding.DecodeString(req.PayloadBase64)
		if err != nil {
			httpError(w, http.StatusBadRequest, "payloadBase64 is not base64")
			return
		}
		payload = p
	}
	if req.QoS > 2 {
		httpError(w, http.StatusBadRequest, "qos must be 0, 1 or 2")
		return
	}
	if code, msg := i.checkTopic(id, req.Topic); code != 0 {
		httpError(w, code, msg)
		return
	}
	if i.opts.Scheme != nil {
		if err := i.opts.Scheme.CheckPublish(req.Topic, req.QoS, req.Retain); err != nil {
			var v *topic.Violation
			msg := err.Error()
			if errors.As(err, &v) {
				msg = v.Detail()
			}
			httpError(w, http.StatusForbidden, "outside the topic scheme: "+msg)
			return
		}
	}
	pk := publishPacket(req.Topic, payload, req.QoS, req.Retain)
	pk.Properties.ContentType = req.ContentType
	for _, u := range req.User {
		pk.Properties.User = append(pk.Properties.User, packets.UserProperty{Key: u.Key, Val: u.Val})
	}
	delivered, err := i.inject(pk)
	if err != nil {
		httpError(w, http.StatusInternalServerError, "publish: "+err.Error())
		return
	}
	if !delivered {
		httpError(w, http.StatusForbidden, "the broker dropped the publish to "+req.Topic+": one of its hooks refused it (the broker log says why)")
		return
	}
	i.opts.Logger.Info("inspector publish", "user", id.user, "topic", req.Topic, "bytes", len(payload), "retain", req.Retain)
	writeJSON(w, map[string]any{"published": req.Topic})
}

// checkTopic applies the topic rules and the ACL to a page publish.
func (i *Inspector) checkTopic(id identity, name string) (int, string) {
	if err := topic.ValidName(name); err != nil {
		return http.StatusBadRequest, "topic " + strconv.Quote(name) + ": " + err.Error()
	}
	if strings.HasPrefix(name, "$") {
		return http.StatusBadRequest, "topics starting with $ belong to the broker; publish there with an MQTT client"
	}
	if !i.may(id, name, dynsec.PublishSend) {
		return http.StatusForbidden, id.user + " may not publish to " + name
	}
	return 0, ""
}

// inject publishes pk as the page and says whether the broker delivered
// it. InjectPacket runs the hooks and the delivery on this goroutine but
// returns nil also when a hook dropped the packet; the tap's count of the
// page's delivered publishes tells. Page publishes are few: one at a time.
func (i *Inspector) inject(pk packets.Packet) (bool, error) {
	i.injectMu.Lock()
	defer i.injectMu.Unlock()
	before := i.tap.pagePublished.Load()
	if err := i.srv.InjectPacket(i.inline, pk); err != nil {
		return false, err
	}
	return i.tap.pagePublished.Load() != before, nil
}

func publishPacket(name string, payload []byte, qos byte, retain bool) packets.Packet {
	return packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos, Retain: retain},
		TopicName:   name,
		Payload:     payload,
		PacketID:    uint16(qos), // unused for the inline client, but must be valid
	}
}

// handleClear clears the retained message of one topic, or of every retained
// topic under a filter.
func (i *Inspector) handleClear(w http.ResponseWriter, r *http.Request, id identity) {
	var req struct {
		Topic  string `json:"topic"`
		Filter string `json:"filter"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		httpError(w, http.StatusBadRequest, "send {\"topic\": ...} or {\"filter\": ...}")
		return
	}
	var names []string
	switch {
	case req.Topic != "" && req.Filter == "":
		names = []string{req.Topic}
	case req.Filter != "" && req.Topic == "":
		if err := topic.ValidFilter(req.Filter); err != nil {
			httpError(w, http.StatusBadRequest, "filter "+strconv.Quote(req.Filter)+": "+err.Error())
			return
		}
		for _, pk := range i.srv.Topics.Messages(req.Filter) {
			// a topic the viewer may not read is not named, cleared or denied
			if i.mayRead(id, pk.TopicName) {
				names = append(names, pk.TopicName)
			}
		}
		slices.Sort(names)
	default:
		httpError(w, http.StatusBadRequest, "give either a topic or a filter")
		return
	}
	cleared, denied := []string{}, []string{}
	for _, n := range names {
		if code, _ := i.checkTopic(id, n); code != 0 {
			denied = append(denied, n)
			continue
		}
		delivered, err := i.inject(publishPacket(n, nil, 0, true))
		if err != nil {
			httpError(w, http.StatusInternalServerError, "clear "+n+": "+err.Error())
			return
		}
		if !delivered {
			denied = append(denied, n)
			continue
		}
		cleared = append(cleared, n)
	}
	if len(names) == 1 && len(denied) == 1 {
		_, msg := i.checkTopic(id, names[0])
		if msg == "" {
			msg = "the broker dropped the clear of " + names[0] + ": one of its hooks refused it (the broker log says why)"
		}
		httpError(w, http.StatusForbidden, msg)
		return
	}
	i.opts.Logger.Info("inspector clear retained", "user", id.user, "cleared", len(cleared), "denied", len(denied))
	writeJSON(w, map[string]any{"cleared": cleared, "denied": denied})
}

// handleKick disconnects a client with reason 0x98 (administrative action).
func (i *Inspector) handleKick(w http.ResponseWriter, r *http.Request, id identity) {
	var req struct {
		ClientID string `json:"clientId"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil || req.ClientID == "" {
		httpError(w, http.StatusBadRequest, "send {\"clientId\": ...}")
		return
	}
	if !i.may(id, dynsec.ControlTopic, dynsec.PublishSend) {
		httpError(w, http.StatusForbidden, id.user+" may not kick clients: that needs write access to "+dynsec.ControlTopic)
		return
	}
	cl, ok := i.srv.Clients.Get(req.ClientID)
	if !ok || cl.Closed() || cl.Net.Inline {
		httpError(w, http.StatusNotFound, "no connected client "+strconv.Quote(req.ClientID))
		return
	}
	// DisconnectClient writes under the client's lock and can wait on a
	// stuck socket: do not hold the request on it.
	go func(cl *mqtt.Client) { _ = i.srv.DisconnectClient(cl, packets.ErrAdministrativeAction) }(cl)
	i.opts.Logger.Info("inspector kick", "user", id.user, "client", req.ClientID)
	writeJSON(w, map[string]any{"kicked": req.ClientID})
}
