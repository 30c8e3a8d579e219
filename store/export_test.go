package store

// IngestScript is the ingest script's source, for tests that run it raw.
func IngestScript() string { return ingestLua }
