"""The CDS Hooks 2.0 service (`spinemets serve`): cards from the engine for an EHR, feedback to the board log."""
