package main

import (
	"fmt"
	"io"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/memproxy/memproxy/gateway"
)

// memoryCmd groups the commands that work on stored memories.
func memoryCmd(stdout, stderr io.Writer) *cobra.Command {
	c := &cobra.Command{Use: "memory", Short: "work on the stored memories (reindex)"}
	c.AddCommand(reindexCmd(stdout, stderr))
	return c
}

// reindexCmd embeds the memories that lack a vector of the configured
// embedding model.
func reindexCmd(stdout, stderr io.Writer) *cobra.Command {
	var configPath, dataDir string
	var batch int
	c := &cobra.Command{
		Use:   "reindex [--config FILE] [--data-dir DIR] [--batch 64]",
		Short: "embed the memories that have no vector of context_retrieval.embedding_model",
		Long: `Embed, batch by batch, every active memory that has no vector of the
configured embedding model and size: memories stored while the embedding
upstream failed, and all of them after embedding_model or
embedding_dimensions changed (until then hybrid search finds those by
their words only: vectors of two models are never compared).

Each batch is one call through the config's model_list, recorded in the
usage log (purpose memory_embedding). Stopping is safe: the next run
resumes with the memories still missing. It may run while the gateway
serves the same database.

On a terminal, progress is one line redrawn in place: a bar, the
percentage, the rate and the time left. Otherwise (a pipe, a log) it is
one line per batch: "reindex: DONE/TOTAL memories embedded (model M, N
values)".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configPath)
			if err != nil {
				return err
			}
			bar := newReindexProgress(stdout)
			n, err := gateway.ReindexMemory(cmd.Context(), cfg, gateway.ReindexOptions{
				DataDir: dataDir, Batch: batch,
				Logger:   slog.New(slog.NewTextHandler(stderr, nil)),
				Progress: bar.update,
			})
			bar.finish()
			if err != nil {
				return fmt.Errorf("reindex stopped after %d memories (run it again to resume): %w", n, err)
			}
			fmt.Fprintf(stdout, "reindex: done, %d memories embedded\n", n)
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&configPath, "config", "", "gateway config file (embedding_model, model_list, database_url)")
	fl.StringVar(&dataDir, "data-dir", ".memproxy", "directory of the embedded database")
	fl.IntVar(&batch, "batch", 64, "memories per embedding call")
	return c
}
