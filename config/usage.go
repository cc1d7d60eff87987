package config

// UsageSettings is memproxy's usage block: how the journals in the data
// directory (usage rows and memory write-backs) are made durable.
type UsageSettings struct {
	// Fsync says when journaled records are fsynced, against a power
	// loss: "always" (before the request completes), "batch" (every
	// 200 ms, the default) or "never" (left to the kernel). Every mode
	// survives a crash of the gateway process: records are written to the
	// file before the request completes.
	Fsync string `yaml:"fsync"`
}

func (u *UsageSettings) validate(d *decoder) {
	switch u.Fsync {
	case "":
		u.Fsync = "batch"
	case "always", "batch", "never":
	default:
		d.fail("usage.fsync", `must be "always", "batch" or "never", got %q`, u.Fsync)
	}
}
