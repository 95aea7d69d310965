"""Versioned data shipped with the tool: label schemas, label maps, prompts, sample documents."""
