package mcp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Session ids are signed, so that any replica sharing the session key can
// serve a session another replica opened (after that replica restarted,
// died, or a balancer sent the request elsewhere): "<nonce>.<mac>", with
// mac = HMAC-SHA256(key, caller id || nonce). The memory server keeps no
// state in a session beyond its caller, so a verified id is all a replica
// needs to serve it.
type sessionSigner struct{ key []byte }

const nonceBytes = 16

// mint returns a new session id bound to caller.
func (s sessionSigner) mint(caller string) string {
	n := make([]byte, nonceBytes)
	rand.Read(n) // never fails (crypto/rand)
	nonce := hex.EncodeToString(n)
	return nonce + "." + s.mac(caller, nonce)
}

// verify reports whether id was minted by a holder of the key for caller.
func (s sessionSigner) verify(caller, id string) bool {
	nonce, mac, ok := strings.Cut(id, ".")
	if !ok || len(nonce) != 2*nonceBytes {
		return false
	}
	return hmac.Equal([]byte(mac), []byte(s.mac(caller, nonce)))
}

func (s sessionSigner) mac(caller, nonce string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(caller))
	m.Write([]byte{0})
	m.Write([]byte(nonce))
	return hex.EncodeToString(m.Sum(nil))
}
