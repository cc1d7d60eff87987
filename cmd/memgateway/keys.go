package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/store"
)

// keysFlags locate the database, as serve does.
type keysFlags struct {
	config, dataDir string
}

// keysCmd manages per-user API keys directly in the configured database,
// with or without a gateway running. Whoever can read the config (and so
// reach the database) holds the master key's rights: that is who mints.
func keysCmd(stdout, stderr io.Writer) *cobra.Command {
	var f keysFlags
	c := &cobra.Command{
		Use:   "keys",
		Short: "create, list and revoke per-user API keys (in the configured database)",
		Long: `Manage per-user API keys. The commands work on the database of the
config (general_settings.database_url; without one, the SQLite file in
--data-dir), beside a running gateway or without one. A key is shown once,
when it is created; the database keeps only its SHA-256.

Running gateways cache keys: a revoked key stops working within 2 seconds (30 at most).`,
	}
	pf := c.PersistentFlags()
	pf.StringVar(&f.config, "config", "", "gateway config file (for database_url)")
	pf.StringVar(&f.dataDir, "data-dir", ".memproxy", "directory of the embedded database")
	c.AddCommand(keysCreateCmd(&f, stdout, stderr), keysListCmd(&f, stdout), keysRevokeCmd(&f, stdout))
	return c
}

// openKeyStore opens the database the config names (creating the
// embedded one if needed: minting a key may come before the first serve).
func openKeyStore(ctx context.Context, f *keysFlags) (store.DB, error) {
	return openStore(ctx, f.config, f.dataDir, true)
}

func keysCreateCmd(f *keysFlags, stdout, stderr io.Writer) *cobra.Command {
	var (
		spec   auth.KeyRecord
		models string
		budget float64
	)
	c := &cobra.Command{
		Use:   "create --user USER [--project P] [--models a,b] [--rpm N] [--tpm N] [--max-budget USD [--budget-period 30d]]",
		Short: "mint a key for a user and print it (once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if models != "" {
				for m := range strings.SplitSeq(models, ",") {
					spec.Models = append(spec.Models, strings.TrimSpace(m))
				}
			}
			if cmd.Flags().Changed("max-budget") {
				spec.MaxBudget = &budget
			}
			probe := spec // checked before the database is opened; Mint sets the id
			probe.ID = "key_probe"
			if err := probe.Validate(); err != nil {
				return err
			}
			db, err := openKeyStore(cmd.Context(), f)
			if err != nil {
				return err
			}
			defer db.Close()
			// The CLI holds the database, so it mints as the master key would.
			key, rec, err := auth.Mint(cmd.Context(), db, auth.Principal{Admin: true}, spec, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "id:  %s\nkey: %s\n", rec.ID, key)
			fmt.Fprintln(stderr, "Store the key now: it is not shown again. Send it as 'Authorization: Bearer <key>' or 'x-api-key'.")
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&spec.User, "user", "", "the key's user (required): every request made with it is this user's")
	fl.StringVar(&spec.Project, "project", "", "restrict the key to this project")
	fl.StringVar(&models, "models", "", "comma-separated model names the key may use (default: all)")
	fl.Int64Var(&spec.RPM, "rpm", 0, "requests a minute (0: no limit; stored for the limits work)")
	fl.Int64Var(&spec.TPM, "tpm", 0, "tokens a minute (0: no limit; stored for the limits work)")
	fl.Float64Var(&budget, "max-budget", 0, "spend cap in USD (stored for the limits work)")
	fl.StringVar(&spec.BudgetPeriod, "budget-period", "", "period of --max-budget, such as 30d, 12h or 1mo (default: the key's life)")
	_ = c.MarkFlagRequired("user")
	return c
}

// keyJSON is one key as keys list --json prints it (never its secret).
type keyJSON struct {
	ID           string     `json:"id"`
	User         string     `json:"user"`
	Project      string     `json:"project,omitempty"`
	Models       []string   `json:"models,omitempty"`
	RPM          int64      `json:"rpm,omitempty"`
	TPM          int64      `json:"tpm,omitempty"`
	MaxBudget    *float64   `json:"max_budget,omitempty"`
	BudgetPeriod string     `json:"budget_period,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	LastUsedAt   *time.Time `json:"last_used_at"`
	RevokedAt    *time.Time `json:"revoked_at"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func keysListCmd(f *keysFlags, stdout io.Writer) *cobra.Command {
	var user string
	var asJSON bool
	c := &cobra.Command{
		Use:   "list [--user USER]",
		Short: "list keys (never their secrets), revoked ones included",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := openKeyStore(cmd.Context(), f)
			if err != nil {
				return err
			}
			defer db.Close()
			recs, err := db.ListKeys(cmd.Context(), auth.KeyFilter{User: user})
			if err != nil {
				return err
			}
			if asJSON {
				out := make([]keyJSON, len(recs))
				for i, r := range recs {
					out[i] = keyJSON{ID: r.ID, User: r.User, Project: r.Project, Models: r.Models, RPM: r.RPM, TPM: r.TPM,
						MaxBudget: r.MaxBudget, BudgetPeriod: r.BudgetPeriod, CreatedAt: r.CreatedAt,
						LastUsedAt: timePtr(r.LastUsedAt), RevokedAt: timePtr(r.RevokedAt)}
				}
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tUSER\tPROJECT\tMODELS\tLIMITS\tCREATED\tLAST USED\tREVOKED")
			for _, r := range recs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.User, orAll(r.Project),
					orAll(strings.Join(r.Models, ",")), limits(r), when(r.CreatedAt, "-"),
					when(r.LastUsedAt, "never"), when(r.RevokedAt, "-"))
			}
			return tw.Flush()
		},
	}
	c.Flags().StringVar(&user, "user", "", "only this user's keys")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON for scripts (revoked_at and last_used_at null when never)")
	c.Example = `  memgateway keys list --user alice
  memgateway keys list --json | jq -r '.[] | select(.revoked_at == null) | .id'`
	return c
}

func keysRevokeCmd(f *keysFlags, stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "revoke a key by its id (running gateways refuse it within 2s)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := openKeyStore(cmd.Context(), f)
			if err != nil {
				return err
			}
			defer db.Close()
			if err := db.RevokeKey(cmd.Context(), args[0], time.Now().UTC()); err != nil {
				if errors.Is(err, auth.ErrKeyNotFound) {
					return fmt.Errorf("no key with id %q", args[0])
				}
				return err
			}
			fmt.Fprintf(stdout, "revoked %s\n", args[0])
			return nil
		},
	}
}

func orAll(s string) string {
	if s == "" {
		return "*"
	}
	return s
}

func when(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return t.UTC().Format(time.RFC3339)
}

// limits renders a key's stored limits, "-" when it has none.
func limits(r auth.KeyRecord) string {
	var parts []string
	if r.RPM > 0 {
		parts = append(parts, "rpm="+strconv.FormatInt(r.RPM, 10))
	}
	if r.TPM > 0 {
		parts = append(parts, "tpm="+strconv.FormatInt(r.TPM, 10))
	}
	if r.MaxBudget != nil {
		b := "budget=$" + strconv.FormatFloat(*r.MaxBudget, 'f', -1, 64)
		if r.BudgetPeriod != "" {
			b += "/" + r.BudgetPeriod
		}
		parts = append(parts, b)
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}
