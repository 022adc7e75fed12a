package client_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/voicegate/voicegate/client"
	"github.com/voicegate/voicegate/gateway/protocol"
)

// A typed turn: dial, send text, print the reply's text as it streams, and
// close once the reply is done.
func Example() {
	done := make(chan struct{}, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess, err := client.Dial(ctx, client.Config{
		URL:      "ws://127.0.0.1:8080/ws",
		TextOnly: true,
		Handler: func(ev client.Event) {
			switch e := ev.(type) {
			case *protocol.TextDelta:
				fmt.Print(e.Delta)
			case *protocol.ResponseDone:
				fmt.Println()
				done <- struct{}{}
			case *client.Disconnected:
				log.Printf("reconnecting in %v: %v", e.Retry, e.Err)
			}
		},
	})
	if code, ok := client.CodeOf(err); ok && code == protocol.CodeUnauthorized {
		log.Fatal("the gateway wants an API key (Config.APIKey)")
	}
	if err != nil {
		log.Fatal(err)
	}
	defer sess.Close()
	if err := sess.SendText("hello"); err != nil {
		log.Fatal(err)
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}
