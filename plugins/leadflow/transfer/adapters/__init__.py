"""Sales-system adapters behind one small interface (``leadflow.transfer.adapters.base``)."""
