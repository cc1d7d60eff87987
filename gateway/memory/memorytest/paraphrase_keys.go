package memorytest

// ParaphraseFactKeys are recorded fixtures of what a fact-extraction
// model returns besides each memory of ParaphraseSet: a few alternative
// phrasings and keywords a developer might search with (issue 13, "fact
// keys"). They are indexed with the memory, never shown. Keyed by project,
// then aligned with its Memories.
//
// They were written for this benchmark in the style of such a model's
// output (short, generic, synonyms of the memory's main terms), by the
// author of the queries: the figures measured with them are an estimate
// of what keys can add, to be redone with a real extractor's outputs.
var ParaphraseFactKeys = map[string][][]string{
	"storefront": {
		{"production release process", "how deployments to prod happen", "shipping schedule"},
		{"API port number", "which port the service binds", "HTTPS termination at the load balancer"},
		{"staging environment URL", "test environment address", "nightly data reset"},
		{"feature flags", "flag for unreleased checkout work", "toggle service"},
		{"frontend architecture rule", "where domain code goes", "no logic in UI components"},
		{"styling rules", "no custom CSS files", "design system classes"},
		{"image caching", "CDN cache duration", "static asset invalidation"},
		{"session timeout", "user logged out when idle", "inactivity limit"},
		{"error tracking", "crash reporting with Sentry", "server error pages"},
		{"payment service connection", "mTLS between services", "certificate rotation"},
		{"translations", "supported languages", "i18n message files"},
		{"analytics privacy rule", "no PII in tracking events", "what not to send to Segment"},
	},
	"ledger": {
		{"database migrations", "schema change tool", "how to apply SQL migrations"},
		{"database backups", "backup retention period", "restore from snapshot"},
		{"how to store money", "currency type", "decimal not float for amounts"},
		{"replica lag", "read-after-write consistency", "when to use the primary database"},
		{"connection pooling", "max database connections per pod", "PgBouncer settings"},
		{"soft deletes", "data retention for deleted rows", "purge job"},
		{"audit timestamps", "created and updated time columns", "row modification time"},
		{"primary key type", "ID format", "UUID version"},
		{"analytics database", "where to run reporting queries", "data warehouse"},
		{"query timeouts", "statement timeout", "lock wait limit"},
		{"test data seeding", "local database fixtures", "seed script"},
		{"database owner", "who approves indexes", "DBA contact"},
	},
	"crew": {
		{"platform team lead", "architecture decision maker", "tech lead"},
		{"mobile app owners", "iOS developer", "Android developer"},
		{"daily standup time", "team meeting schedule", "async status updates"},
		{"code review rules", "required approvals", "code owners"},
		{"security contact", "who reviews auth changes", "crypto questions"},
		{"onboarding process", "new joiner buddy", "first weeks for new hires"},
		{"design files", "where to find UI designs", "Figma specs"},
		{"vacation booking", "how to take leave", "holiday calendar"},
		{"on-call schedule", "on-call handover", "rotation day"},
		{"product manager", "roadmap owner", "checkout PM"},
		{"retrospective meeting", "sprint retro schedule", "retro action items"},
		{"contractor access", "external developer permissions", "vendor GitHub team"},
	},
	"pipeline": {
		{"CI configuration", "workflow file location", "GitHub Actions setup"},
		{"canary deployment", "automatic rollback", "deploy on merge"},
		{"flaky tests", "race detector in tests", "quarantine label"},
		{"container image tags", "Docker registry", "image versioning"},
		{"linter configuration", "code formatting check", "golangci-lint rules"},
		{"release notes", "changelog generation", "commit message conventions"},
		{"CI build cache", "clear the cache", "dependency cache key"},
		{"integration test duration", "test containers", "slow tests"},
		{"CI secrets", "Vault access from CI", "no static tokens"},
		{"fuzz testing", "nightly fuzzer", "parser crashes"},
		{"code coverage threshold", "coverage gate", "Codecov report"},
		{"deployment rules", "deploy only from tags", "protected release tags"},
	},
	"workbench": {
		{"local development setup", "run the app locally", "dev environment command"},
		{"code formatting", "Go formatter", "import grouping"},
		{"error handling convention", "wrapping errors", "sentinel error naming"},
		{"protobuf generation", "regenerate gRPC code", "generated files"},
		{"test style", "table-driven tests", "golden files"},
		{"VS Code settings", "IDE setup", "gopls configuration"},
		{"environment variables", "local env file", "dev secrets"},
		{"logging convention", "structured logs", "what not to log"},
		{"commit message format", "conventional commits", "commit subject length"},
		{"debugging", "Delve debugger", "attach debugger from IDE"},
		{"dependency updates", "Renovate schedule", "upgrading libraries"},
		{"mock generation", "mockery", "where mocks live"},
	},
	"nightwatch": {
		{"dashboards", "alerting", "PagerDuty paging"},
		{"Kubernetes cluster", "production infrastructure", "node count and region"},
		{"TLS certificate renewal", "cert-manager", "certificate expiry"},
		{"postmortem process", "incident review deadline", "blameless template"},
		{"secret management", "where secrets are stored", "credentials for apps"},
		{"API rate limit", "requests per minute", "throttling"},
		{"log retention", "log storage", "archived logs"},
		{"incident process", "declare an incident", "incident commander"},
		{"outbound IP addresses", "egress", "NAT gateway IPs for partner allowlists"},
		{"database failover", "high availability", "RDS Multi-AZ"},
		{"server access", "no SSH", "SSM session shell"},
		{"status page", "customer communication during incidents", "outage updates"},
	},
}
