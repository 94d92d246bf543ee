package client

import "sync"

// sequencer puts debug lines and message deliveries in one order, on one
// goroutine. The tracer queues a line per packet and a delivery slot where
// libmosquitto would call on_message (after receiving a QoS 0 PUBLISH, after
// sending the PUBACK of a QoS 1 one, after sending the PUBCOMP of a QoS 2
// one); the library's message callback fills the slot with the message.
type sequencer struct {
	out   func(string)
	deliv func(Message)
	halt  *halt

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []entry
	byMid   map[uint16][]Message
	qos0    []Message
	closing bool
	done    chan struct{}
}

type entry struct {
	line string
	// in marks a line about receiving: a received packet or the answer to
	// one. Once halted, such lines and the delivery slots are dropped.
	in   bool
	slot bool
	mid  uint16 // 0: the next QoS 0 message
	// haltHere halts when the queue reaches this point (mosquitto_sub -E
	// disconnects in its SUBACK callback).
	haltHere bool
}

func newSequencer(out func(string), deliver func(Message), h *halt) *sequencer {
	s := &sequencer{out: out, deliv: deliver, halt: h, byMid: map[uint16][]Message{}, done: make(chan struct{})}
	s.cond = sync.NewCond(&s.mu)
	go s.run()
	return s
}

// line queues a line about a sent packet; lineIn one about receiving.
func (s *sequencer) line(l string)   { s.push(entry{line: l}) }
func (s *sequencer) lineIn(l string) { s.push(entry{line: l, in: true}) }

// deliver queues the delivery of the message with this mid (0: QoS 0).
func (s *sequencer) deliver(mid uint16) { s.push(entry{slot: true, in: true, mid: mid}) }

// haltHere queues a halt.
func (s *sequencer) haltHere() { s.push(entry{haltHere: true}) }

func (s *sequencer) push(e entry) {
	s.mu.Lock()
	s.queue = append(s.queue, e)
	s.mu.Unlock()
	s.cond.Broadcast()
}

// arrive hands over a message received by the library.
func (s *sequencer) arrive(m Message) {
	s.mu.Lock()
	if m.QoS == 0 {
		s.qos0 = append(s.qos0, m)
	} else {
		s.byMid[m.Mid] = append(s.byMid[m.Mid], m)
	}
	s.mu.Unlock()
	s.cond.Broadcast()
}

// close lets the queue drain and waits for it; slots still empty are dropped.
func (s *sequencer) close() {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.cond.Broadcast()
	<-s.done
}

func (s *sequencer) take(e entry) (Message, bool) {
	if e.mid == 0 {
		if len(s.qos0) > 0 {
			m := s.qos0[0]
			s.qos0 = s.qos0[1:]
			return m, true
		}
		return Message{}, false
	}
	if q := s.byMid[e.mid]; len(q) > 0 {
		m := q[0]
		if len(q) == 1 {
			delete(s.byMid, e.mid)
		} else {
			s.byMid[e.mid] = q[1:]
		}
		return m, true
	}
	return Message{}, false
}

func (s *sequencer) run() {
	defer close(s.done)
	s.mu.Lock()
	for {
		for len(s.queue) == 0 && !s.closing {
			s.cond.Wait()
		}
		if len(s.queue) == 0 {
			s.mu.Unlock()
			return
		}
		e := s.queue[0]
		s.queue = s.queue[1:]
		if e.haltHere {
			s.halt.stop()
			continue
		}
		if e.in && s.halt.stopped() {
			// libmosquitto reads nothing more once the client disconnects
			// from a callback: what came after is not reported.
			if e.slot {
				s.take(e)
			}
			continue
		}
		if !e.slot {
			s.mu.Unlock()
			s.out(e.line)
			s.mu.Lock()
			continue
		}
		m, ok := s.take(e)
		for !ok && !s.closing {
			s.cond.Wait()
			m, ok = s.take(e)
		}
		if ok {
			s.mu.Unlock()
			s.deliv(m)
			s.mu.Lock()
		}
	}
}
