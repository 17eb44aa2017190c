"""fmsearch over HTTP: a FastAPI app that fans queries out to the shards of one or more indexes."""
