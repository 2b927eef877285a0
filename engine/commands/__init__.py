"""The command line and its subcommands; they call the engine only through its public modules."""
