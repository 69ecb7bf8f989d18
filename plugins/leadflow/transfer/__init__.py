"""Transfers of sales-ready leads to sales systems: definitions, runs, the ledger, adapters."""
