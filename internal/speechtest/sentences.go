package speechtest

// Requests are assistant-style English requests, the sentences the offline
// end-to-end test says to the gateway and the Piper figures have the
// recogniser hear.
var Requests = []string{
	"what is the weather like today",
	"please turn on the kitchen lights",
	"set a timer for ten minutes",
	"play some music in the living room",
	"what time is it in london",
	"remind me to call my mother tomorrow",
	"how far is the nearest train station",
	"add milk and eggs to my shopping list",
	"what is the capital of france",
	"tell me a joke about computers",
}
