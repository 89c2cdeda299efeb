"""What ctrlops knows about a server: facts gathered in one round trip."""
