package config

// ToolExecution is the seed's tool_execution block: tools the gateway runs
// itself in the middle of an answer (memory search and get-document, in
// the request's own memory scope).
type ToolExecution struct {
	Enabled bool `yaml:"enabled"`
	// MaxIterations bounds the model ⇄ tool rounds; past it the model is
	// asked once more without tools (default 10).
	MaxIterations int `yaml:"max_iterations"`
	// TimeoutPerTool is in seconds (default 30).
	TimeoutPerTool float64 `yaml:"timeout_per_tool"`
	// MaxResults bounds a memory search's results (default 5).
	MaxResults int `yaml:"max_results"`
	// SupermemoryAPIKey and SupermemoryBaseURL are the seed's: the tools
	// use the memory backend of context_retrieval, so these are accepted
	// and unused (a key here alone does not select Supermemory).
	SupermemoryAPIKey  Secret `yaml:"supermemory_api_key"`
	SupermemoryBaseURL string `yaml:"supermemory_base_url"`
}

func defaultToolExecution() ToolExecution {
	return ToolExecution{MaxIterations: 10, TimeoutPerTool: 30, MaxResults: 5}
}

func (t ToolExecution) validate(d *decoder, memoryOn bool) {
	const p = "tool_execution."
	if t.MaxIterations < 1 || t.MaxIterations > 50 {
		d.fail(p+"max_iterations", "must be between 1 and 50, got %d", t.MaxIterations)
	}
	if t.TimeoutPerTool <= 0 || t.TimeoutPerTool > 600 {
		d.fail(p+"timeout_per_tool", "must be more than 0 and at most 600 seconds, got %v", t.TimeoutPerTool)
	}
	if t.MaxResults < 1 || t.MaxResults > 20 {
		d.fail(p+"max_results", "must be between 1 and 20, got %d", t.MaxResults)
	}
	if t.Enabled && !memoryOn {
		d.fail(p+"enabled", "the memory tools need memory: set context_retrieval.enabled: true")
	}
}
