package postgres

// Hooks for the external tests.

// LexicalBuilds counts the lexical indexes s built from the database.
func LexicalBuilds(s *DB) int64 { return s.lexical.Builds() }

// SetLexicalBudget bounds s's lexical indexes to n bytes.
func SetLexicalBudget(s *DB, n int64) { s.lexical.MaxBytes = n }
