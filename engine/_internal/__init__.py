"""Private machinery: YAML reading, the durable-rules wrapper, helpers. Not a public API."""
