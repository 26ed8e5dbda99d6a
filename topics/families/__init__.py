"""Model families: one room each, registered in one place."""
