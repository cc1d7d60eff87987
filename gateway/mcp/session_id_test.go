package mcp

import "testing"

func TestSessionSigner(t *testing.T) {
	a, b := sessionSigner{key: []byte("k1")}, sessionSigner{key: []byte("k2")}
	id := a.mint("alice")
	flip := "0"
	if id[0] == '0' {
		flip = "1" // a tampered id must differ from the real one
	}
	if !a.verify("alice", id) || !(sessionSigner{key: []byte("k1")}).verify("alice", id) {
		t.Fatalf("a replica with the key refused %q", id)
	}
	for name, ok := range map[string]bool{
		"other caller": a.verify("bob", id),
		"other key":    b.verify("alice", id),
		"tampered":     a.verify("alice", flip+id[1:]),
		"unsigned":     a.verify("alice", id[:2*nonceBytes]),
		"random text":  a.verify("alice", "QMUT42JY2R26SSCO64BNLL23I2"),
	} {
		if ok {
			t.Errorf("%s: verified", name)
		}
	}
}
