package memory

import "time"

// Options configure retrieval, injection and write-back (the seed's
// context_retrieval block). A nil Backend or Enabled false turns memory off.
type Options struct {
	Enabled     bool
	Backend     Backend
	BackendName string
	// Policy derives the scope: "user", "project" or "user_project".
	Policy string
	// Query and Inject are gateway/inject's strategy names.
	Query, Inject string
	MaxResults    int
	// MaxChars bounds the injected block (whole memories dropped first).
	MaxChars int
	// Threshold drops memories scoring below it (0 keeps all).
	Threshold float64
	// Budget bounds retrieval; past it the request goes on without
	// memories (fail-open).
	Budget      time.Duration
	EnabledFor  []string
	DisabledFor []string
	// WriteBack is "off", "user_only" or "exchange".
	WriteBack string
}

// On reports whether memory serves requests for model.
func (o *Options) On(model string) bool {
	if o == nil || !o.Enabled || o.Backend == nil {
		return false
	}
	for _, m := range o.DisabledFor {
		if m == model {
			return false
		}
	}
	if len(o.EnabledFor) == 0 {
		return true
	}
	for _, m := range o.EnabledFor {
		if m == model {
			return true
		}
	}
	return false
}
