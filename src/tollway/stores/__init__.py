"""Stores: durable state behind small protocols, one module per kind."""
