package device

// The live target: a running broker's $CONTROL/dynamic-security/v1 API,
// one request at a time, through dynsec's control connection.

import (
	"context"
	"fmt"
	"time"

	"mqtls/client"
	"mqtls/dynsec"
)

// liveTimeout bounds the wait for one answer of the control API.
const liveTimeout = 10 * time.Second

type liveTarget struct{ conn *dynsec.Conn }

// Dial connects to a running broker with o (an admin whose roles allow
// $CONTROL/dynamic-security/#) and subscribes to the control API's answers.
func Dial(ctx context.Context, o client.Options) (Target, error) {
	conn, err := dynsec.Dial(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("connect to the broker's control API: %w", err)
	}
	return &liveTarget{conn: conn}, nil
}

func (t *liveTarget) Live() bool   { return true }
func (t *liveTarget) Flush() error { return nil }
func (t *liveTarget) Close() error { return t.conn.Close() }

func (t *liveTarget) Exec(payload []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), liveTimeout)
	defer cancel()
	return t.conn.Exec(ctx, payload)
}
