package g711_test

import (
	"encoding/base64"
	"fmt"

	"github.com/voicegate/voicegate/audio/g711"
)

// A Twilio media message carries base64 μ-law; the reply goes back the same
// way. Both buffers are kept and reused from one message to the next.
func Example() {
	var (
		codes   []byte
		samples []int16
	)
	payload := "/wB/gA==" // as in {"event":"media","media":{"payload":"/wB/gA=="}}

	codes, err := base64.StdEncoding.AppendDecode(codes[:0], []byte(payload))
	if err != nil {
		panic(err)
	}
	samples = g711.DecodeMuLaw(samples[:0], codes)
	fmt.Println(samples)

	codes = g711.EncodeMuLaw(codes[:0], []int16{0, -32768, 100, 32767})
	fmt.Println(base64.StdEncoding.EncodeToString(codes), g711.Format)
	// Output:
	// [0 -32124 0 32124]
	// /wDygA== 8000Hz/mono
}
