package memory

// The labelled pairs NearDuplicateThreshold is measured on, written for
// memproxy. A near-duplicate restates one fact: what a person says again
// in a later turn (other punctuation or case, a preamble such as "for the
// record", a filler word, a synonym, a clause moved). A distinct pair is
// two facts a rules-mode store must keep apart: the same topic with
// another claim, and the same sentence with another value (a port, a
// name, a day) — rules mode cannot know that the new value replaces the
// old; the extraction model decides that —, and one fact against itself
// with a second fact added.

type labelledPair struct {
	a, b string
	near bool
}

var similarityPairs = []labelledPair{
	// Near-duplicates.
	{"For the record: our staging database listens on port 6543.", "for the record, our staging database listens on port 6543", true},
	{"Our staging database listens on port 6543.", "Remember that our staging database listens on port 6543.", true},
	{"Use pnpm, not npm, in the web workspace.", "In the web workspace use pnpm, not npm.", true},
	{"We deploy to production every Friday after the standup.", "we deploy to production every friday, after the standup", true},
	{"The CI runs golangci-lint before the unit tests.", "Note: the CI runs golangci-lint before the unit tests.", true},
	{"Alice owns the billing service.", "Alice owns the billing service, just so you know.", true},
	{"Never commit secrets to the repository; use the vault instead.", "Never commit secrets to the repository, use the vault instead!", true},
	{"The feature flags live in LaunchDarkly under the shop project.", "Feature flags live in LaunchDarkly under the shop project.", true},
	{"Migrations are applied with make migrate ENV=staging.", "Migrations are applied with `make migrate ENV=staging`.", true},
	{"Please always write tests with testify's require package.", "Always write tests with testify's require package.", true},
	{"The release branch is cut on the first Monday of the month.", "The release branch gets cut on the first Monday of the month.", true},
	{"Our Kafka cluster has three brokers in eu-west-1.", "Our Kafka cluster has 3 brokers in eu-west-1.", true},
	{"Bob reviews every change to the payments module.", "Every change to the payments module is reviewed by Bob.", true},
	{"The docs site is built with mkdocs and published from the gh-pages branch.", "The docs site is built with MkDocs and published from the gh-pages branch, by the way.", true},
	{"Log lines must be structured JSON with a request_id field.", "Log lines must be structured JSON and carry a request_id field.", true},
	{"Timeouts for upstream calls are 30 seconds.", "Timeouts for upstream calls are 30 seconds by default.", true},
	{"We use Postgres 16 in production and SQLite in tests.", "We use Postgres 16 in production, and SQLite in the tests.", true},
	{"The mobile app targets iOS 17 and Android 14.", "FYI the mobile app targets iOS 17 and Android 14.", true},
	{"Run the integration tests with go test -tags integration ./...", "run the integration tests with: go test -tags integration ./...", true},
	{"The staging cluster is reset every Sunday at 02:00 UTC.", "Heads up: the staging cluster is reset every Sunday at 02:00 UTC.", true},
	{"Error messages shown to users must never include stack traces.", "Error messages that are shown to users must never include stack traces.", true},
	{"Our API is versioned under /v2 and /v1 is deprecated.", "Our API is versioned under /v2; /v1 is deprecated.", true},
	{"Carol is the on-call lead for the search team this quarter.", "Carol is the on-call lead for the search team this quarter, remember that.", true},
	{"The firmware is flashed with make flash PORT=/dev/ttyUSB0.", "Firmware is flashed using make flash PORT=/dev/ttyUSB0.", true},
	{"Prefer table-driven tests in Go code.", "In Go code, prefer table-driven tests.", true},

	// Distinct: same topic, another claim.
	{"Our staging database listens on port 6543.", "Our staging database is reset every Sunday.", false},
	{"Run the unit tests with go test ./...", "Run the integration tests with go test -tags integration ./...", false},
	{"Alice owns the billing service.", "Alice reviews changes to the billing dashboard.", false},
	{"Use pnpm in the web workspace.", "Use cargo workspaces for the Rust crates.", false},
	{"The CI runs golangci-lint before the unit tests.", "The CI caches Go modules between runs.", false},
	{"We deploy to production every Friday.", "We never deploy to production during a freeze.", false},
	{"Log lines must be structured JSON.", "Metrics are exported in Prometheus format.", false},
	{"The mobile app targets iOS 17.", "The mobile app uses SwiftUI for new screens.", false},
	{"Feature flags live in LaunchDarkly.", "Feature flags must be removed two weeks after launch.", false},
	{"The docs site is built with mkdocs.", "The docs site needs a review from the docs team.", false},
	{"Migrations are applied with make migrate.", "Migrations must be backwards compatible for one release.", false},
	{"Our Kafka cluster has three brokers.", "Our Kafka topics keep messages for seven days.", false},
	{"Error messages shown to users must never include stack traces.", "Error codes are documented in docs/errors.md.", false},
	{"Timeouts for upstream calls are 30 seconds.", "Retries for upstream calls use exponential backoff.", false},
	{"Prefer table-driven tests in Go code.", "Prefer small interfaces in Go code.", false},

	// Distinct: one fact against the same fact with another added (a
	// rules-mode supersede of either by the other would lose a fact).
	{"Our staging database listens on port 6543.", "Our staging database listens on port 6543 and the production database on port 5432.", false},
	{"Use pnpm in the web workspace.", "Use pnpm in the web workspace and yarn in the legacy admin app.", false},
	{"Alice owns the billing service.", "Alice owns the billing service and the invoicing cron jobs.", false},
	{"Deploys need two approvals.", "Deploys need two approvals, and hotfixes need one from the on-call lead.", false},
	{"Run the unit tests with go test ./...", "Run the unit tests with go test ./... and the linters with make lint.", false},
	{"The docs site is built with mkdocs.", "The docs site is built with mkdocs and deployed by a nightly GitHub Actions job.", false},
	{"Timeouts for upstream calls are 30 seconds.", "Timeouts for upstream calls are 30 seconds and retries stop after three attempts.", false},

	// Distinct: the same sentence with another value.
	{"Our staging database listens on port 6543.", "Our staging database listens on port 7000.", false},
	{"Alice owns the billing service.", "Bob owns the billing service.", false},
	{"We deploy to production every Friday.", "We deploy to production every Tuesday.", false},
	{"The mobile app targets iOS 17 and Android 14.", "The mobile app targets iOS 18 and Android 15.", false},
	{"Timeouts for upstream calls are 30 seconds.", "Timeouts for upstream calls are 90 seconds.", false},
	{"We use Postgres 16 in production.", "We use MySQL 8 in production.", false},
	{"The release branch is cut on the first Monday of the month.", "The release branch is cut on the last Thursday of the month.", false},
	{"Carol is the on-call lead for the search team.", "Dave is the on-call lead for the search team.", false},
	{"Our API is versioned under /v2.", "Our API is versioned under /v3.", false},
	{"The staging cluster is reset every Sunday at 02:00 UTC.", "The staging cluster is reset every Saturday at 04:00 UTC.", false},
}
